// The random numbers of `mhacheck run`: initial weights and --random-inputs, reproducible from
// --seed. Whole arrays are drawn at once, with vector instructions: eight interleaved xoshiro256+
// streams (seeded by splitmix64 from the seed), uniforms from their high bits, normals by the
// Box-Muller transform (in float for float32 arrays: tails are cut at about 5.8 standard
// deviations, where 24-bit uniforms end).
#pragma once

#include <cstddef>
#include <cstdint>

#include "mhacheck/npy.hpp"

namespace mhacheck {

class Random {
 public:
  explicit Random(std::uint64_t seed);

  // Fill a float32 or float64 array (other dtypes are left as they are) with U(low, high) or
  // N(mean, std^2) values.
  void fill_uniform(Array& array, double low, double high);
  void fill_normal(Array& array, double mean, double std);

  static constexpr std::size_t kLanes = 8;

 private:
  // The next kLanes 64-bit words, one from each stream.
  void next(std::uint64_t* words);
  template <class T>
  void uniform(T* out, std::size_t count, double low, double high);
  template <class T>
  void normal(T* out, std::size_t count, double mean, double std);

  alignas(64) std::uint64_t state_[4][kLanes];
};

}  // namespace mhacheck
