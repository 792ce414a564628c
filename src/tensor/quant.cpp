// Entry points of the reference codecs: checks (type supported, whole blocks) and dispatch to the
// per-format functions in quant_legacy.cpp / quant_k.cpp; the plain float formats live here.
#include "tensor/quant.h"

#include <cstring>

#include "tensor/half.h"

namespace uma {

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const unsigned char*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = f16_to_f32(h);
  }
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<unsigned char*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_f16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const unsigned char*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_f32(h);
  }
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<unsigned char*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = f32_to_bf16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

namespace {

using dequant_fn = void (*)(const void*, float*, int64_t);
using quant_fn = void (*)(const float*, void*, int64_t);

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}
void quantize_row_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}

dequant_fn dequant_for(dtype t) {
  switch (t) {
    case dtype::f32:
      return dequantize_row_f32;
    case dtype::f16:
      return dequantize_row_f16;
    case dtype::bf16:
      return dequantize_row_bf16;
    case dtype::q4_0:
      return dequantize_row_q4_0;
    case dtype::q4_1:
      return dequantize_row_q4_1;
    case dtype::q5_0:
      return dequantize_row_q5_0;
    case dtype::q5_1:
      return dequantize_row_q5_1;
    case dtype::q8_0:
      return dequantize_row_q8_0;
    case dtype::q2_k:
      return dequantize_row_q2_k;
    case dtype::q3_k:
      return dequantize_row_q3_k;
    case dtype::q4_k:
      return dequantize_row_q4_k;
    case dtype::q5_k:
      return dequantize_row_q5_k;
    case dtype::q6_k:
      return dequantize_row_q6_k;
    case dtype::q8_k:
      return dequantize_row_q8_k;
    default:
      return nullptr;
  }
}

quant_fn quant_for(dtype t) {
  switch (t) {
    case dtype::f32:
      return quantize_row_f32;
    case dtype::f16:
      return quantize_row_f16;
    case dtype::bf16:
      return quantize_row_bf16;
    case dtype::q4_0:
      return quantize_row_q4_0;
    case dtype::q4_1:
      return quantize_row_q4_1;
    case dtype::q5_0:
      return quantize_row_q5_0;
    case dtype::q5_1:
      return quantize_row_q5_1;
    case dtype::q8_0:
      return quantize_row_q8_0;
    case dtype::q2_k:
      return quantize_row_q2_k;
    case dtype::q3_k:
      return quantize_row_q3_k;
    case dtype::q4_k:
      return quantize_row_q4_k;
    case dtype::q5_k:
      return quantize_row_q5_k;
    case dtype::q6_k:
      return quantize_row_q6_k;
    case dtype::q8_k:
      return quantize_row_q8_k;
    default:
      return nullptr;
  }
}

status check_length(dtype t, int64_t n) {
  const auto& tr = traits(t);
  if (n < 0 || n % tr.block_elems != 0)
    return make_error("{}: {} elements is not a multiple of the block size {}", tr.name, n,
                      tr.block_elems);
  return {};
}

}  // namespace

status dequantize_row(dtype t, const void* src, float* dst, int64_t n) {
  dequant_fn f = can_dequantize(t) ? dequant_for(t) : nullptr;
  if (f == nullptr) return make_error("no dequantizer for type {}", dtype_name(t));
  UMA_TRY(check_length(t, n));
  f(src, dst, n);
  return {};
}

status quantize_row(dtype t, const float* src, void* dst, int64_t n) {
  quant_fn f = can_quantize(t) ? quant_for(t) : nullptr;
  if (f == nullptr) return make_error("no quantizer for type {}", dtype_name(t));
  UMA_TRY(check_length(t, n));
  f(src, dst, n);
  return {};
}

}  // namespace uma
