// Matrix products over weights as GGUF stores them (quantized, mmap'd, never copied).
//
//   Y[n x rows] = X[n x cols] * W^T     (W: `rows` rows of `cols` elements, row-major)
//
// n == 1 is decode (matrix x vector, bandwidth-bound); n > 1 is batched decode or prefill
// (compute-bound). For quantized W the activations are quantized once per call to 8-bit blocks
// (Q8_0, or Q8_K for the K formats) and multiplied with integer dot products, as ggml does.
// The implementation is picked at run time for the CPU (scalar reference, AVX2, AVX-512 VNNI,
// NEON dotprod; a tile-matrix engine such as AMX or SME slots in as another backend).
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace uma {
class thread_pool;
}

namespace uma::kernels {

struct matrix_view {
  dtype type = dtype::f32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;      // elements per row (a multiple of the type's block size)
  size_t row_bytes = 0;  // bytes per row
};

// Production path: best available backend. `pool` may be null (single-threaded).
// x: n rows, stride `cols` floats; y: n rows, stride `rows` floats.
void matmul(const matrix_view& w, const float* x, int64_t n, float* y, thread_pool* pool);

// True if matmul supports this weight type.
bool matmul_supports(dtype t);

// Name of the backend matmul dispatches to on this CPU ("avx512-vnni", "avx2", "neon", "scalar").
const char* matmul_backend_name();

namespace ref {
// Scalar reference of exactly the same arithmetic (same activation quantization).
void matmul(const matrix_view& w, const float* x, int64_t n, float* y);
}  // namespace ref

}  // namespace uma::kernels
