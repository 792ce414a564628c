// Reference codecs of the 32-element "legacy" formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0.
//
// Decoding follows ggml's arithmetic exactly (same operations in the same order), so GGUF files
// from the ecosystem dequantize bit-identically. Encoding chooses each block's scale by a small
// search: a few candidate scales around the max-magnitude one, plus the least-squares refit of the
// best, each evaluated with the half-precision value actually stored; the lowest squared error
// wins.
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "tensor/quant_util.h"

namespace uma {
namespace {

using quant_detail::load_block;
using quant_detail::round_clamped;
using quant_detail::store_block;

// Symmetric block: x ~ d * q, q in [qmin, qmax] (qmin = -qmax - 1). Returns the fp16 bits of d and
// writes q + (-qmin) (the stored unsigned code) into codes.
uint16_t fit_symmetric(const float* x, int qmax, uint8_t* codes) {
  const int n = qk32;
  const int qmin = -qmax - 1;
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0) {
    std::memset(codes, static_cast<unsigned>(-qmin), n);
    return 0;
  }
  uint8_t trial[qk32];
  float best_err = INFINITY;
  uint16_t best_d = 0;
  // Evaluates the stored (half-rounded) scale; keeps it if it beats the best so far.
  auto consider = [&](float d_wanted) {
    const uint16_t dh = f32_to_f16(d_wanted);
    const float d = f16_to_f32(dh);
    if (d == 0 || !std::isfinite(d)) return;
    const float id = 1.0f / d;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = round_clamped(x[i] * id, qmin, qmax);
      trial[i] = static_cast<uint8_t>(q - qmin);
      const float diff = x[i] - d * static_cast<float>(q);
      err += diff * diff;
    }
    if (err < best_err) {
      best_err = err;
      best_d = dh;
      std::memcpy(codes, trial, n);
    }
  };
  // The extreme element maps to qmin (ggml's choice) or slightly inside the range.
  for (int k = 0; k <= 4; ++k) consider(max / (static_cast<float>(qmin) + 0.25f * k));
  if (best_err == INFINITY) {  // scale underflows half precision: all zero
    std::memset(codes, static_cast<unsigned>(-qmin), n);
    return 0;
  }
  // Least-squares refit of d for the chosen codes.
  float sxl = 0, sll = 0;
  for (int i = 0; i < n; ++i) {
    const float l = static_cast<float>(codes[i]) + static_cast<float>(qmin);
    sxl += x[i] * l;
    sll += l * l;
  }
  if (sll > 0) consider(sxl / sll);
  return best_d;
}

// Asymmetric block: x ~ d * q + m, q in [0, qmax]. Writes d, m (fp16 bits) and the codes.
void fit_affine(const float* x, int qmax, uint16_t* d_out, uint16_t* m_out, uint8_t* codes) {
  const int n = qk32;
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  uint8_t trial[qk32];
  float best_err = INFINITY;
  auto consider = [&](float d_wanted, float m_wanted) {
    const uint16_t dh = f32_to_f16(d_wanted), mh = f32_to_f16(m_wanted);
    const float d = f16_to_f32(dh), m = f16_to_f32(mh);
    if (!std::isfinite(d) || !std::isfinite(m)) return;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const int q = round_clamped((x[i] - m) * id, 0, qmax);
      trial[i] = static_cast<uint8_t>(q);
      const float diff = x[i] - (static_cast<float>(q) * d + m);
      err += diff * diff;
    }
    if (err < best_err) {
      best_err = err;
      *d_out = dh;
      *m_out = mh;
      std::memcpy(codes, trial, n);
    }
  };
  consider((hi - lo) / static_cast<float>(qmax), lo);
  // Two rounds of least-squares refit of (d, m) for the current codes.
  for (int round = 0; round < 2 && best_err > 0; ++round) {
    float sl = 0, sll = 0, sx = 0, sxl = 0;
    for (int i = 0; i < n; ++i) {
      const float l = codes[i];
      sl += l;
      sll += l * l;
      sx += x[i];
      sxl += x[i] * l;
    }
    const float det = n * sll - sl * sl;
    if (det <= 0) break;
    const float d = (n * sxl - sl * sx) / det;
    const float m = (sll * sx - sl * sxl) / det;
    if (!(d > 0)) break;
    consider(d, m);
  }
  if (best_err == INFINITY) {  // only reachable with non-finite input
    *d_out = 0;
    *m_out = 0;
    std::memset(codes, 0, n);
  }
}

}  // namespace

