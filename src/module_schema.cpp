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

}  // namespace

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
