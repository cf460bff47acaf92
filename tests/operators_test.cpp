// The operator table (src/operators.cpp): every row complete, every name found one way, and an
// unknown operator a loud error rather than another operator's behaviour.
#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>

#include "operators.hpp"

using namespace mhacheck;

TEST_CASE("operators: every row of the table is complete", "[operators]") {
  std::set<std::string> names;
  for (const OperatorDef& row : operator_table()) {
    INFO(row.name());
    CHECK(names.insert(row.name()).second);
    CHECK(row.infer != nullptr);
    CHECK(row.forward != nullptr);
    // Named outputs, or (split, chunk) as many as the arguments make, named by the rule.
    CHECK(row.call.outputs.empty() == row.call.variadic_outputs);
    if (row.call.variadic_outputs) CHECK(row.call.last_output_flag.empty());
    REQUIRE_FALSE(row.call.arguments.empty());
    bool has_tensor = false;
    bool has_sizes = false;  // a constructor (torch.ones, arange) makes its tensor from sizes alone
    for (const ArgSchema& argument : row.call.arguments) {
      has_tensor = has_tensor || row.call.is_tensor(argument) || argument.kind == ArgKind::TensorList;
      has_sizes = has_sizes || (argument.required && (argument.kind == ArgKind::SizeList || argument.kind == ArgKind::Size));
    }
    CHECK((has_tensor || has_sizes));
    if (!row.call.last_output_flag.empty()) CHECK(row.call.argument(row.call.last_output_flag) != nullptr);
    if (row.attn_mask_layout != nullptr) CHECK(row.call.argument("attn_mask") != nullptr);
    CHECK(row.call.module == row.is_module());
    if (row.is_module()) {
      CHECK(row.display == "nn." + row.name());
      CHECK(row.constructor->type == row.name());
      CHECK(row.parameters != nullptr);
      CHECK(row.initial != nullptr);
      // Some parameter name, its own or a submodule's, so that load_state_dict's "unexpected" works.
      CHECK(row.own_parameters.size() + row.submodules.size() > 0);
      CHECK_FALSE(row.mask_true_attends);
    } else {
      CHECK((row.display == "F." + row.name() || row.display == "torch." + row.name() || row.display == "Tensor." + row.name() ||
             row.display == "Tensor.__" + row.name() + "__" || row.display == "torch.linalg." + row.name()));  // x[...] is Tensor.__getitem__
      CHECK(row.parameters == nullptr);
      CHECK(row.initial == nullptr);
      CHECK(row.own_parameters.empty());
      CHECK(row.submodules.empty());
    }
    for (const Submodule& submodule : row.submodules) {
      const OperatorDef* child = find_operator(submodule.type);
      REQUIRE(child != nullptr);
      CHECK(child->is_module());
    }
  }
}

TEST_CASE("operators: schema lookups and name lists come from the one table", "[operators]") {
  std::size_t modules = 0, functions = 0;
  for (const OperatorDef& row : operator_table()) {
    CHECK(find_operator_schema(row.name()) == &row.call);
    if (row.is_module()) {
      ++modules;
      CHECK(find_module_schema(row.name()) == &*row.constructor);
    } else {
      ++functions;
      CHECK(find_module_schema(row.name()) == nullptr);
    }
  }
  CHECK(module_type_names().size() == modules);
  CHECK(function_names().size() == functions);
}

TEST_CASE("operators: the operators that multiply matrices estimate their work in their own row", "[operators]") {
  // --max-flops: the others count their elements in and out.
  std::set<std::string> multiplying = {"MultiheadAttention", "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
                                       "TransformerDecoder", "Transformer", "Linear", "Conv1d", "Conv2d",
                                       "scaled_dot_product_attention", "matmul", "bmm", "einsum"};
  for (const OperatorDef& row : operator_table()) {
    INFO(row.name());
    CHECK((row.work != nullptr) == multiplying.contains(row.name()));
  }
}

TEST_CASE("operators: an unknown operator fails loudly", "[operators]") {
  CHECK(find_operator("Conv3d") == nullptr);
  CHECK(find_operator_schema("Conv3d") == nullptr);
  CHECK_THROWS_AS(known_operator("Conv3d"), std::logic_error);
  CHECK_THROWS_AS(module_operator("Conv3d"), std::logic_error);
  CHECK_THROWS_AS(module_operator("softmax"), std::logic_error);
  CHECK_THROWS_AS(possible_parameter("Conv3d", "weight"), std::logic_error);
}

TEST_CASE("operators: every flag of a module says whether it decides shapes", "[operators]") {
  // Pasted text may leave a flag that changes no shape unbound (bias=bias takes PyTorch's
  // default); one that decides shapes must be bound. A new flag cannot leave it unsaid.
  int flags = 0;
  for (const std::string& type : module_type_names()) {
    const ModuleSchema* schema = find_module_schema(type);
    REQUIRE(schema != nullptr);
    for (const OptionSchema& option : schema->options) {
      if (option.kind != OptionKind::Bool) continue;
      INFO(type << "." << option.name);
      CHECK(option.flag_effect != FlagEffect::Unstated);
      ++flags;
    }
  }
  CHECK(flags > 0);
  const ModuleSchema* attention = find_module_schema("MultiheadAttention");
  auto effect = [&](const std::string& name) {
    for (const OptionSchema& option : attention->options) {
      if (option.name == name) return option.flag_effect;
    }
    return FlagEffect::Unstated;
  };
  CHECK(effect("batch_first") == FlagEffect::DecidesShapes);
  CHECK(effect("add_bias_kv") == FlagEffect::DecidesShapes);
  CHECK(effect("bias") == FlagEffect::ChangesNoShape);
}
