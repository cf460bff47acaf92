// torch.result_type of a binary operator's two operands, shared by the check of add, sub, mul,
// div, eq and ne (ops/arithmetic.cpp) and their forward pass, which compares eq and ne in it.
#pragma once

#include <cstddef>
#include <optional>

#include <nlohmann/json.hpp>

#include "mhacheck/dtype.hpp"

namespace mhacheck {

// c10's ResultTypeState: tensors with dims rank above 0-D tensors, which rank above Python
// numbers; a lower rank takes part only when its category (bool, integer, floating) is above
// the higher's: float32 (3,) + float64 () is float32, and float32 (3,) == 0.1 compares in
// float32. `other_rank` is nullopt for a Python number, whose dtype is bool, int64 or float32.
DType result_type(DType input, std::size_t input_rank, DType other, std::optional<std::size_t> other_rank);

// The dtype PyTorch wraps a Python number in: bool, int64, or float32 (the default dtype) for a
// float, infinities and NaN ("inf", "-inf", "nan") included.
DType number_dtype(const nlohmann::json& number);

}  // namespace mhacheck
