// The operator table: one row per operator holding everything check, run and graph know of
// it: its call's schema (and a module's constructor), its shape rule, a module's parameters and
// their initial values, its forward pass, and how the user writes it. Adding an operator is one
// row here plus its own files (docs/architecture.md, "Adding an operator").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "forward/forward_call.hpp"
#include "mhacheck/module_schema.hpp"
#include "ops/registry.hpp"
#include "work_estimate.hpp"

namespace mhacheck {

// A submodule a module holds under `name` ("layers.3" when indexed), for the state_dict names
// any module of a type could have.
struct Submodule {
  std::string name;
  std::string type;
  bool indexed = false;
};

struct OperatorDef {
  OperatorSchema call;                      // the call's arguments and outputs; call.name is the operator's name
  std::string display;                      // as the user writes it: "nn.Linear", "F.softmax", "torch.cat", "Tensor.view"
  InferFn infer;                            // the shape and dtype rules (src/ops/)
  ForwardFn forward;                        // the reference forward pass (src/forward/)
  // Its floating-point operations for --max-flops (src/run/work_estimate.cpp); null: its
  // elements in and out, for operators that only move or touch each element.
  WorkFn work = nullptr;
  // The forward pass computes values (float32 and float64 only), rather than moving them.
  bool arithmetic = false;
  // A bool mask's True means "take part" (F.scaled_dot_product_attention), not "masked".
  bool mask_true_attends = false;
  // How a 3-D attn_mask splits into batch and heads; null: one batch entry and one head.
  AttnMaskLayoutFn attn_mask_layout = nullptr;
  // The order in which a searched fix transposes the tensor arguments one at a time
  // (check/fix_search.cpp); null: as written.
  SingleArgumentOrderFn single_argument_order = nullptr;
  // A module's: its constructor, its parameters, their initial values. Empty for a function.
  std::optional<ModuleSchema> constructor = {};
  ParametersFn parameters = nullptr;
  InitialFn initial = nullptr;
  std::vector<std::string> own_parameters = {};  // every name a module of this type may have itself
  std::vector<Submodule> submodules = {};

  const std::string& name() const { return call.name; }
  bool is_module() const { return constructor.has_value(); }
};

const std::vector<OperatorDef>& operator_table();
// eq, ne, gt, ge, lt, le: elementwise, bool out, every dim kept.
bool is_comparison(std::string_view op);
// By a module's canonical type or a function's name; nullptr when unknown.
const OperatorDef* find_operator(const std::string& name);
// The same for a name the spec reader accepted: an unknown one is a bug, and throws std::logic_error.
const OperatorDef& known_operator(const std::string& name);
const OperatorDef& module_operator(const std::string& type);  // a module's; throws std::logic_error otherwise

}  // namespace mhacheck