// ---- Q4_0: (q - 8) * d, element j in the low nibble of qs[j], j + 16 in the high nibble ----

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const auto blk = load_block<block_q4_0>(src, b);
    const float d = f16_to_f32(blk.d);
    float* y = dst + b * qk32;
    for (int j = 0; j < qk32 / 2; ++j) {
      const int x0 = (blk.qs[j] & 0x0f) - 8;
      const int x1 = (blk.qs[j] >> 4) - 8;
      y[j] = static_cast<float>(x0) * d;
      y[j + qk32 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk32];
  for (int64_t b = 0; b < n / qk32; ++b) {
    block_q4_0 blk;
    blk.d = fit_symmetric(src + b * qk32, 7, codes);
    for (int j = 0; j < qk32 / 2; ++j)
      blk.qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + qk32 / 2] << 4));
    store_block(dst, b, blk);
  }
}

// ---- Q4_1: q * d + m ----

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const auto blk = load_block<block_q4_1>(src, b);
    const float d = f16_to_f32(blk.d), m = f16_to_f32(blk.m);
    float* y = dst + b * qk32;
    for (int j = 0; j < qk32 / 2; ++j) {
      y[j] = static_cast<float>(blk.qs[j] & 0x0f) * d + m;
      y[j + qk32 / 2] = static_cast<float>(blk.qs[j] >> 4) * d + m;
    }
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk32];
  for (int64_t b = 0; b < n / qk32; ++b) {
    block_q4_1 blk;
    fit_affine(src + b * qk32, 15, &blk.d, &blk.m, codes);
    for (int j = 0; j < qk32 / 2; ++j)
      blk.qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + qk32 / 2] << 4));
    store_block(dst, b, blk);
  }
}

// ---- Q5_0 / Q5_1: low 4 bits as in Q4, 5th bit of element j in bit j of the 32-bit qh ----

namespace {

uint32_t read_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
         (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
}

void pack5(const uint8_t* codes, uint8_t* qs, uint8_t* qh_out) {
  uint32_t qh = 0;
  for (int j = 0; j < qk32 / 2; ++j) {
    const uint8_t lo = codes[j], hi = codes[j + qk32 / 2];
    qs[j] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
    qh |= static_cast<uint32_t>(lo >> 4) << j;
    qh |= static_cast<uint32_t>(hi >> 4) << (j + qk32 / 2);
  }
  for (int k = 0; k < 4; ++k) qh_out[k] = static_cast<uint8_t>(qh >> (8 * k));
}

}  // namespace

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const auto blk = load_block<block_q5_0>(src, b);
    const float d = f16_to_f32(blk.d);
    const uint32_t qh = read_qh(blk.qh);
    float* y = dst + b * qk32;
    for (int j = 0; j < qk32 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int h1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      const int x0 = ((blk.qs[j] & 0x0f) | h0) - 16;
      const int x1 = ((blk.qs[j] >> 4) | h1) - 16;
      y[j] = static_cast<float>(x0) * d;
      y[j + qk32 / 2] = static_cast<float>(x1) * d;
    }
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk32];
  for (int64_t b = 0; b < n / qk32; ++b) {
    block_q5_0 blk;
    blk.d = fit_symmetric(src + b * qk32, 15, codes);
    pack5(codes, blk.qs, blk.qh);
    store_block(dst, b, blk);
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const auto blk = load_block<block_q5_1>(src, b);
    const float d = f16_to_f32(blk.d), m = f16_to_f32(blk.m);
    const uint32_t qh = read_qh(blk.qh);
    float* y = dst + b * qk32;
    for (int j = 0; j < qk32 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int h1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      const int x0 = (blk.qs[j] & 0x0f) | h0;
      const int x1 = (blk.qs[j] >> 4) | h1;
      y[j] = static_cast<float>(x0) * d + m;
      y[j + qk32 / 2] = static_cast<float>(x1) * d + m;
    }
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk32];
  for (int64_t b = 0; b < n / qk32; ++b) {
    block_q5_1 blk;
    fit_affine(src + b * qk32, 31, &blk.d, &blk.m, codes);
    pack5(codes, blk.qs, blk.qh);
    store_block(dst, b, blk);
  }
}

// ---- Q8_0: q * d, d = max|x| / 127 (also the activation format of the legacy dot products).
// Codes round half away from zero, as ggml's reference does, so the bytes match ggml's. ----

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const auto blk = load_block<block_q8_0>(src, b);
    const float d = f16_to_f32(blk.d);
    float* y = dst + b * qk32;
    for (int j = 0; j < qk32; ++j) y[j] = static_cast<float>(blk.qs[j]) * d;
  }
}

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk32; ++b) {
    const float* x = src + b * qk32;
    float amax = 0;
    for (int j = 0; j < qk32; ++j) {
      const float a = std::fabs(x[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    block_q8_0 blk;
    blk.d = f32_to_f16(d);
    for (int j = 0; j < qk32; ++j)
      blk.qs[j] = static_cast<int8_t>(std::round(quant_detail::clampf(x[j] * id, -127.0f, 127.0f)));
    store_block(dst, b, blk);
  }
}

}  // namespace uma
