#include "mhacheck/dtype.hpp"

#include <array>

namespace mhacheck {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  const char* aten;
  bool floating;
};

constexpr std::array<DTypeInfo, 10> kDTypes{{
    {DType::Float16, "float16", "Half", true},
    {DType::BFloat16, "bfloat16", "BFloat16", true},
    {DType::Float32, "float32", "Float", true},
    {DType::Float64, "float64", "Double", true},
    {DType::Bool, "bool", "Bool", false},
    {DType::UInt8, "uint8", "Byte", false},
    {DType::Int8, "int8", "Char", false},
    {DType::Int16, "int16", "Short", false},
    {DType::Int32, "int32", "Int", false},
    {DType::Int64, "int64", "Long", false},
}};

struct Alias {
  const char* name;
  DType dtype;
};
// PyTorch's aliases (torch.float is float32, torch.long is int64, ...).
constexpr std::array<Alias, 8> kAliases{{
    {"half", DType::Float16},
    {"float", DType::Float32},
    {"double", DType::Float64},
    {"short", DType::Int16},
    {"int", DType::Int32},
    {"long", DType::Int64},
    {"bool_", DType::Bool},
    {"b1", DType::Bool},
}};

const DTypeInfo& info(DType dtype) {
  for (const DTypeInfo& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  return kDTypes[2];
}

}  // namespace

std::string dtype_name(DType dtype) { return info(dtype).name; }
std::string dtype_aten_name(DType dtype) { return info(dtype).aten; }
bool is_floating(DType dtype) { return info(dtype).floating; }

std::optional<DType> parse_dtype(std::string_view text) {
  for (std::string_view prefix : {"torch.", "np.", "numpy."}) {
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
  }
  for (const DTypeInfo& entry : kDTypes) {
    if (text == entry.name) return entry.dtype;
  }
  for (const Alias& alias : kAliases) {
    if (text == alias.name) return alias.dtype;
  }
  return std::nullopt;
}

std::string dtype_names_list() {
  std::string names;
  for (const DTypeInfo& entry : kDTypes) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

}  // namespace mhacheck
