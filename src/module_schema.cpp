#include "mhacheck/module_schema.hpp"

namespace mhacheck {
namespace {

// torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
//     add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None)
const ModuleSchema kMultiheadAttention{
    "MultiheadAttention",
    {
        {"embed_dim", OptionKind::Int, true},
        {"num_heads", OptionKind::Int, true},
        {"dropout", OptionKind::Float, false},
        {"bias", OptionKind::Bool, false},
        {"add_bias_kv", OptionKind::Bool, false},
        {"add_zero_attn", OptionKind::Bool, false},
        {"kdim", OptionKind::OptionalInt, false},
        {"vdim", OptionKind::OptionalInt, false},
        {"batch_first", OptionKind::Bool, false},
        {"device", OptionKind::Device, false},
        {"dtype", OptionKind::DType, false},
    }};

// MultiheadAttention.forward(query, key, value, key_padding_mask=None, need_weights=True,
//     attn_mask=None, average_attn_weights=True, is_causal=False)
const OperatorSchema kMultiheadAttentionCall{
    "MultiheadAttention",
    true,
    {
        {"query", ArgKind::Tensor, true, nullptr},
        {"key", ArgKind::Tensor, true, nullptr},
        {"value", ArgKind::Tensor, true, nullptr},
        {"key_padding_mask", ArgKind::Mask, false, nullptr},
        {"need_weights", ArgKind::Bool, false, true},
        {"attn_mask", ArgKind::Mask, false, nullptr},
        {"average_attn_weights", ArgKind::Bool, false, true},
        {"is_causal", ArgKind::Bool, false, false},
    },
    {"attn_output", "attn_output_weights"},
    "need_weights"};

// F.scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
//     is_causal=False, scale=None, enable_gqa=False)
const OperatorSchema kScaledDotProductAttention{
    "scaled_dot_product_attention",
    false,
    {
        {"query", ArgKind::Tensor, true, nullptr},
        {"key", ArgKind::Tensor, true, nullptr},
        {"value", ArgKind::Tensor, true, nullptr},
        {"attn_mask", ArgKind::Mask, false, nullptr},
        {"dropout_p", ArgKind::Float, false, 0.0},
        {"is_causal", ArgKind::Bool, false, false},
        {"scale", ArgKind::OptionalFloat, false, nullptr},
        {"enable_gqa", ArgKind::Bool, false, false},
    },
    {"output"},
    ""};

// The "glue" between attention layers, as torch's functions (and Tensor methods) take them.
// torch.transpose(input, dim0, dim1)
const OperatorSchema kTranspose{
    "transpose", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim0", ArgKind::Int, true, nullptr}, {"dim1", ArgKind::Int, true, nullptr}},
    {"output"}, ""};
// torch.permute(input, dims)
const OperatorSchema kPermute{
    "permute", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dims", ArgKind::IntList, true, nullptr}}, {"output"}, ""};
// torch.reshape(input, shape); Tensor.view(shape) has the same shape rules.
const OperatorSchema kReshape{
    "reshape", false, {{"input", ArgKind::Tensor, true, nullptr}, {"shape", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
const OperatorSchema kView{
    "view", false, {{"input", ArgKind::Tensor, true, nullptr}, {"shape", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
// torch.unsqueeze(input, dim)
const OperatorSchema kUnsqueeze{
    "unsqueeze", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};
// torch.squeeze(input, dim=None)
const OperatorSchema kSqueeze{
    "squeeze", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::OptionalInt, false, nullptr}}, {"output"}, ""};
// torch.flatten(input, start_dim=0, end_dim=-1)
const OperatorSchema kFlatten{"flatten",
                              false,
                              {{"input", ArgKind::Tensor, true, nullptr},
                               {"start_dim", ArgKind::Int, false, 0},
                               {"end_dim", ArgKind::Int, false, -1}},
                              {"output"},
                              ""};
// torch.add(input, other) and torch.matmul(input, other)
const OperatorSchema kAdd{
    "add", false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
const OperatorSchema kMatmul{
    "matmul", false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
// torch.softmax(input, dim)
const OperatorSchema kSoftmax{
    "softmax", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};

const std::vector<const OperatorSchema*> kOperators = {
    &kMultiheadAttentionCall, &kScaledDotProductAttention, &kTranspose, &kPermute, &kReshape, &kView,
    &kUnsqueeze, &kSqueeze, &kFlatten, &kAdd, &kMatmul, &kSoftmax};

}  // namespace

const ArgSchema* OperatorSchema::argument(const std::string& name) const {
  for (const ArgSchema& candidate : arguments) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

const OperatorSchema* find_operator_schema(const std::string& name) {
  for (const OperatorSchema* schema : kOperators) {
    if (schema->name == name) return schema;
  }
  return nullptr;
}

std::vector<std::string> function_names() {
  std::vector<std::string> names;
  for (const OperatorSchema* schema : kOperators) {
    if (!schema->module) names.push_back(schema->name);
  }
  return names;
}

std::string arg_kind_text(ArgKind kind) {
  switch (kind) {
    case ArgKind::Tensor: return "a tensor";
    case ArgKind::Mask: return "a mask tensor";
    case ArgKind::Bool: return "true or false";
    case ArgKind::Float: return "a number";
    case ArgKind::OptionalFloat: return "a number or null";
    case ArgKind::Int: return "an integer";
    case ArgKind::OptionalInt: return "an integer or null";
    case ArgKind::IntList: return "a list of integers";
    case ArgKind::SizeList: return "a list of sizes (integers or symbol names)";
  }
  return "a value";
}

const ModuleSchema* find_module_schema(const std::string& canonical_type) {
  return canonical_type == kMultiheadAttention.type ? &kMultiheadAttention : nullptr;
}

std::vector<std::string> module_type_names() { return {kMultiheadAttention.type}; }

std::string option_kind_text(OptionKind kind) {
  switch (kind) {
    case OptionKind::Int: return "an integer";
    case OptionKind::OptionalInt: return "an integer or null";
    case OptionKind::Float: return "a number";
    case OptionKind::Bool: return "true or false";
    case OptionKind::DType: return "a dtype name such as \"float32\"";
    case OptionKind::Device: return "a device name such as \"cpu\"";
  }
  return "a value";
}

}  // namespace mhacheck
