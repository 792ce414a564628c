// Scalar reference quantize / dequantize for every format with dtype_traits::codec == true.
// These are the ground truth the SIMD kernels are tested against; they must decode the bytes of
// GGUF files in the wild exactly as ggml does (checked against ../shared/data/golden/quants.gguf).
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "util/status.h"

namespace uma {

// `n` must be a multiple of the type's block size; `src`/`dst` need no particular alignment.
status dequantize_row(dtype t, const void* src, float* dst, int64_t n);
status quantize_row(dtype t, const float* src, void* dst, int64_t n);

// Per-format helpers (no checks; n a multiple of the block size).
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

}  // namespace uma
