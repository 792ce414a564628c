// Per-backend table of the element-wise / vector ops in ops.h, so tests can check every SIMD
// target the CPU supports against the scalar reference. Entries left null use the scalar one.
#pragma once

#include <cstdint>

#include "kernels/backend.h"
#include "kernels/ops.h"

namespace uma::kernels {

struct ops_backend {
  const char* name = nullptr;
  void (*rms_norm)(const float* x, const float* w, int64_t n, float eps, float* y) = nullptr;
  void (*rope_with)(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
                    const rope_params& p) = nullptr;
  void (*softmax)(float* x, int64_t n) = nullptr;
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*gelu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*softcap)(float* x, int64_t n, float cap) = nullptr;
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  float (*dot_f16)(const float* a, const uint16_t* b, int64_t n) = nullptr;
  void (*axpy_f16)(float s, const uint16_t* x, float* y, int64_t n) = nullptr;
  void (*add)(const float* x, float* y, int64_t n) = nullptr;
  void (*f32_to_f16_row)(const float* x, uint16_t* y, int64_t n) = nullptr;
  void (*f16_to_f32_row)(const uint16_t* x, float* y, int64_t n) = nullptr;
  void (*attn_block)(const attn_block_args& a) = nullptr;
  // attn_block takes BF16 products where attn_block_args::bf16 asks (the CPU has them); the
  // scalar table's reference always follows the flag.
  bool attn_bf16 = false;
};

// The scalar table (every entry set), and a backend's table with its null entries filled from
// the scalar one; nullptr if the backend is not available on this CPU.
const ops_backend& scalar_ops();
const ops_backend* find_ops(backend_id id);
const ops_backend& best_ops();

#if defined(__x86_64__)
const ops_backend& avx2_ops();
const ops_backend& avx512_ops();
// AVX-512 plus BF16 prompt attention on AMX tiles (F16 cache), and its scalar-tile model.
const ops_backend& amx_ops();
const ops_backend& amx_emulated_ops();
#endif
#if defined(__aarch64__)
const ops_backend& neon_ops();
#endif

}  // namespace uma::kernels
