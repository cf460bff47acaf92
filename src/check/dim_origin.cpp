#include "dim_origin.hpp"
#include "dim_maker.hpp"

#include "checked_call.hpp"

#include <algorithm>
#include <array>

#include "operators.hpp"
#include "ops/registry.hpp"

namespace mhacheck {

std::string input_name(const CallDecl& call, const std::string& argument) {
  auto ref = call.tensors.find(argument);
  return ref != call.tensors.end() && ref->second.kind == ArgRef::Kind::Named ? ref->second.name : std::string();
}

namespace {

// A graph has no cycles, but a chain is walked call by call: a bound keeps long chains linear.
constexpr int kMaxSteps = 16;

std::optional<int> wrapped(const nlohmann::json& dim, int rank) {
  if (!dim.is_number_integer()) return std::nullopt;
  auto value = dim.get<std::int64_t>();
  if (value < -rank || value >= rank) return std::nullopt;
  return static_cast<int>(value < 0 ? value + rank : value);
}

// The input dim that `call`, a move of dims, puts at output dim `dim`; nullopt when `call` is no
// such move (or its arguments are not readable).
std::optional<int> moved_from(const CallDecl& call, int dim, int rank) {
  if (call.op == "contiguous" || call.op == "clone") return dim;
  if (call.op == "transpose") {
    if (!call.arguments.contains("dim0") || !call.arguments.contains("dim1")) return std::nullopt;
    std::optional<int> a = wrapped(call.arguments["dim0"], rank), b = wrapped(call.arguments["dim1"], rank);
    if (!a || !b) return std::nullopt;
    return dim == *a ? *b : dim == *b ? *a : dim;
  }
  if (call.op == "permute") {
    const nlohmann::json& dims = call.arguments.contains("dims") ? call.arguments["dims"] : nlohmann::json();
    if (!dims.is_array() || static_cast<int>(dims.size()) != rank) return std::nullopt;
    return wrapped(dims[static_cast<std::size_t>(dim)], rank);
  }
  return std::nullopt;
}

// The tensor argument of `call` that holds its output's dim `dim` at the same index, for a call
// that keeps that dim (cut_origin); "" when it does not.
std::string kept_from(const Spec& spec, const CallDecl& call, int dim, int rank) {
  static const std::array<const char*, 10> elementwise = {"add", "sub", "mul", "div", "softmax", "log_softmax", "sigmoid", "neg", "exp", "masked_fill"};
  if (keeps_layout(spec, call) || std::find(elementwise.begin(), elementwise.end(), call.op) != elementwise.end()) return "input";
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if (((module && module->type == "Linear") || call.op == "F.linear" || call.op == "linear") && dim != rank - 1) return "input";
  if ((call.op == "matmul" || call.op == "bmm") && rank >= 2) return dim == rank - 1 ? (call.op == "bmm" ? "mat2" : "other") : "input";
  if ((call.op == "scaled_dot_product_attention" || call.op == "F.scaled_dot_product_attention") && rank >= 2) return dim == rank - 1 ? "value" : "query";
  return "";
}

// Whether `call` puts each of its output's dims at the same index of its input ("input"), every
// dim standing for what it stood for: the layout-keeping and elementwise calls and F.normalize,
// not a product or a Linear (which replace a dim).
bool keeps_dims(const Spec& spec, const CallDecl& call, int rank) {
  if (call.op == "normalize" || call.op == "F.normalize") return true;
  if (call.op == "matmul" || call.op == "bmm" || call.op == "scaled_dot_product_attention" || call.op == "F.scaled_dot_product_attention") return false;
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  if ((module && module->type == "Linear") || call.op == "F.linear" || call.op == "linear") return false;
  return kept_from(spec, call, rank - 1, rank) == "input";
}

}  // namespace

bool keeps_layout(const Spec& spec, const CallDecl& call) {
  const ModuleDecl* module = call.module.empty() ? nullptr : spec.find_module(call.module);
  const OperatorDef* row = find_operator(module ? module->type : call.op);
  if (!row) return false;
  for (InferFn same_layout : {infer_layer_norm, infer_same_shape, infer_dropout, infer_relu, infer_gelu, infer_silu, infer_tanh}) {
    if (row->infer == same_layout) return true;
  }
  return false;
}

std::optional<DimMaker> dim_maker(const Spec& spec, const ArgValue& arg, int dim) {
  const int rank = arg.rank();
  DimMaker maker{arg.producer, tensor_name(arg), dim, 0};
  for (int step = 0; step < kMaxSteps && maker.call != nullptr; ++step) {
    const CallDecl& call = *maker.call;
    std::string input;
    if (std::optional<int> from = moved_from(call, maker.dim, rank)) {
      maker.dim = *from;
      input = input_name(call, "input");
    } else {
      std::string argument = kept_from(spec, call, maker.dim, rank);
      if (argument.empty()) return maker;
      input = input_name(call, argument);
    }
    if (input.empty()) return std::nullopt;
    maker.output = input;
    maker.call = producer_of(spec, input, &call);
    ++maker.calls;
  }
  return std::nullopt;
}

std::optional<CutOrigin> cut_origin(const Spec& spec, const ArgValue& arg, int dim) {
  std::optional<DimMaker> maker = dim_maker(spec, arg, dim);
  if (!maker || (maker->call->op != "chunk" && maker->call->op != "split" && maker->call->op != "split_with_sizes")) return std::nullopt;
  std::optional<int> cut = wrapped(maker->call->arguments.value("dim", nlohmann::json(0)), arg.rank());
  if (!cut || *cut != maker->dim) return std::nullopt;
  return CutOrigin{maker->call, maker->output, maker->calls};
}

std::optional<KeyOrigin> key_origin(const Spec& spec, const ArgValue& weights) {
  const int rank = weights.rank();
  if (rank < 2) return std::nullopt;
  const CallDecl* call = weights.producer;
  int dim = rank - 1;
  for (int step = 0; step < kMaxSteps && call != nullptr; ++step) {
    if ((call->op == "matmul" || call->op == "bmm") && dim == rank - 1) {
      // The product's columns: dim -1 of its second operand, the contraction over its dim -2.
      const std::string argument = call->op == "bmm" ? "mat2" : "other";
      std::string transposed = input_name(*call, argument);
      if (transposed.empty()) return std::nullopt;
      int positions = rank - 1, features = rank - 2;
      const CallDecl* made = producer_of(spec, transposed, call);
      for (int moves = 0; moves < kMaxSteps && made != nullptr; ++moves) {
        std::optional<int> from_positions = moved_from(*made, positions, rank), from_features = moved_from(*made, features, rank);
        std::string input = input_name(*made, "input");
        // A call that keeps every dim where it was (F.normalize of XCiT's keys, dropout, a
        // scaling, rotary's mul and add) is passed too: the key is the tensor q, k and v were
        // split from, where the value's layout is comparable with it.
        if (!from_positions && !from_features && keeps_dims(spec, *made, rank)) from_positions = positions, from_features = features;
        if (!from_positions || !from_features || input.empty()) break;
        positions = *from_positions;
        features = *from_features;
        transposed = input;
        made = producer_of(spec, input, made);
      }
      return KeyOrigin{transposed, call, positions, features, rank};
    }
    std::string input;
    if (std::optional<int> from = moved_from(*call, dim, rank)) {
      dim = *from;
      input = input_name(*call, "input");
    } else if (call->op != "matmul" && call->op != "bmm" && kept_from(spec, *call, dim, rank) == "input") {
      input = input_name(*call, "input");
    }
    if (input.empty()) return std::nullopt;
    call = producer_of(spec, input, call);
  }
  return std::nullopt;
}

std::optional<Shape> checked_tensor_shape(const CallContext& ctx, const std::string& name, const CallDecl* before) {
  if (const TensorDecl* declared = ctx.spec.find_tensor(name)) return declared->shape;
  const CallDecl* made = producer_of(ctx.spec, name, before);
  const CallReport* report = made == nullptr ? nullptr : checked_call(ctx, *made);
  if (report == nullptr) return std::nullopt;
  auto at = std::find(made->outputs.begin(), made->outputs.end(), name);
  const auto index = static_cast<std::size_t>(at - made->outputs.begin());
  if (at == made->outputs.end() || index >= report->outputs.size()) return std::nullopt;
  return report->outputs[index].shape;
}

std::optional<ResolvedArgument> checked_argument(const CallContext& ctx, const CallDecl& call, const std::string& argument) {
  const CallReport* report = checked_call(ctx, call);
  const ResolvedArgument* resolved = report == nullptr ? nullptr : checked_argument(*report, argument);
  if (resolved == nullptr) return std::nullopt;
  return *resolved;
}

const CallReport* checked_call(const CallContext& ctx, const CallDecl& call) {
  if (ctx.checked_calls == nullptr) return nullptr;
  const std::vector<CallReport>& reports = *ctx.checked_calls;
  const std::vector<CallDecl>& calls = ctx.spec.calls;
  if (!calls.empty() && &call >= calls.data() && &call < calls.data() + calls.size()) {
    const auto index = static_cast<std::size_t>(&call - calls.data());
    if (index >= reports.size()) return nullptr;  // not checked yet
    if (reports[index].id == call.id) return &reports[index];
  }
  // A call outside spec.calls (a module's inner call) is found by its id.
  auto found = std::find_if(reports.begin(), reports.end(), [&](const CallReport& c) { return c.id == call.id; });
  return found == reports.end() ? nullptr : &*found;
}

const ResolvedArgument* checked_argument(const CallReport& call, const std::string& name) {
  auto found = std::find_if(call.arguments.begin(), call.arguments.end(), [&](const ResolvedArgument& a) { return a.name == name; });
  return found == call.arguments.end() ? nullptr : &*found;
}

const CallDecl* producer_of(const Spec& spec, const std::string& name, const CallDecl* before) {
  if (spec.find_tensor(name) != nullptr) return nullptr;
  if (spec.calls.empty() || before < spec.calls.data() || before >= spec.calls.data() + spec.calls.size()) return nullptr;
  for (const CallDecl* call = before; call != spec.calls.data();) {
    --call;
    if (std::find(call->outputs.begin(), call->outputs.end(), name) != call->outputs.end()) return call;
  }
  return nullptr;
}

DimOrigin dim_origin(const Spec& spec, const ArgValue& arg, int dim) {
  DimOrigin origin{arg.producer, tensor_name(arg), dim, arg.rank()};
  for (int step = 0; step < kMaxSteps && origin.call != nullptr; ++step) {
    std::optional<int> from = moved_from(*origin.call, origin.dim, origin.rank);
    std::string input = input_name(*origin.call, "input");
    if (!from || input.empty()) break;
    origin.dim = *from;
    origin.tensor = input;
    origin.call = producer_of(spec, input, origin.call);
  }
  return origin;
}

}  // namespace mhacheck
