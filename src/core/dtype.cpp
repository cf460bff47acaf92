#include "mhacheck/dtype.hpp"

#include <array>

namespace mhacheck {
namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  const char* aten;      // ScalarType name, in "expected scalar type Float" style messages
  const char* typemeta;  // TypeMeta name, in TORCH_CHECK messages that print a dtype
  const char* cpp;       // the C++ type, as Scalar::to<T> names it in overflow messages
  bool floating;
  double lowest, highest;  // the finite range
};

constexpr std::array<DTypeInfo, 10> kDTypes{{
    {DType::Float16, "float16", "Half", "c10::Half", "at::Half", true, -65504.0, 65504.0},
    {DType::BFloat16, "bfloat16", "BFloat16", "c10::BFloat16", "at::BFloat16", true, -3.3895313892515355e38, 3.3895313892515355e38},
    {DType::Float32, "float32", "Float", "float", "float", true, -3.4028234663852886e38, 3.4028234663852886e38},
    {DType::Float64, "float64", "Double", "double", "double", true, -1.7976931348623157e308, 1.7976931348623157e308},
    {DType::Bool, "bool", "Bool", "bool", "bool", false, 0.0, 1.0},
    {DType::UInt8, "uint8", "Byte", "unsigned char", "uint8_t", false, 0.0, 255.0},
    {DType::Int8, "int8", "Char", "signed char", "int8_t", false, -128.0, 127.0},
    {DType::Int16, "int16", "Short", "short int", "int16_t", false, -32768.0, 32767.0},
    {DType::Int32, "int32", "Int", "int", "int", false, -2147483648.0, 2147483647.0},
    {DType::Int64, "int64", "Long", "long int", "int64_t", false, -9223372036854775808.0, 9223372036854775807.0},
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
std::string dtype_typemeta_name(DType dtype) { return info(dtype).typemeta; }
bool is_floating(DType dtype) { return info(dtype).floating; }
double dtype_lowest(DType dtype) { return info(dtype).lowest; }
double dtype_highest(DType dtype) { return info(dtype).highest; }
std::string dtype_cpp_name(DType dtype) { return info(dtype).cpp; }

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

int dtype_category(DType dtype) { return dtype == DType::Bool ? 0 : (is_floating(dtype) ? 2 : 1); }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (dtype_category(a) != dtype_category(b)) return dtype_category(a) > dtype_category(b) ? a : b;
  if (dtype_category(a) == 2) {
    if ((a == DType::Float16 && b == DType::BFloat16) || (a == DType::BFloat16 && b == DType::Float16)) return DType::Float32;
    auto width = [](DType t) { return t == DType::Float64 ? 3 : (t == DType::Float32 ? 2 : 1); };
    return width(a) >= width(b) ? a : b;
  }
  // Integers: uint8 with int8 needs int16; otherwise the wider (uint8 is the narrowest).
  if ((a == DType::UInt8 && b == DType::Int8) || (a == DType::Int8 && b == DType::UInt8)) return DType::Int16;
  auto width = [](DType t) { return t == DType::Int64 ? 4 : t == DType::Int32 ? 3 : t == DType::Int16 ? 2 : 1; };
  return width(a) >= width(b) ? a : b;
}

}  // namespace mhacheck
