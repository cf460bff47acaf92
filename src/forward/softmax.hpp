// The softmax of one row of attention scores, shared by the MultiheadAttention and
// scaled_dot_product_attention forward passes. The float32 kernel is vectorised (its own exp,
// compiled for AVX-512, AVX2+FMA and baseline x86-64, chosen at load time): the exponentials
// of N * H * L * S scores were the largest non-GEMM cost of the forward pass.
#pragma once

#include <cstdint>

namespace mhacheck {

// Replaces row[0, n) by its softmax and returns true; returns false, leaving the row as it
// was, when every value is -inf (the caller decides what such a row becomes).
bool softmax_row(float* row, std::int64_t n);
bool softmax_row(double* row, std::int64_t n);

}  // namespace mhacheck
