// Reference codecs of the 256-element K formats: Q4_K, Q5_K, Q6_K (weights), Q8_K (activations),
// and dequantize-only Q2_K and Q3_K (common in downloaded files).
//
// Decoding repeats ggml's arithmetic exactly so files from the ecosystem dequantize
// bit-identically. Encoding follows the same ideas as ggml's reference quantizers:
//  - Q4_K / Q5_K: each 32-element sub-block gets (scale, min) with x ~ scale * q - min, found by
//    weighted least squares over a sweep of candidate inverse scales (weights favour large
//    magnitudes); the 8 scales and 8 mins are then coded in 6 bits against two half-precision
//    super-scales, and the codes recomputed with the values actually stored.
//  - Q6_K: each 16-element sub-block gets a symmetric scale maximising the x^2-weighted fit, then
//  the
//    16 scales are coded as int8 against one half-precision super-scale.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "tensor/quant_util.h"

namespace uma {
namespace {

using quant_detail::load_block;
using quant_detail::nearest_int;
using quant_detail::round_clamped;
using quant_detail::store_block;

// Unpacks the j-th (6-bit scale, 6-bit min) pair of Q4_K / Q5_K's 12-byte scale array: the first
// four pairs are the low 6 bits of bytes 0..3 / 4..7; the last four keep their low 4 bits in bytes
// 8..11 and their top 2 bits in the spare top bits of bytes 0..7.
inline void unpack_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void pack_scale_min(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
  std::memset(q, 0, k_scale_size);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] = ls[j];
      q[j + 4] = lm[j];
    } else {
      q[j + 4] = static_cast<uint8_t>((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
      q[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
      q[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
    }
  }
}

// Four floats as one value (GCC / clang vector extension: SSE2 on x86-64, NEON on arm64), so the
// inner loops of the scale searches run four lanes at a time on any target without reassociating
// float sums; lane order is fixed, so results do not depend on the target.
using f32x4 = float __attribute__((vector_size(16)));
inline f32x4 load4(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store4(float* p, f32x4 v) {
  std::memcpy(p, &v, sizeof(v));
}
inline f32x4 splat4(float v) {
  return f32x4{v, v, v, v};
}
inline float sum4(f32x4 v) {
  return (v[0] + v[1]) + (v[2] + v[3]);
}

// Code of v: v clamped to [lo, hi] (NaN to lo), rounded to nearest, ties to even, kept as float.
inline f32x4 code_of(f32x4 v, f32x4 lo, f32x4 hi) {
  v = v >= lo ? v : lo;
  v = v > hi ? hi : v;
  const f32x4 magic = splat4(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  return (v + magic) - magic;
}

// Weighted sums of the codes q_i = code_of(iscale * (x_i - offset)) over n (a multiple of 4)
// elements: s[0] = sum w q, s[1] = sum w q^2, s[2] = sum w q x.
inline void code_sums(const float* x, const float* w, int n, float iscale, float offset, float lo,
                      float hi, float* q, float* s) {
  const f32x4 vs = splat4(iscale), vo = splat4(offset), vlo = splat4(lo), vhi = splat4(hi);
  f32x4 a = splat4(0), b = splat4(0), c = splat4(0);
  for (int i = 0; i < n; i += 4) {
    const f32x4 xv = load4(x + i);
    const f32x4 l = code_of(vs * (xv - vo), vlo, vhi);
    store4(q + i, l);
    const f32x4 wl = load4(w + i) * l;
    a += wl;
    b += wl * l;
    c += wl * xv;
  }
  s[0] = sum4(a);
  s[1] = sum4(b);
  s[2] = sum4(c);
}

// Fits x ~ scale * q - neg_min with q in [0, qmax], neg_min >= 0, minimising sum w (error)^2.
// Tries the min/max grid and `nstep` candidate inverse scales (qmax + rmin + rdelta * s) / range,
// each followed by the closed-form least-squares (scale, min) for its codes; errors are evaluated
// in closed form from the same sums (double precision). Returns scale. n <= 32, a multiple of 4.
float fit_scale_min(const float* x, const float* w, int n, int qmax, uint8_t* codes, float* neg_min,
                    float rmin, float rdelta, int nstep) {
  float lo = x[0], hi = x[0];
  double sum_w = 0, sum_x = 0, sum_xx = 0;
  for (int i = 0; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
    sum_w += w[i];
    sum_x += w[i] * x[i];
    sum_xx += double(w[i]) * x[i] * x[i];
  }
  if (lo > 0) lo = 0;  // the min term only ever lowers values
  if (hi == lo) {
    std::memset(codes, 0, static_cast<size_t>(n));
    *neg_min = -lo;
    return 0;
  }
  const float range = hi - lo, fq = static_cast<float>(qmax);
  // Weighted squared error of scale * q + min, from the code sums.
  auto error = [&](double sc, double mn, const float* su) {
    return sc * sc * su[1] + 2 * sc * mn * su[0] + mn * mn * sum_w - 2 * sc * su[2] -
           2 * mn * sum_x + sum_xx;
  };
  float q[32], best_q[32], su[3];
  float iscale = fq / range;
  code_sums(x, w, n, iscale, lo, 0, fq, best_q, su);
  float scale = 1.0f / iscale, min = lo;
  double best = error(scale, min, su);
  for (int s = 0; s <= nstep; ++s) {
    iscale = (rmin + rdelta * static_cast<float>(s) + fq) / range;
    code_sums(x, w, n, iscale, lo, 0, fq, q, su);
    const double det = sum_w * su[1] - double(su[0]) * su[0];
    if (!(det > 0)) continue;
    double this_scale = (sum_w * su[2] - sum_x * su[0]) / det;
    double this_min = (su[1] * sum_x - su[0] * double(su[2])) / det;
    if (this_min > 0) {  // a positive offset is not representable: refit the scale alone
      this_min = 0;
      this_scale = su[2] / double(su[1]);
    }
    const double err = error(this_scale, this_min, su);
    if (err < best) {
      best = err;
      std::memcpy(best_q, q, sizeof(float) * static_cast<size_t>(n));
      scale = static_cast<float>(this_scale);
      min = static_cast<float>(this_min);
    }
  }
  for (int i = 0; i < n; ++i) codes[i] = static_cast<uint8_t>(best_q[i]);
  *neg_min = -min;
  return scale;
}

// Symmetric fit of x ~ scale * q, q in [-qmax, qmax - 1], weighting each element by x^2 (big
// values matter most). Sweeps 19 inverse scales around -qmax / max. Returns scale (may be < 0).
// n <= 32, a multiple of 4.
float fit_symmetric_weighted(const float* x, int n, int qmax) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-15f) return 0;
  float w[32], q[32], su[3];
  for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];
  const float lo = -static_cast<float>(qmax), hi = static_cast<float>(qmax - 1);
  float best_num = 0, best_den = 0;  // the fit quality is num^2 / den
  // s = 0 (the extreme element on -qmax) first: exact fits of simple rows come from it.
  for (int k = 0; k < 19; ++k) {
    const int s = k == 0 ? 0 : (k <= 9 ? -k : k - 9);
    const float iscale = -(static_cast<float>(qmax) + 0.1f * static_cast<float>(s)) / max;
    code_sums(x, w, n, iscale, 0, lo, hi, q, su);
    const float sxl = su[2], sll = su[1];
    if (sll > 0 && (best_den == 0 || sxl * sxl * best_den > best_num * best_num * sll)) {
      best_num = sxl;
      best_den = sll;
    }
  }
  return best_den > 0 ? best_num / best_den : 0;
}

// Shared Q4_K / Q5_K super-block encoder: codes in [0, qmax], scales packed into `scales`.
void encode_scale_min_block(const float* x, int qmax, float rmin, float rdelta, int nstep,
                            uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales, uint8_t* codes) {
  float sum_x2 = 0;
  for (int i = 0; i < qk_k; ++i) sum_x2 += x[i] * x[i];
  const float av_x = std::sqrt(sum_x2 / qk_k);
  float sub_scale[8], sub_min[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(x[32 * j + l]);
    sub_scale[j] =
        fit_scale_min(x + 32 * j, w, 32, qmax, codes + 32 * j, &sub_min[j], rmin, rdelta, nstep);
    max_scale = sub_scale[j] > max_scale ? sub_scale[j] : max_scale;
    max_min = sub_min[j] > max_min ? sub_min[j] : max_min;
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(round_clamped(inv_scale * sub_scale[j], 0, 63));
    lm[j] = static_cast<uint8_t>(round_clamped(inv_min * sub_min[j], 0, 63));
  }
  pack_scale_min(ls, lm, scales);
  // The two super-scales are stored in half precision: try the rounded value and its two
  // neighbours for each, recompute the codes against the values as stored, keep the least error.
  const uint16_t d0 = f32_to_f16(max_scale / 63.0f), m0 = f32_to_f16(max_min / 63.0f);
  const float fq = static_cast<float>(qmax);
  // Squared error of the block with super-scales (dh, mh); the codes go to q.
  auto evaluate = [&](uint16_t dh, uint16_t mh, float* q) {
    const float d_all = f16_to_f32(dh), dmin_all = f16_to_f32(mh);
    f32x4 e = splat4(0);
    const f32x4 zero = splat4(0), top = splat4(fq);
    for (int j = 0; j < 8; ++j) {
      const float d = d_all * static_cast<float>(ls[j]);
      const float m = dmin_all * static_cast<float>(lm[j]);
      const f32x4 vd = splat4(d), vm = splat4(m), vid = splat4(d != 0 ? 1.0f / d : 0.0f);
      for (int l = 0; l < 32; l += 4) {
        const f32x4 xv = load4(x + 32 * j + l);
        const f32x4 c = code_of((xv + vm) * vid, zero, top);
        store4(q + 32 * j + l, c);
        const f32x4 diff = vd * c - vm - xv;
        e += diff * diff;
      }
    }
    return sum4(e);
  };
  auto usable = [](uint16_t h, int delta) { return delta == 0 || (h != 0 && h < 0x7bff); };
  float best_q[qk_k], q[qk_k];
  uint16_t best_d = d0, best_m = m0;
  float best_err = evaluate(d0, m0, best_q);
  // One neighbour step for d, then for dmin (coordinate search: 5 evaluations).
  for (int axis = 0; axis < 2; ++axis) {
    const uint16_t base_d = best_d, base_m = best_m;
    for (int delta : {-1, 1}) {
      const uint16_t h = axis == 0 ? base_d : base_m;
      if (!usable(h, delta)) continue;
      const auto moved = static_cast<uint16_t>(h + delta);
      const uint16_t dh = axis == 0 ? moved : base_d, mh = axis == 0 ? base_m : moved;
      const float err = evaluate(dh, mh, q);
      if (err < best_err) {
        best_err = err;
        best_d = dh;
        best_m = mh;
        std::memcpy(best_q, q, sizeof(q));
      }
    }
  }
  *d_out = best_d;
  *dmin_out = best_m;
  for (int i = 0; i < qk_k; ++i) codes[i] = static_cast<uint8_t>(best_q[i]);
}

}  // namespace

// ---- Q4_K: 8 sub-blocks of 32; y = d * sc * q - dmin * m; nibbles of 64-element groups ----

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q4_k>(src, b);
    const float d = f16_to_f32(blk.d), min = f16_to_f32(blk.dmin);
    float* y = dst + b * qk_k;
    const uint8_t* q = blk.qs;
    for (int j = 0, is = 0; j < qk_k; j += 64, is += 2, q += 32) {
      uint8_t sc, m;
      unpack_scale_min(is, blk.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      unpack_scale_min(is + 1, blk.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0f) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk_k];
  for (int64_t b = 0; b < n / qk_k; ++b) {
    block_q4_k blk;
    encode_scale_min_block(src + b * qk_k, 15, -1.0f, 0.1f, 20, &blk.d, &blk.dmin, blk.scales,
                           codes);
    uint8_t* q = blk.qs;
    for (int j = 0; j < qk_k; j += 64, q += 32)
      for (int l = 0; l < 32; ++l)
        q[l] = static_cast<uint8_t>(codes[j + l] | (codes[j + l + 32] << 4));
    store_block(dst, b, blk);
  }
}

// ---- Q5_K: as Q4_K plus a 5th bit per element in qh (bit pairs per 64-element group) ----

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q5_k>(src, b);
    const float d = f16_to_f32(blk.d), min = f16_to_f32(blk.dmin);
    float* y = dst + b * qk_k;
    const uint8_t* ql = blk.qs;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < qk_k; j += 64, is += 2, ql += 32) {
      uint8_t sc, m;
      unpack_scale_min(is, blk.scales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      unpack_scale_min(is + 1, blk.scales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0x0f) + (blk.qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + (blk.qh[l] & u2 ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk_k];
  for (int64_t b = 0; b < n / qk_k; ++b) {
    block_q5_k blk;
    encode_scale_min_block(src + b * qk_k, 31, -0.5f, 0.1f, 15, &blk.d, &blk.dmin, blk.scales,
                           codes);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    uint8_t* ql = blk.qs;
    uint8_t m1 = 1, m2 = 2;
    for (int j = 0; j < qk_k; j += 64, ql += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t a = codes[j + l], c = codes[j + l + 32];
        if (a > 15) blk.qh[l] |= m1;
        if (c > 15) blk.qh[l] |= m2;
        ql[l] = static_cast<uint8_t>((a & 0x0f) | ((c & 0x0f) << 4));
      }
      m1 = static_cast<uint8_t>(m1 << 2);
      m2 = static_cast<uint8_t>(m2 << 2);
    }
    store_block(dst, b, blk);
  }
}

// ---- Q6_K: 16 sub-blocks of 16; y = d * sc * (q - 32), q split in 4 low + 2 high bits ----

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q6_k>(src, b);
    const float d = f16_to_f32(blk.d);
    float* y = dst + b * qk_k;
    const uint8_t* ql = blk.ql;
    const uint8_t* qh = blk.qh;
    const int8_t* sc = blk.scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  uint8_t codes[qk_k];
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const float* x = src + b * qk_k;
    float sub_scale[16];
    float max_abs = 0, max_scale = 0;
    for (int j = 0; j < 16; ++j) {
      sub_scale[j] = fit_symmetric_weighted(x + 16 * j, 16, 32);
      if (std::fabs(sub_scale[j]) > max_abs) {
        max_abs = std::fabs(sub_scale[j]);
        max_scale = sub_scale[j];
      }
    }
    block_q6_k blk;
    std::memset(&blk, 0, sizeof(blk));
    if (max_abs >= 1e-15f) {
      const float iscale = -128.0f / max_scale;
      blk.d = f32_to_f16(1.0f / iscale);
      const float d_all = f16_to_f32(blk.d);
      for (int j = 0; j < 16; ++j) {
        const int s = round_clamped(iscale * sub_scale[j], -128, 127);
        blk.scales[j] = static_cast<int8_t>(s);
        const float d = d_all * static_cast<float>(s);
        for (int l = 0; l < 16; ++l)
          codes[16 * j + l] =
              d == 0 ? 32 : static_cast<uint8_t>(round_clamped(x[16 * j + l] / d, -32, 31) + 32);
      }
      uint8_t* ql = blk.ql;
      uint8_t* qh = blk.qh;
      for (int j = 0; j < qk_k; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; ++l) {
          const uint8_t c1 = codes[j + l], c2 = codes[j + l + 32];
          const uint8_t c3 = codes[j + l + 64], c4 = codes[j + l + 96];
          ql[l] = static_cast<uint8_t>((c1 & 0x0f) | ((c3 & 0x0f) << 4));
          ql[l + 32] = static_cast<uint8_t>((c2 & 0x0f) | ((c4 & 0x0f) << 4));
          qh[l] = static_cast<uint8_t>((c1 >> 4) | ((c2 >> 4) << 2) | ((c3 >> 4) << 4) |
                                       ((c4 >> 4) << 6));
        }
      }
    }
    store_block(dst, b, blk);
  }
}

