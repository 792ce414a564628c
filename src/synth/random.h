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

// 65536 standard-normal quantiles, table[i] = Phi^-1((i + 0.5) / 65536) rescaled to unit variance
// (tails at +-4.3). A 16-bit slice of a random draw indexes it: four normal values per 64-bit draw.
const float* normal_table();

// Fills out[0..n) with mean + std * N(0,1) values for one row; value j uses 16 bits of draw j / 4.
inline void fill_row(uint64_t key, float mean, float stddev, float* out, int64_t n) {
  const float* table = normal_table();
  for (int64_t j = 0; j < n; j += 4) {
    uint64_t r = mix64(key + static_cast<uint64_t>(j / 4) * golden_gamma);
    const int64_t m = n - j < 4 ? n - j : 4;
    for (int64_t k = 0; k < m; ++k, r >>= 16) out[j + k] = mean + stddev * table[r & 0xffff];
  }
}

}  // namespace uma::synth
