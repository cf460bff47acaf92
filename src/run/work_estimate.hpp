// How much arithmetic a call of `run` will do, and how much memory the run will hold, estimated
// from the shapes before anything runs: --max-flops refuses a call past the bound, as
// --max-elements refuses a tensor past its own, and a run the memory cannot hold is refused whole.
#pragma once

#include <optional>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

// The call's tensor shapes with the final bindings, as numbers; nullopt while a dim is symbolic.
class CallSizes {
 public:
  CallSizes(const CallReport& report, const Symbols& symbols) : report_(report), symbols_(symbols) {}

  std::optional<std::vector<double>> argument(const std::string& name) const {
    for (const ResolvedArgument& argument : report_.arguments) {
      if (argument.name == name) return numbers(argument.shape);
    }
    return std::nullopt;
  }
  std::optional<std::vector<double>> output(std::size_t index = 0) const {
    if (index >= report_.outputs.size()) return std::nullopt;
    return numbers(report_.outputs[index].shape);
  }
  // Every argument's and output's elements; nullopt while a dim is symbolic.
  std::optional<double> all_elements() const {
    double total = 0;
    for (const ResolvedArgument& argument : report_.arguments) {
      std::optional<std::vector<double>> dims = numbers(argument.shape);
      if (!dims) return std::nullopt;
      total += elements(*dims);
    }
    for (const NamedOutput& output : report_.outputs) {
      std::optional<std::vector<double>> dims = numbers(output.shape);
      if (!dims) return std::nullopt;
      total += elements(*dims);
    }
    return total;
  }

  static double elements(const std::vector<double>& dims) {
    double count = 1;
    for (double dim : dims) count *= dim;
    return count;
  }

 private:
  std::optional<std::vector<double>> numbers(const Shape& shape) const {
    std::vector<double> dims;
    for (const DimExpr& dim : symbols_.resolve(shape)) {
      if (!dim.is_constant()) return std::nullopt;
      dims.push_back(static_cast<double>(dim.offset));
    }
    return dims;
  }

  const CallReport& report_;
  const Symbols& symbols_;
};

// What an operator's estimate reads: the call, its module (null for a function), its sizes.
struct WorkCall {
  const CallDecl& call;
  const ModuleDecl* module;
  const CallSizes& sizes;
};

// An operator's floating-point operations: its row in the operator table names its function
// (OperatorDef::work), so no estimate switches on operator names; an operator without one
// counts its elements in and out.
using WorkFn = double (*)(const WorkCall& work);
double work_multihead_attention(const WorkCall& work);
double work_transformer_encoder_layer(const WorkCall& work);
double work_transformer_encoder(const WorkCall& work);
double work_transformer_decoder_layer(const WorkCall& work);
double work_transformer_decoder(const WorkCall& work);
double work_transformer(const WorkCall& work);
double work_linear(const WorkCall& work);
double work_conv(const WorkCall& work);
double work_scaled_dot_product_attention(const WorkCall& work);
double work_matrix_product(const WorkCall& work);  // matmul and bmm
double work_einsum(const WorkCall& work);

// Floating-point operations (a multiply-add counts two) of the call's forward pass, dominated
// terms only: the attention products (4*N*L*S*E), projections and feed-forward layers (2 per
// weight per token), matrix products, convolutions; for any other operator its elements in and
// out. A double: the product of large dims passes int64. 0 when a dim is still symbolic (the run
// then refuses the call for that).
double estimated_flops(const Spec& spec, const CallDecl& call, const CallReport& report, const Symbols& symbols);

// Bytes the run holds at its peak: the data of every declared and inline tensor and causal mask,
// every call's outputs (a run keeps them all to the end), every module's parameters, and, once
// more, the inputs and outputs of its largest call, for its kernel's working buffers (converted
// copies, projections, blocks of scores). A double, as estimated_flops. A dim still symbolic
// counts nothing, nor does a tensor over `max_elements`: --max-elements refuses it, with its own
// message, before it is allocated.
double estimated_run_bytes(const Spec& spec, const Report& report, std::int64_t max_elements);

}  // namespace mhacheck
