// Scalar activation converters: float rows -> the 8-bit block formats (Q8_0, Q8_1, Q8_K) or
// half/bfloat16, with exactly ggml's arithmetic (amax / 127 scales; round to nearest even), so SIMD
// converters can be checked bit for bit against these.
#include <cmath>
#include <cstring>

#include "kernels/backend.h"
#include "kernels/ref/scalar.h"
#include "tensor/blocks.h"
#include "tensor/half.h"

namespace uma::kernels::ref {

void convert_q8_0(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_0*>(dst);
  for (int64_t b = 0; b < cols / qk32; ++b, x += qk32) {
    float amax = 0;
    for (int j = 0; j < qk32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < qk32; ++j) y[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
  }
}

void convert_q8_1(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_1*>(dst);
  for (int64_t b = 0; b < cols / qk32; ++b, x += qk32) {
    float amax = 0;
    for (int j = 0; j < qk32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    int sum = 0;
    for (int j = 0; j < qk32; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
      sum += y[b].qs[j];
    }
    y[b].d = f32_to_f16(d);
    y[b].s = f32_to_f16(static_cast<float>(sum) * d);
  }
}

void convert_q8_k(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_k*>(dst);
  for (int64_t b = 0; b < cols / qk_k; ++b, x += qk_k) {
    float amax = 0, max = 0;
    for (int j = 0; j < qk_k; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(block_q8_k));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < qk_k; ++j) {
      const int v = static_cast<int>(std::nearbyint(iscale * x[j]));
      y[b].qs[j] = static_cast<int8_t>(std::min(127, v));
    }
    for (int g = 0; g < qk_k / 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += y[b].qs[g * 16 + j];
      y[b].bsums[g] = static_cast<int16_t>(s);
    }
    y[b].d = 1.f / iscale;
  }
}

void convert_f16(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < cols; ++i) y[i] = f32_to_f16(x[i]);
}

void convert_bf16(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < cols; ++i) y[i] = f32_to_bf16(x[i]);
}

void convert_f32(const float* x, void* dst, int64_t cols) {
  std::memcpy(dst, x, static_cast<size_t>(cols) * sizeof(float));
}

}  // namespace uma::kernels::ref
