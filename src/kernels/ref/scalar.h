// Scalar reference kernels shared by the scalar backend and reused by the SIMD backends for
// tails and for formats they do not vectorise. Internal to kernels/.
#pragma once

#include <cstdint>

#include "kernels/backend.h"

namespace uma::kernels::ref {

void convert_q8_0(const float* x, void* dst, int64_t cols);
void convert_q8_1(const float* x, void* dst, int64_t cols);
void convert_q8_k(const float* x, void* dst, int64_t cols);
void convert_f16(const float* x, void* dst, int64_t cols);
void convert_bf16(const float* x, void* dst, int64_t cols);
void convert_f32(const float* x, void* dst, int64_t cols);

// Dot product of one weight row with one converted activation row (ggml's vec_dot).
float dot_row(dtype t, const uint8_t* w, const uint8_t* a, int64_t cols);

// The scalar products over x16 (interleaved) tiles, into the scalar backend (interleave.cpp).
void fill_x16_table(matmul_backend& b);

// Scale / min unpacking of the K formats (ggml's get_scale_min_k4).
inline void k4_scale_min(int j, const uint8_t* q, uint8_t& sc, uint8_t& mn) {
  if (j < 4) {
    sc = q[j] & 63;
    mn = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    mn = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}
// The 16 signed 6-bit scales of a Q3_K block (stored in 12 bytes), minus 32.
void q3k_scales(const uint8_t* packed, int8_t out[16]);

}  // namespace uma::kernels::ref
