// Counter-based random numbers for synthesized weights: value j of row r of a tensor is a pure
// function of (seed, tensor name, r, j), so any thread can generate any row in any order and the
// file is byte-identical for the same seed however the work is split.
#pragma once

#include <cstdint>
#include <string_view>

namespace uma::synth {

// splitmix64's output function: a bijective 64-bit mixer with good avalanche.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline constexpr uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

// FNV-1a, to key each tensor's stream by its name (adding a tensor does not shift the others).
inline uint64_t name_hash(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

inline uint64_t row_key(uint64_t seed, uint64_t tensor_hash, uint64_t row) {
  return mix64(mix64(seed * golden_gamma ^ tensor_hash) + row * golden_gamma);
}

// Approximately standard normal: the sum of four 16-bit uniforms from one 64-bit draw, centred and
// scaled to variance 1 (Irwin-Hall n=4: bell-shaped, bounded at +-3.46).
inline float unit_normal(uint64_t r) {
  const uint64_t s = (r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48);
  // mean 4 * 32767.5; variance 4 * (65536^2 - 1) / 12
  constexpr double mean = 131070.0;
  constexpr double inv_std = 1.0 / 37837.22712;  // 1 / sqrt((65536^2 - 1) / 3)
  return static_cast<float>((static_cast<double>(s) - mean) * inv_std);
}

// Fills out[0..n) with mean + std * N(0,1)-like values for one row.
inline void fill_row(uint64_t key, float mean, float stddev, float* out, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    out[j] = mean + stddev * unit_normal(mix64(key + static_cast<uint64_t>(j) * golden_gamma));
}

}  // namespace uma::synth
