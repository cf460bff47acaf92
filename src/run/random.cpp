// Built with -O3 -ffast-math (CMakeLists.txt): the loops below are written so that GCC vectorises
// them with the baseline x86-64 instructions, glibc's vector logf/sinf/cosf (libmvec) included.
// That is why integers become floats through int32 (SSE2 converts no 64-bit integers), and why
// sin and cos are taken in separate loops (in one, GCC fuses them into a scalar sincos call).
#include "mhacheck/random.hpp"

#include <math.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

namespace mhacheck {
namespace {

constexpr std::size_t kChunk = 256;  // values per batch

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256+'s low bits are its weak ones: uniforms come from high bits, 24 per float (two
// floats per word: bits 40-63 and 16-39) and 52 per double (one per word).
float high_float(std::uint64_t word) { return static_cast<float>(static_cast<std::int32_t>(word >> 40)) * 0x1.0p-24f; }
float middle_float(std::uint64_t word) {
  return static_cast<float>(static_cast<std::int32_t>((word >> 16) & 0xffffff)) * 0x1.0p-24f;
}
// [0, 1): the bits as the mantissa of a double in [1, 2), minus 1.
double unit_double(std::uint64_t word) { return std::bit_cast<double>((word >> 12) | 0x3ff0000000000000ULL) - 1.0; }

// glibc declares vector versions of the C functions, not of std::log and friends.
float log_of(float x) { return ::logf(x); }
float sin_of(float x) { return ::sinf(x); }
float cos_of(float x) { return ::cosf(x); }
double log_of(double x) { return ::log(x); }
double sin_of(double x) { return ::sin(x); }
double cos_of(double x) { return ::cos(x); }

}  // namespace

Random::Random(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& word : state_)
    for (std::uint64_t& lane : word) lane = splitmix64(x);
}

void Random::next(std::uint64_t* words) {
  for (std::size_t lane = 0; lane < kLanes; ++lane) {
    std::uint64_t s0 = state_[0][lane], s1 = state_[1][lane], s2 = state_[2][lane], s3 = state_[3][lane];
    words[lane] = s0 + s3;
    std::uint64_t t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 45) | (s3 >> 19);
    state_[0][lane] = s0;
    state_[1][lane] = s1;
    state_[2][lane] = s2;
    state_[3][lane] = s3;
  }
}

template <class T>
void Random::uniform(T* out, std::size_t count, double low, double high) {
  constexpr std::size_t kWords = sizeof(T) == 4 ? kChunk / 2 : kChunk;
  const T base = static_cast<T>(low), scale = static_cast<T>(high - low);
  alignas(64) std::uint64_t words[kWords];
  alignas(64) T values[kChunk];
  for (std::size_t done = 0; done < count; done += kChunk) {
    for (std::size_t block = 0; block < kWords; block += kLanes) next(words + block);
    if constexpr (sizeof(T) == 4) {
      for (std::size_t i = 0; i < kWords; ++i) values[i] = high_float(words[i]);
      for (std::size_t i = 0; i < kWords; ++i) values[kWords + i] = middle_float(words[i]);
    } else {
      for (std::size_t i = 0; i < kWords; ++i) values[i] = unit_double(words[i]);
    }
    std::size_t n = std::min(kChunk, count - done);
    for (std::size_t i = 0; i < n; ++i) out[done + i] = base + scale * values[i];
  }
}

// Box-Muller: uniforms a in (0, 1] and b in [0, 1) give two independent normals r cos(2 pi b)
// and r sin(2 pi b), r = sqrt(-2 ln a).
template <class T>
void Random::normal(T* out, std::size_t count, double mean, double std) {
  constexpr std::size_t kPairs = kChunk / 2;
  constexpr std::size_t kWords = sizeof(T) == 4 ? kPairs : 2 * kPairs;
  const T m = static_cast<T>(mean), s = static_cast<T>(std), two_pi = static_cast<T>(2 * std::numbers::pi);
  alignas(64) std::uint64_t words[kWords];
  alignas(64) T a[kPairs], angle[kPairs], r[kPairs], values[kChunk];
  for (std::size_t done = 0; done < count; done += kChunk) {
    for (std::size_t block = 0; block < kWords; block += kLanes) next(words + block);
    if constexpr (sizeof(T) == 4) {
      for (std::size_t i = 0; i < kPairs; ++i) a[i] = 1.0f - high_float(words[i]);
      for (std::size_t i = 0; i < kPairs; ++i) angle[i] = two_pi * middle_float(words[i]);
    } else {
      for (std::size_t i = 0; i < kPairs; ++i) a[i] = 1.0 - unit_double(words[i]);
      for (std::size_t i = 0; i < kPairs; ++i) angle[i] = two_pi * unit_double(words[kPairs + i]);
    }
    for (std::size_t i = 0; i < kPairs; ++i) r[i] = s * std::sqrt(T(-2) * log_of(a[i]));
    for (std::size_t i = 0; i < kPairs; ++i) values[i] = m + r[i] * cos_of(angle[i]);
    for (std::size_t i = 0; i < kPairs; ++i) values[kPairs + i] = m + r[i] * sin_of(angle[i]);
    std::copy_n(values, std::min(kChunk, count - done), out + done);
  }
}

void Random::fill_uniform(Array& array, double low, double high) {
  auto count = static_cast<std::size_t>(array.size());
  if (array.dtype == DType::Float32) uniform(array.data<float>(), count, low, high);
  if (array.dtype == DType::Float64) uniform(array.data<double>(), count, low, high);
}

void Random::fill_normal(Array& array, double mean, double std) {
  auto count = static_cast<std::size_t>(array.size());
  if (array.dtype == DType::Float32) normal(array.data<float>(), count, mean, std);
  if (array.dtype == DType::Float64) normal(array.data<double>(), count, mean, std);
}

}  // namespace mhacheck