// ---- Q8_K: activations; d = max / -127 kept as float, bsums of 16 ----

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q8_k>(src, b);
    for (int j = 0; j < qk_k; ++j) dst[b * qk_k + j] = blk.d * static_cast<float>(blk.qs[j]);
  }
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const float* x = src + b * qk_k;
    float amax = 0, max = 0;
    for (int j = 0; j < qk_k; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    block_q8_k blk;
    std::memset(&blk, 0, sizeof(blk));
    if (amax != 0) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < qk_k; ++j)
        blk.qs[j] = static_cast<int8_t>(round_clamped(iscale * x[j], -127, 127));
      for (int g = 0; g < qk_k / 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += blk.qs[16 * g + l];
        blk.bsums[g] = static_cast<int16_t>(sum);
      }
      blk.d = 1.0f / iscale;
    }
    store_block(dst, b, blk);
  }
}

// ---- Q2_K: 16 sub-blocks of 16, 4-bit scale and min, 2-bit codes ----

// Each group of 16 fitted as scale * q - min, q in [0, 3], weighted by |x| (fit_scale_min's grid
// of 16 inverse scales from (3 - 0.5) / range), the group scales and mins quantized to 4 bits
// against d = max scale / 15 and dmin = max min / 15, then every code recomputed from its group's
// final scale and min.
void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const float* x = src + b * qk_k;
    float sub_scale[16], sub_min[16], w[16];
    uint8_t codes[qk_k];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
      sub_scale[j] =
          fit_scale_min(x + 16 * j, w, 16, 3, codes + 16 * j, &sub_min[j], -0.5f, 0.1f, 15);
      max_scale = sub_scale[j] > max_scale ? sub_scale[j] : max_scale;
      max_min = sub_min[j] > max_min ? sub_min[j] : max_min;
    }
    block_q2_k blk;
    std::memset(&blk, 0, sizeof(blk));
    blk.d = f32_to_f16(max_scale / 15.0f);
    blk.dmin = f32_to_f16(max_min / 15.0f);
    const float d_all = f16_to_f32(blk.d), dmin_all = f16_to_f32(blk.dmin);
    for (int j = 0; j < 16; ++j) {
      const int ls = d_all > 0 ? round_clamped(sub_scale[j] / d_all, 0, 15) : 0;
      const int lm = dmin_all > 0 ? round_clamped(sub_min[j] / dmin_all, 0, 15) : 0;
      blk.scales[j] = static_cast<uint8_t>(ls | (lm << 4));
      const float d = d_all * static_cast<float>(ls), m = dmin_all * static_cast<float>(lm);
      for (int l = 0; l < 16; ++l)
        codes[16 * j + l] =
            d == 0 ? 0 : static_cast<uint8_t>(round_clamped((x[16 * j + l] + m) / d, 0, 3));
    }
    // Element 128 h + 32 j + l: bits 2j of qs[32 h + l].
    for (int e = 0; e < qk_k; ++e)
      blk.qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(codes[e] << (2 * ((e % 128) / 32)));
    store_block(dst, b, blk);
  }
}

