// Element types, by the names NumPy and PyTorch use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mhacheck {

enum class DType { Float16, BFloat16, Float32, Float64, Bool, UInt8, Int8, Int16, Int32, Int64 };

std::string dtype_name(DType dtype);        // "float32"
std::string dtype_aten_name(DType dtype);   // "Float", as ATen's messages say
std::string dtype_typemeta_name(DType dtype);  // "float", "long int": c10's TypeMeta names
bool is_floating(DType dtype);
// The finite range of a dtype's values (bool: 0 to 1), which c10's checked conversion of a Scalar
// tests; float16's is +-65504.
double dtype_lowest(DType dtype);
double dtype_highest(DType dtype);
// The C++ type c10 names in "value cannot be converted to type at::Half without overflow".
std::string dtype_cpp_name(DType dtype);
// torch.promote_types: bool < integers < floating; within a kind the wider, and the types that
// hold both (uint8 with int8: int16; float16 with bfloat16: float32).
DType promote_types(DType a, DType b);
int dtype_category(DType dtype);  // 0 bool, 1 integer, 2 floating: promotion's order of kinds
// Accepts "float32", "torch.float32", "float", "double", "half", "long", "int", "bool", ...
std::optional<DType> parse_dtype(std::string_view text);
// Every accepted canonical name, for "expected one of" messages.
std::string dtype_names_list();

}  // namespace mhacheck
