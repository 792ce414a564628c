// Helpers for the kernel tests: random weight rows of any format (random quant bits with sane
// fp16 scales, so every bit pattern is exercised), activation dequantizers, and the list of
// backends this CPU can run.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/ops_backend.h"
#include "tensor/blocks.h"
#include "tensor/dtype.h"
#include "tensor/half.h"
#include "tensor/quant.h"

namespace uma::kernels::test {

inline std::vector<backend_id> available_backends() {
  std::vector<backend_id> out;
  for (int i = 0; i < backend_count; ++i)
    if (find_backend(static_cast<backend_id>(i)) != nullptr)
      out.push_back(static_cast<backend_id>(i));
  return out;
}

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float sigma = 1.f) {
  std::normal_distribution<float> nd(0.f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

// Offsets of the fp16 scale fields inside one block of each format (d, then dmin/m if any).
struct half_fields {
  int d = -1, m = -1;
};
inline half_fields scale_fields(dtype t) {
  switch (t) {
    case dtype::q4_0:
    case dtype::q5_0:
    case dtype::q8_0:
      return {0, -1};
    case dtype::q4_1:
    case dtype::q5_1:
    case dtype::q4_k:
    case dtype::q5_k:
      return {0, 2};
    case dtype::q2_k:
      return {80, 82};
    case dtype::q3_k:
      return {108, -1};
    case dtype::q6_k:
      return {208, -1};
    default:
      return {};
  }
}

// `rows` rows of `cols` elements of type t, random, back to back.
inline std::vector<uint8_t> random_rows(std::mt19937& rng, dtype t, int64_t rows, int64_t cols) {
  const auto& tr = traits(t);
  const size_t row_bytes = cols / tr.block_elems * tr.block_bytes;
  std::vector<uint8_t> out(row_bytes * rows);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(0.001f, 0.02f);
  if (t == dtype::f32 || t == dtype::f16 || t == dtype::bf16) {
    for (size_t i = 0; i < static_cast<size_t>(rows * cols); ++i) {
      const float v = nd(rng) * 0.05f;
      if (t == dtype::f32) std::memcpy(&out[i * 4], &v, 4);
      if (t == dtype::f16) put_half(&out[i * 2], v);
      if (t == dtype::bf16) {
        const uint16_t h = f32_to_bf16(v);
        std::memcpy(&out[i * 2], &h, 2);
      }
    }
    return out;
  }
  std::uniform_int_distribution<int> bytes(0, 255);
  for (auto& b : out) b = static_cast<uint8_t>(bytes(rng));
  const half_fields f = scale_fields(t);
  for (size_t b = 0; b < out.size() / tr.block_bytes; ++b) {
    uint8_t* blk = &out[b * tr.block_bytes];
    put_half(blk + f.d, ud(rng));
    if (f.m >= 0) put_half(blk + f.m, ud(rng) * (bytes(rng) & 1 ? 1 : -1));
  }
  return out;
}

// Dequantized converted activation row (for checking the integer products exactly).
inline std::vector<double> act_values(act_format f, const uint8_t* a, int64_t cols) {
  std::vector<double> v(cols);
  for (int64_t i = 0; i < cols; ++i) {
    switch (f) {
      case act_format::f32: {
        float x;
        std::memcpy(&x, a + i * 4, 4);
        v[i] = x;
        break;
      }
      case act_format::f16:
      case act_format::bf16: {
        uint16_t h;
        std::memcpy(&h, a + i * 2, 2);
        v[i] = f == act_format::f16 ? f16_to_f32(h) : bf16_to_f32(h);
        break;
      }
      case act_format::q8_0: {
        const auto* b = reinterpret_cast<const block_q8_0*>(a) + i / qk32;
        v[i] = static_cast<double>(f16_to_f32(b->d)) * b->qs[i % qk32];
        break;
      }
      case act_format::q8_1: {
        const auto* b = reinterpret_cast<const block_q8_1*>(a) + i / qk32;
        v[i] = static_cast<double>(f16_to_f32(b->d)) * b->qs[i % qk32];
        break;
      }
      case act_format::q8_k: {
        const auto* b = reinterpret_cast<const block_q8_k*>(a) + i / qk_k;
        v[i] = static_cast<double>(b->d) * b->qs[i % qk_k];
        break;
      }
    }
  }
  return v;
}

inline const std::vector<dtype>& matmul_types() {
  static const std::vector<dtype> t = {
      dtype::f32,  dtype::f16,  dtype::bf16, dtype::q8_0, dtype::q4_0, dtype::q4_1, dtype::q5_0,
      dtype::q5_1, dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k};
  return t;
}

// For a product that rounds to bf16 (matmul_rounds_to_bf16): `got` (n x rows) against the
// float64 product of the dequantized rows-layout weights `w` and the unrounded activations x.
// Rounding each weight and activation to the nearest bf16 moves each product by at most
// 2 x 2^-9 + 2^-18 of |w x|, and fp32 accumulation adds at most cols x 2^-24 of sum |w x|; the
// bound is that (with 10 % headroom), so a wrong element, scale or lane shows. Returns the number
// of outputs outside it.
inline int64_t bf16_product_misses(const matrix_view& w, const float* x, int64_t n,
                                   const float* got) {
  std::vector<float> wf(static_cast<size_t>(w.cols));
  int64_t misses = 0;
  const double rel = 1.1 * (2.0 / 512 + 1.0 / 262144 + static_cast<double>(w.cols) / 16777216.0);
  for (int64_t r = 0; r < w.rows; ++r) {
    (void)dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + r * w.row_bytes, wf.data(),
                         w.cols);
    for (int64_t j = 0; j < n; ++j) {
      double want = 0, mag = 0;
      for (int64_t i = 0; i < w.cols; ++i) {
        const double p = static_cast<double>(wf[static_cast<size_t>(i)]) * x[j * w.cols + i];
        want += p;
        mag += std::fabs(p);
      }
      if (!(std::fabs(got[j * w.rows + r] - want) <= rel * mag + 1e-30)) ++misses;
    }
  }
  return misses;
}

}  // namespace uma::kernels::test
