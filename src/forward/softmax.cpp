// Built with -O3 (CMakeLists.txt) but without -ffast-math: masked scores are -inf and must
// stay exactly 0 after the exponential, and fully masked rows must be detected. The loops
// keep kLanes partial results each, so that GCC vectorises the max and the sum without
// reassociating floating-point additions.
//
// On x86-64 the float32 kernel is compiled three times (AVX-512, AVX2+FMA, baseline) and chosen
// on first use with CPUID. Not with GCC's target_clones: its resolver needs libgcc's CPU
// detection, a static constructor whose CPUID instructions (each a trap to the hypervisor in a
// VM) every process start paid, `check` included, which never computes a softmax.
#include "forward/softmax.hpp"

#include <bit>
#include <cmath>
#include <limits>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace mhacheck {
namespace {

constexpr std::int64_t kLanes = 16;

// exp(x) for x <= 0 (a score minus its row's maximum), Cephes' expf: x = n ln2 + r with
// |r| <= ln2 / 2, a degree-6 polynomial for exp(r), times 2^n built from its exponent bits.
// Below -87.3 (where expf is subnormal or 0), and for -inf, the result is 0; NaN stays NaN.
// The polynomial runs on x clamped to -87.3, so that n always fits the exponent: converting
// -inf or NaN to an integer is undefined behaviour (UBSan reports it).
[[gnu::always_inline]] inline float exp_nonpositive(float x) {
  constexpr float kLowest = -87.33654f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float clamped = x >= kLowest ? x : kLowest;
  float shifted = clamped * 1.44269504088896341f + kRound;
  float n = shifted - kRound;
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  std::int32_t exponent = static_cast<std::int32_t>(n) + 127;
  float scale = std::bit_cast<float>(static_cast<std::int32_t>(exponent > 0 ? exponent : 0) << 23);
  return x < kLowest ? 0.0f : (x == x ? p * scale : x);
}

[[gnu::always_inline]] inline float row_max(const float* row, std::int64_t n) {
  float lanes[kLanes];
  for (float& lane : lanes) lane = -std::numeric_limits<float>::infinity();
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::int64_t j = 0; j < kLanes; ++j) lanes[j] = lanes[j] < row[i + j] ? row[i + j] : lanes[j];
  }
  float max = -std::numeric_limits<float>::infinity();
  for (float lane : lanes) max = max < lane ? lane : max;
  for (; i < n; ++i) max = max < row[i] ? row[i] : max;
  return max;
}

// row[i] = exp(row[i] - max), normalised to sum 1.
[[gnu::always_inline]] inline void exponentiate_and_normalise(float* row, std::int64_t n, float max) {
  float lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::int64_t j = 0; j < kLanes; ++j) {
      float e = exp_nonpositive(row[i + j] - max);
      row[i + j] = e;
      lanes[j] += e;
    }
  }
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < n; ++i) sum += (row[i] = exp_nonpositive(row[i] - max));
  const float reciprocal = 1.0f / sum;
  for (i = 0; i < n; ++i) row[i] *= reciprocal;
}

// The kernel, inlined into each instruction-set variant below.
[[gnu::always_inline]] inline bool softmax_float(float* row, std::int64_t n) {
  float max = row_max(row, n);
  if (max == -std::numeric_limits<float>::infinity()) return false;
  exponentiate_and_normalise(row, n, max);
  return true;
}

bool softmax_baseline(float* row, std::int64_t n) { return softmax_float(row, n); }

#if defined(__x86_64__)
[[gnu::target("avx2,fma")]] bool softmax_avx2(float* row, std::int64_t n) { return softmax_float(row, n); }
[[gnu::target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]] bool softmax_avx512(float* row, std::int64_t n) {
  return softmax_float(row, n);
}

// The widest variant this CPU and the OS (which must save the vector registers) support.
using SoftmaxKernel = bool (*)(float*, std::int64_t);
SoftmaxKernel widest_kernel() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return softmax_baseline;
  if ((ecx & bit_OSXSAVE) == 0 || (ecx & bit_AVX) == 0 || (ecx & bit_FMA) == 0) return softmax_baseline;
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if ((xcr0_low & 0x6) != 0x6) return softmax_baseline;  // SSE and AVX state
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0 || (ebx & bit_AVX2) == 0) return softmax_baseline;
  const unsigned avx512 = bit_AVX512F | bit_AVX512VL | bit_AVX512BW | bit_AVX512DQ;
  if ((ebx & avx512) == avx512 && (xcr0_low & 0xe0) == 0xe0) return softmax_avx512;  // opmask and ZMM state
  return softmax_avx2;
}
#endif

}  // namespace

bool softmax_row(float* row, std::int64_t n) {
#if defined(__x86_64__)
  static const SoftmaxKernel kernel = widest_kernel();
  return kernel(row, n);
#else
  return softmax_baseline(row, n);
#endif
}

bool softmax_row(double* row, std::int64_t n) {
  double max = -std::numeric_limits<double>::infinity();
  for (std::int64_t i = 0; i < n; ++i) max = std::max(max, row[i]);
  if (max == -std::numeric_limits<double>::infinity()) return false;
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += (row[i] = std::exp(row[i] - max));
  const double reciprocal = 1.0 / sum;
  for (std::int64_t i = 0; i < n; ++i) row[i] *= reciprocal;
  return true;
}

}  // namespace mhacheck