void dequantize_row_q2_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q2_k>(src, b);
    const float d = f16_to_f32(blk.d), min = f16_to_f32(blk.dmin);
    float* y = dst + b * qk_k;
    const uint8_t* q = blk.qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = blk.scales[is++];
          const float dl = d * static_cast<float>(sc & 0x0f);
          const float ml = min * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// ---- Q3_K: 16 sub-blocks of 16, 6-bit signed scales, 2 low bits + high mask ----

// Each group of 16 fitted as scale * q, q in [-4, 3] (x^2-weighted sweep, then coordinate
// descent on the codes: each code moved to its best value for the current least-squares scale,
// as long as the weighted fit improves), the group scales quantized to 6 signed bits against
// d = max / -32, then every code recomputed from its group's final scale.
namespace {

float fit_q3_group(const float* x, int8_t* codes) {
  float s = fit_symmetric_weighted(x, 16, 4);
  if (s == 0) return 0;
  float w[16];
  for (int i = 0; i < 16; ++i) w[i] = x[i] * x[i];
  int q[16];
  for (int i = 0; i < 16; ++i) q[i] = round_clamped(x[i] / s, -4, 3);
  for (int pass = 0; pass < 5; ++pass) {
    double sxl = 0, sll = 0;
    for (int i = 0; i < 16; ++i) sxl += w[i] * x[i] * q[i], sll += w[i] * q[i] * q[i];
    bool changed = false;
    for (int i = 0; i < 16; ++i) {
      const double sl = sxl - w[i] * x[i] * q[i], ll = sll - w[i] * q[i] * q[i];
      const int cand =
          round_clamped(static_cast<float>(ll > 0 && sl != 0 ? x[i] * ll / sl : x[i] / s), -4, 3);
      if (cand == q[i]) continue;
      const double sl2 = sl + w[i] * x[i] * cand, ll2 = ll + w[i] * cand * cand;
      if (ll2 > 0 && sl2 * sl2 * sll > sxl * sxl * ll2) {
        sxl = sl2, sll = ll2, q[i] = cand, changed = true;
      }
    }
    if (sll > 0) s = static_cast<float>(sxl / sll);
    if (!changed) break;
  }
  for (int i = 0; i < 16; ++i) codes[i] = static_cast<int8_t>(q[i]);
  return s;
}

}  // namespace

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const float* x = src + b * qk_k;
    float sub_scale[16];
    int8_t unused[16];
    float max_abs = 0, max_scale = 0;
    for (int j = 0; j < 16; ++j) {
      sub_scale[j] = fit_q3_group(x + 16 * j, unused);
      if (std::fabs(sub_scale[j]) > max_abs) {
        max_abs = std::fabs(sub_scale[j]);
        max_scale = sub_scale[j];
      }
    }
    block_q3_k blk;
    std::memset(&blk, 0, sizeof(blk));
    uint8_t codes[qk_k];  // q + 4, in [0, 7]
    std::memset(codes, 4, sizeof(codes));
    if (max_abs >= 1e-15f) {
      const float iscale = -32.0f / max_scale;
      blk.d = f32_to_f16(1.0f / iscale);
      const float d_all = f16_to_f32(blk.d);
      for (int j = 0; j < 16; ++j) {
        const int sc = round_clamped(iscale * sub_scale[j], -32, 31);
        const int u = sc + 32;  // 6 bits: low 4 in byte j % 8 (nibble j / 8), high 2 in 8 + j % 4
        blk.scales[j % 8] |= static_cast<uint8_t>((u & 0x0f) << (4 * (j / 8)));
        blk.scales[8 + j % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
        const float d = d_all * static_cast<float>(sc);
        for (int l = 0; l < 16; ++l)
          codes[16 * j + l] =
              d == 0 ? 4 : static_cast<uint8_t>(round_clamped(x[16 * j + l] / d, -4, 3) + 4);
      }
    }
    // Element 128 h + 32 j + l: bits 2j of qs[32 h + l], its high bit at hmask[l] bit 4 h + j.
    for (int e = 0; e < qk_k; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      blk.qs[32 * h + l] |= static_cast<uint8_t>((codes[e] & 3) << (2 * j));
      if (codes[e] & 4) blk.hmask[l] |= static_cast<uint8_t>(1 << (4 * h + j));
    }
    store_block(dst, b, blk);
  }
}

void dequantize_row_q3_k(const void* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / qk_k; ++b) {
    const auto blk = load_block<block_q3_k>(src, b);
    const float d_all = f16_to_f32(blk.d);
    // 16 scales of 6 bits: low 4 bits in bytes 0..7 (two per byte), high 2 bits in bytes 8..11.
    int8_t scales[16];
    for (int j = 0; j < 16; ++j) {
      const int lo = j < 8 ? (blk.scales[j] & 0x0f) : (blk.scales[j - 8] >> 4);
      const int hi = (blk.scales[8 + (j % 4)] >> (2 * (j / 4))) & 3;
      scales[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
    }
    float* y = dst + b * qk_k;
    const uint8_t* q = blk.qs;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * static_cast<float>(scales[is++]);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * part;
            const int v = ((q[k] >> shift) & 3) - ((blk.hmask[k] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

}  // namespace uma
