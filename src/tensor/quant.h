// Scalar reference quantize / dequantize for every format with dtype_traits::codec == true (and
// dequantize for the dequant-only formats, dtype_traits::dequant). These are the ground truth the
// SIMD kernels are tested against; they decode the bytes of GGUF files in the wild exactly as ggml
// does (checked against ../shared/data/golden/quants.gguf).
//
// Alignment: the quantized side (`void*`) may sit at any byte address; float pointers need only
// their natural 4-byte alignment.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "util/status.h"

namespace uma {

// `n` must be a multiple of the type's block size; `src`/`dst` need no particular alignment.
// Errors: unsupported type, or n not a multiple of the block size.
status dequantize_row(dtype t, const void* src, float* dst, int64_t n);
status quantize_row(dtype t, const float* src, void* dst, int64_t n);

// Per-format helpers (no checks; n a multiple of the block size).
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);

void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);

void dequantize_row_q2_k(const void* src, float* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void dequantize_row_q3_k(const void* src, float* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
// Q8_K is the activation format of the K-quant dot products: float d, int8 qs in [-127, 127],
// bsums[i] = sum of qs[16 i .. 16 i + 15].
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace uma
