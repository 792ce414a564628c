// The NEON matmul kernels' shared part (armv8.2-a dotprod): the block formats' unpacking, the
// sdot tiles and drivers, and the activation converters. Included by matmul_neon.cpp (the neon
// backend) and matmul_i8mm.cpp (neon-i8mm: the same, with smmla tiles for the legacy formats);
// everything lives in an anonymous namespace, so each includer compiles its own copy with its own
// target flags (see matmul_neon.cpp).
//
// Integer products use sdot (vdotq_s32: 4 signed bytes x 4 signed bytes into each int32 lane), so
// the weight offsets (-8 for Q4_0, -16 for Q5_0, -32 for Q6_K) are applied to the unpacked bytes
// and no activation-sum correction is needed. The legacy formats (32-element blocks) accumulate
// each block's product in float lanes, as the x86 kernels do; the K formats sum each super-block
// exactly in integers and then do the scalar reference's float arithmetic in its order.
//
// Shapes: a tile is R weight rows x C activation rows; each (row, activation) pair accumulates its
// blocks in the same order whatever the tile, so results do not depend on the tiling or threads.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/backend.h"
#include "kernels/ref/scalar.h"
#include "tensor/blocks.h"

namespace {

using uma::block_q2_k;
using uma::block_q3_k;
using uma::block_q4_0;
using uma::block_q4_1;
using uma::block_q4_k;
using uma::block_q5_0;
using uma::block_q5_1;
using uma::block_q5_k;
using uma::block_q6_k;
using uma::block_q8_0;
using uma::block_q8_1;
using uma::block_q8_k;
using uma::kernels::gemm_args;

// IEEE half <-> float by the FP unit (fcvt; round to nearest even, subnormals kept: FPCR default).
inline float h2f(uint16_t h) {
  __fp16 f;
  std::memcpy(&f, &h, 2);
  return static_cast<float>(f);
}
inline uint16_t f2h(float f) {
  const auto h = static_cast<__fp16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}

// Decode rows are short (a few hundred bytes), so a tile's R row streams rarely get the hardware
// prefetcher going; the next tile reads the same block R rows further on, so touch it now. Mirrors
// the x86 kernels (where it doubled decode speed); not yet measured on an ARM machine.
template <class T>
inline void prefetch_ahead(const T* p, size_t ahead) {
  const char* c = reinterpret_cast<const char*>(p) + ahead;
  for (size_t off = 0; off < sizeof(T); off += 64) __builtin_prefetch(c + off, 0, 3);
}

inline int8x16_t as_s8(uint8x16_t v) {
  return vreinterpretq_s8_u8(v);
}

// ---------------------------------------------------------------------------------------------
// Legacy formats (32-element blocks) against Q8_0 / Q8_1 activations.

// One unpacked block: signed bytes of elements 0..15 and 16..31.
struct q32 {
  int8x16_t lo, hi;
};

// 16 bytes of nibbles: element j in the low nibble of byte j, element j + 16 in the high nibble.
inline void nibbles(const uint8_t* qs, uint8x16_t& lo, uint8x16_t& hi) {
  const uint8x16_t x = vld1q_u8(qs);
  lo = vandq_u8(x, vdupq_n_u8(0x0F));
  hi = vshrq_n_u8(x, 4);
}

// Q5_0 / Q5_1: bit j of the 32-bit qh is the fifth bit of element j; returned as 0x10 bytes.
inline void fifth_bits(const uint8_t* qh4, uint8x16_t& lo, uint8x16_t& hi) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  const uint8x8_t b8 = vcreate_u8(qh);  // bytes 0..3: qh, little endian (bits 0..7 in byte 0)
  const uint8x16_t b16 = vcombine_u8(b8, b8);
  // Output byte j takes qh byte j / 8 and tests its bit j % 8.
  const uint8x16_t idx_lo = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  const uint8x16_t idx_hi = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  const uint8x16_t bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t v10 = vdupq_n_u8(0x10);
  lo = vandq_u8(vtstq_u8(vqtbl1q_u8(b16, idx_lo), bit), v10);
  hi = vandq_u8(vtstq_u8(vqtbl1q_u8(b16, idx_hi), bit), v10);
}

inline q32 minus(uint8x16_t lo, uint8x16_t hi, int8_t offset) {
  const int8x16_t o = vdupq_n_s8(offset);
  return {vsubq_s8(as_s8(lo), o), vsubq_s8(as_s8(hi), o)};
}

struct q4_0_fmt {
  using block = block_q4_0;
  using act = block_q8_0;
  static constexpr bool has_min = false;
  static q32 unpack(const block& b) {
    uint8x16_t lo, hi;
    nibbles(b.qs, lo, hi);
    return minus(lo, hi, 8);
  }
};
struct q4_1_fmt {
  using block = block_q4_1;
  using act = block_q8_1;
  static constexpr bool has_min = true;
  static q32 unpack(const block& b) {
    uint8x16_t lo, hi;
    nibbles(b.qs, lo, hi);
    return {as_s8(lo), as_s8(hi)};
  }
};
struct q5_0_fmt {
  using block = block_q5_0;
  using act = block_q8_0;
  static constexpr bool has_min = false;
  static q32 unpack(const block& b) {
    uint8x16_t lo, hi, h0, h1;
    nibbles(b.qs, lo, hi);
    fifth_bits(b.qh, h0, h1);
    return minus(vorrq_u8(lo, h0), vorrq_u8(hi, h1), 16);
  }
};
struct q5_1_fmt {
  using block = block_q5_1;
  using act = block_q8_1;
  static constexpr bool has_min = true;
  static q32 unpack(const block& b) {
    uint8x16_t lo, hi, h0, h1;
    nibbles(b.qs, lo, hi);
    fifth_bits(b.qh, h0, h1);
    return {as_s8(vorrq_u8(lo, h0)), as_s8(vorrq_u8(hi, h1))};
  }
};
struct q8_0_fmt {
  using block = block_q8_0;
  using act = block_q8_0;
  static constexpr bool has_min = false;
  static q32 unpack(const block& b) { return {vld1q_s8(b.qs), vld1q_s8(b.qs + 16)}; }
};

template <class F, int R, int C>
void legacy_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = typename F::block;
  using act = typename F::act;
  const int64_t nb = g.cols / 32;
  const block* x[R];
  const act* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const act*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  float32x4_t acc[R][C];
  float macc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = vdupq_n_f32(0.f);
      macc[r][c] = 0.f;
    }
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t b = 0; b < nb; ++b) {
    int8x16_t y0[C], y1[C];
    float dy[C], sy[C];
    for (int c = 0; c < C; ++c) {
      y0[c] = vld1q_s8(y[c][b].qs);
      y1[c] = vld1q_s8(y[c][b].qs + 16);
      dy[c] = h2f(y[c][b].d);
      if constexpr (F::has_min) sy[c] = h2f(y[c][b].s);
    }
    for (int r = 0; r < R; ++r) {
      prefetch_ahead(&x[r][b], R * g.w_row_bytes);
      const q32 q = F::unpack(x[r][b]);
      const float dx = h2f(x[r][b].d);
      float mx = 0.f;
      if constexpr (F::has_min) mx = h2f(x[r][b].m);
      for (int c = 0; c < C; ++c) {
        const int32x4_t p = vdotq_s32(vdotq_s32(zero, q.lo, y0[c]), q.hi, y1[c]);
        acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(p), dx * dy[c]);
        if constexpr (F::has_min) macc[r][c] += mx * sy[c];
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = vaddvq_f32(acc[r][c]) + macc[r][c];
}

// ---------------------------------------------------------------------------------------------
// K formats (256-element super-blocks) against Q8_K activations.

// The 8 six-bit scales and 8 six-bit mins of a Q4_K / Q5_K block, packed in 12 bytes: sub-blocks
// 0..3 keep theirs in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 have
// their low 4 bits in the nibbles of bytes 8..11 and their top 2 bits in the top bits of 0..7.
inline void k4_unpack_scales(const uint8_t* packed, uint8_t sc[8], uint8_t mn[8]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, packed, 4);
  std::memcpy(&u1, packed + 4, 4);
  std::memcpy(&u2, packed + 8, 4);
  constexpr uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
  const uint32_t s_lo = u0 & low6, m_lo = u1 & low6;
  const uint32_t s_hi = (u2 & low4) | (((u0 >> 6) & low2) << 4);
  const uint32_t m_hi = ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4);
  std::memcpy(sc, &s_lo, 4);
  std::memcpy(sc + 4, &s_hi, 4);
  std::memcpy(mn, &m_lo, 4);
  std::memcpy(mn + 4, &m_hi, 4);
}

// sum_j mn[j] * (bsums[2j] + bsums[2j+1]), exact.
inline int k4_min_sum(const uint8_t mn[8], const int16_t* bsums) {
  const int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
  const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
  int32x4_t s = vmull_s16(vget_low_s16(pairs), vget_low_s16(m));
  s = vmlal_high_s16(s, pairs, m);
  return vaddvq_s32(s);
}

// A Q4_K / Q5_K block's sub-blocks 2j (low nibbles of qs[32j..32j+31]) and 2j+1 (high nibbles)
// as bytes: v[0] / v[1] sub-block 2j's elements 0..15 / 16..31, v[2] / v[3] sub-block 2j+1's;
// Q5_K's fifth bits from qh (bit k of qh[l]: element l of sub-block k) when `five`.
inline const uint8_t* q5k_high_bits(const block_q4_k&) {
  return nullptr;
}
inline const uint8_t* q5k_high_bits(const block_q5_k& b) {
  return b.qh;
}
template <bool five>
inline void q45k_values(const uint8_t* qs, const uint8_t* qh, int j, uint8x16_t v[4]) {
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  const uint8x16_t raw0 = vld1q_u8(qs + 32 * j), raw1 = vld1q_u8(qs + 32 * j + 16);
  v[0] = vandq_u8(raw0, low4), v[1] = vandq_u8(raw1, low4);
  v[2] = vshrq_n_u8(raw0, 4), v[3] = vshrq_n_u8(raw1, 4);
  if constexpr (five) {
    const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16), v10 = vdupq_n_u8(0x10);
    const uint8x16_t ma = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * j)));
    const uint8x16_t mb = vdupq_n_u8(static_cast<uint8_t>(2u << (2 * j)));
    v[0] = vorrq_u8(v[0], vandq_u8(vtstq_u8(h0, ma), v10));
    v[1] = vorrq_u8(v[1], vandq_u8(vtstq_u8(h1, ma), v10));
    v[2] = vorrq_u8(v[2], vandq_u8(vtstq_u8(h0, mb), v10));
    v[3] = vorrq_u8(v[3], vandq_u8(vtstq_u8(h1, mb), v10));
  }
}

template <bool five, int R, int C>
void q45k_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = std::conditional_t<five, block_q5_k, block_q4_k>;
  const int64_t nb = g.cols / 256;
  const block* x[R];
  const block_q8_k* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  float s[R][C] = {};
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      uint8_t sc[8], mn[8];
      k4_unpack_scales(xb.scales, sc, mn);
      int32x4_t isum[C];
      for (int c = 0; c < C; ++c) isum[c] = zero;
      for (int j = 0; j < 4; ++j) {
        uint8x16_t v[4];
        q45k_values<five>(xb.qs, q5k_high_bits(xb), j, v);
        const uint8x16_t a0 = v[0], a1 = v[1], b0 = v[2], b1 = v[3];
        for (int c = 0; c < C; ++c) {
          const int8_t* yq = y[c][b].qs + 64 * j;
          const int32x4_t pa =
              vdotq_s32(vdotq_s32(zero, as_s8(a0), vld1q_s8(yq)), as_s8(a1), vld1q_s8(yq + 16));
          const int32x4_t pb = vdotq_s32(vdotq_s32(zero, as_s8(b0), vld1q_s8(yq + 32)), as_s8(b1),
                                         vld1q_s8(yq + 48));
          isum[c] = vmlaq_n_s32(isum[c], pa, sc[2 * j]);
          isum[c] = vmlaq_n_s32(isum[c], pb, sc[2 * j + 1]);
        }
      }
      const float d = h2f(xb.d), dmin = h2f(xb.dmin);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        const int sumi = vaddvq_s32(isum[c]);
        const int summs = k4_min_sum(mn, yb.bsums);
        s[r][c] += yb.d * d * static_cast<float>(sumi) - yb.d * dmin * static_cast<float>(summs);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = s[r][c];
}

// Q2_K (Three = false) and Q3_K: half h holds elements 128h..128h+127 in 4 quarters of 32;
// quarter j is bits 2j..2j+1 of qs[32h + l] (Q3_K: minus 4 unless bit 4h + j of hmask[l] is set,
// so the values are signed and sdot takes them as they are). Each pass of k covers l in
// [16k, 16k + 16) of every quarter: one group of 16 (one scale) each. Q2_K's scales and mins are
// the nibbles of its scale bytes, the min term from the activation's 16-element sums.
template <bool Three, int R, int C>
void q23k_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = std::conditional_t<Three, block_q3_k, block_q2_k>;
  const int64_t nb = g.cols / 256;
  const block* x[R];
  const block_q8_k* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  float s[R][C] = {};
  const uint8x16_t three = vdupq_n_u8(3);
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      int8_t sc[16];
      if constexpr (Three) {
        uma::kernels::ref::q3k_scales(xb.scales, sc);
      } else {
        for (int i = 0; i < 16; ++i) sc[i] = static_cast<int8_t>(xb.scales[i] & 0xF);
      }
      int32x4_t isum[C];
      for (int c = 0; c < C; ++c) isum[c] = zero;
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 2; ++k) {
          const uint8x16_t qb = vld1q_u8(xb.qs + 32 * h + 16 * k);
          for (int j = 0; j < 4; ++j) {
            uint8x16_t u = vandq_u8(vshlq_u8(qb, vdupq_n_s8(static_cast<int8_t>(-2 * j))), three);
            int8x16_t v;
            if constexpr (Three) {
              const uint8x16_t hm = vld1q_u8(xb.hmask + 16 * k);
              const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << (4 * h + j)));
              u = vorrq_u8(u, vandq_u8(vtstq_u8(hm, bit), vdupq_n_u8(4)));
              v = vsubq_s8(as_s8(u), vdupq_n_s8(4));
            } else {
              v = as_s8(u);
            }
            const int e = 128 * h + 32 * j + 16 * k;  // first element of this group of 16
            for (int c = 0; c < C; ++c)
              isum[c] =
                  vmlaq_n_s32(isum[c], vdotq_s32(zero, v, vld1q_s8(y[c][b].qs + e)), sc[e / 16]);
          }
        }
      }
      const float d = h2f(xb.d);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        s[r][c] += yb.d * d * static_cast<float>(vaddvq_s32(isum[c]));
        if constexpr (!Three) {
          int summs = 0;
          for (int i = 0; i < 16; ++i) summs += (xb.scales[i] >> 4) * yb.bsums[i];
          s[r][c] -= yb.d * h2f(xb.dmin) * static_cast<float>(summs);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = s[r][c];
}

// A Q6_K block's pass (h, k): half h holds elements 128h..128h+127 in 4 quarters of 32; quarter
// q takes the low (q < 2) or high nibbles of ql[64h + 32 (q & 1) + l] and bits 2q, 2q+1 of
// qh[32h + l]; the pass covers l in [16k, 16k + 16) of every quarter (one group of 16, one scale,
// each): v[q] = that group's values, minus 32.
inline void q6k_values(const block_q6_k& xb, int h, int k, int8x16_t v[4]) {
  const uint8x16_t two = vdupq_n_u8(0x03), low4 = vdupq_n_u8(0x0F);
  const int8x16_t v32 = vdupq_n_s8(32);
  const uint8x16_t l0 = vld1q_u8(xb.ql + 64 * h + 16 * k);
  const uint8x16_t l1 = vld1q_u8(xb.ql + 64 * h + 32 + 16 * k);
  const uint8x16_t hb = vld1q_u8(xb.qh + 32 * h + 16 * k);
  v[0] = vsubq_s8(as_s8(vsliq_n_u8(vandq_u8(l0, low4), vandq_u8(hb, two), 4)), v32);
  v[1] = vsubq_s8(as_s8(vsliq_n_u8(vandq_u8(l1, low4), vandq_u8(vshrq_n_u8(hb, 2), two), 4)), v32);
  v[2] = vsubq_s8(as_s8(vsliq_n_u8(vshrq_n_u8(l0, 4), vandq_u8(vshrq_n_u8(hb, 4), two), 4)), v32);
  v[3] = vsubq_s8(as_s8(vsliq_n_u8(vshrq_n_u8(l1, 4), vshrq_n_u8(hb, 6), 4)), v32);
}

template <int R, int C>
void q6k_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  const int64_t nb = g.cols / 256;
  const block_q6_k* x[R];
  const block_q8_k* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block_q6_k*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  float s[R][C] = {};
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block_q6_k& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      int32x4_t isum[C];
      for (int c = 0; c < C; ++c) isum[c] = zero;
      // The block's passes (h, k), each a group of 16 of every quarter (q6k_values).
      for (int h = 0; h < 2; ++h) {
        for (int k = 0; k < 2; ++k) {
          int8x16_t q[4];
          q6k_values(xb, h, k, q);
          for (int qq = 0; qq < 4; ++qq) {
            const int e = 128 * h + 32 * qq + 16 * k;  // first element of this group of 16
            const int8x16_t v = q[qq];
            const int scale = xb.scales[e / 16];
            for (int c = 0; c < C; ++c)
              isum[c] = vmlaq_n_s32(isum[c], vdotq_s32(zero, v, vld1q_s8(y[c][b].qs + e)), scale);
          }
        }
      }
      const float d = h2f(xb.d);
      for (int c = 0; c < C; ++c)
        s[r][c] += y[c][b].d * d * static_cast<float>(vaddvq_s32(isum[c]));
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = s[r][c];
}

// ---------------------------------------------------------------------------------------------
// Float formats: F32 x F32, F16 x F16, BF16 x BF16, all multiplied in f32.

struct f32_fmt {
  using elem = float;
  static float32x4_t load4(const float* p) { return vld1q_f32(p); }
  static float one(const float* p) { return *p; }
};
struct f16_fmt {
  using elem = uint16_t;
  static float32x4_t load4(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
  static float one(const uint16_t* p) { return h2f(*p); }
};
struct bf16_fmt {
  using elem = uint16_t;
  static float32x4_t load4(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
  }
  static float one(const uint16_t* p) {
    const uint32_t b = static_cast<uint32_t>(*p) << 16;
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
};

template <class F, int R, int C>
void float_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using E = typename F::elem;
  // Two accumulators per pair when the tile is small, so matvec has enough independent FMAs.
  constexpr int U = R * C <= 4 ? 2 : 1;
  const E* x[R];
  const E* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const E*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const E*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  float32x4_t acc[R][C][U];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      for (int u = 0; u < U; ++u) acc[r][c][u] = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 4 * U <= g.cols; i += 4 * U) {
    float32x4_t yv[C][U];
    for (int c = 0; c < C; ++c)
      for (int u = 0; u < U; ++u) yv[c][u] = F::load4(y[c] + i + 4 * u);
    for (int r = 0; r < R; ++r) {
      for (int u = 0; u < U; ++u) {
        const float32x4_t xv = F::load4(x[r] + i + 4 * u);
        for (int c = 0; c < C; ++c) acc[r][c][u] = vfmaq_f32(acc[r][c][u], xv, yv[c][u]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float32x4_t a = acc[r][c][0];
      for (int u = 1; u < U; ++u) a = vaddq_f32(a, acc[r][c][u]);
      float s = vaddvq_f32(a);
      for (int64_t k = i; k < g.cols; ++k) s += F::one(x[r] + k) * F::one(y[c] + k);
      g.y[(c0 + c) * g.ldy + r0 + r] = s;
    }
}

// ---------------------------------------------------------------------------------------------
// Tile drivers: full R x C tiles, then the row and activation tails.

template <template <int, int> class T, int R, int C>
void drive(const gemm_args& g) {
  int64_t r = 0;
  for (; r + R <= g.rows; r += R) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C) T<R, C>::run(g, r, c);
    for (; c < g.n; ++c) T<R, 1>::run(g, r, c);
  }
  for (; r < g.rows; ++r) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C) T<1, C>::run(g, r, c);
    for (; c < g.n; ++c) T<1, 1>::run(g, r, c);
  }
}

template <class F>
struct legacy_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) { legacy_tile<F, R, C>(g, r, c); }
  };
};
template <bool five>
struct q45k_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) { q45k_tile<five, R, C>(g, r, c); }
  };
};
template <bool Three>
struct q23k_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) { q23k_tile<Three, R, C>(g, r, c); }
  };
};
template <int R, int C>
struct q6k_t {
  static void run(const gemm_args& g, int64_t r, int64_t c) { q6k_tile<R, C>(g, r, c); }
};
template <class F>
struct float_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) { float_tile<F, R, C>(g, r, c); }
  };
};

// Register budget: 32 vector registers. Legacy 4 x 4: 16 accumulators + 8 activation vectors + 2
// unpacked weight vectors; the K formats keep C integer accumulators and stream the unpacked
// sub-blocks; float 4 x 4: 16 accumulators + 4 + 4 loads.
template <class F>
void legacy_matvec(const gemm_args& g) {
  drive<legacy_t<F>::template t, 4, 1>(g);
}
template <class F>
void legacy_gemm(const gemm_args& g) {
  drive<legacy_t<F>::template t, 4, 4>(g);
}
template <bool five>
void q45k_matvec(const gemm_args& g) {
  drive<q45k_t<five>::template t, 4, 1>(g);
}
template <bool five>
void q45k_gemm(const gemm_args& g) {
  drive<q45k_t<five>::template t, 2, 4>(g);
}
template <bool Three>
void q23k_matvec(const gemm_args& g) {
  drive<q23k_t<Three>::template t, 4, 1>(g);
}
template <bool Three>
void q23k_gemm(const gemm_args& g) {
  drive<q23k_t<Three>::template t, 2, 4>(g);
}
void q6k_matvec(const gemm_args& g) {
  drive<q6k_t, 4, 1>(g);
}
void q6k_gemm(const gemm_args& g) {
  drive<q6k_t, 2, 4>(g);
}
template <class F>
void float_matvec(const gemm_args& g) {
  drive<float_t<F>::template t, 4, 1>(g);
}
template <class F>
void float_gemm(const gemm_args& g) {
  drive<float_t<F>::template t, 4, 4>(g);
}

// ---------------------------------------------------------------------------------------------
// Activation converters, bit-identical to the scalar ones: the same float operations, and
// vcvtnq (round to nearest, ties to even) where the scalar code calls nearbyint.

inline float amax32(const float* x) {
  float32x4_t m = vabsq_f32(vld1q_f32(x));
  for (int k = 4; k < 32; k += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + k)));
  return vmaxvq_f32(m);
}

// 32 floats * id -> 32 int8 (nearest even; saturating, which matches the scalar min(127, v) for
// Q8_K and is never reached for Q8_0 / Q8_1), stored at dst; returns their sum.
inline int round_pack32(const float* x, float id, int8_t* dst) {
  int32x4_t sum = vdupq_n_s32(0);
  for (int h = 0; h < 2; ++h, x += 16) {
    const int32x4_t i0 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x), id));
    const int32x4_t i1 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4), id));
    const int32x4_t i2 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 8), id));
    const int32x4_t i3 = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 12), id));
    sum = vaddq_s32(sum, vaddq_s32(vaddq_s32(i0, i1), vaddq_s32(i2, i3)));
    const int16x8_t a = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
    const int16x8_t b = vcombine_s16(vqmovn_s32(i2), vqmovn_s32(i3));
    vst1q_s8(dst + 16 * h, vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)));
  }
  return vaddvq_s32(sum);
}

void convert_q8_0(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_0*>(dst);
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const float d = amax32(x) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = f2h(d);
    round_pack32(x, id, y[b].qs);
  }
}

void convert_q8_1(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_1*>(dst);
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const float d = amax32(x) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    const int sum = round_pack32(x, id, y[b].qs);
    y[b].d = f2h(d);
    y[b].s = f2h(static_cast<float>(sum) * d);
  }
}

void convert_q8_k(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_k*>(dst);
  for (int64_t b = 0; b < cols / 256; ++b, x += 256) {
    float amax = 0;
    for (int k = 0; k < 256; k += 32) {
      const float m = amax32(x + k);
      if (m > amax) amax = m;
    }
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(block_q8_k));
      continue;
    }
    int first = 0;  // the first element with |x| == amax gives the sign, as in the scalar code
    const float32x4_t am = vdupq_n_f32(amax);
    for (int k = 0; k < 256; k += 4) {  // 4 at a time; a NaN max matches none and leaves 0
      if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + k)), am)) != 0) {
        first = k;
        while (__builtin_fabsf(x[first]) != amax) ++first;
        break;
      }
    }
    const float iscale = -127.f / x[first];
    for (int k = 0; k < 256; k += 32) round_pack32(x + k, iscale, y[b].qs + k);
    for (int gi = 0; gi < 16; ++gi) y[b].bsums[gi] = vaddlvq_s8(vld1q_s8(y[b].qs + 16 * gi));
    y[b].d = 1.f / iscale;
  }
}

void convert_f16(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
    vst1q_u16(y + i, vreinterpretq_u16_f16(h));
  }
  for (; i < cols; ++i) y[i] = f2h(x[i]);
}

// The neon backend's table: every type's sdot (or float) matvec and gemm tiles, the converters.
void fill_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  using uma::kernels::act_format;
  auto set = [&](dtype t, uma::kernels::gemm_fn mv, uma::kernels::gemm_fn gm) {
    b.matvec[static_cast<size_t>(t)] = mv;
    b.gemm[static_cast<size_t>(t)] = gm;
  };
  set(dtype::q4_0, legacy_matvec<q4_0_fmt>, legacy_gemm<q4_0_fmt>);
  set(dtype::q4_1, legacy_matvec<q4_1_fmt>, legacy_gemm<q4_1_fmt>);
  set(dtype::q5_0, legacy_matvec<q5_0_fmt>, legacy_gemm<q5_0_fmt>);
  set(dtype::q5_1, legacy_matvec<q5_1_fmt>, legacy_gemm<q5_1_fmt>);
  set(dtype::q8_0, legacy_matvec<q8_0_fmt>, legacy_gemm<q8_0_fmt>);
  set(dtype::q4_k, q45k_matvec<false>, q45k_gemm<false>);
  set(dtype::q5_k, q45k_matvec<true>, q45k_gemm<true>);
  set(dtype::q6_k, q6k_matvec, q6k_gemm);
  set(dtype::q2_k, q23k_matvec<false>, q23k_gemm<false>);
  set(dtype::q3_k, q23k_matvec<true>, q23k_gemm<true>);
  set(dtype::f32, float_matvec<f32_fmt>, float_gemm<f32_fmt>);
  set(dtype::f16, float_matvec<f16_fmt>, float_gemm<f16_fmt>);
  set(dtype::bf16, float_matvec<bf16_fmt>, float_gemm<bf16_fmt>);
  b.convert[static_cast<size_t>(act_format::q8_0)] = convert_q8_0;
  b.convert[static_cast<size_t>(act_format::q8_1)] = convert_q8_1;
  b.convert[static_cast<size_t>(act_format::q8_k)] = convert_q8_k;
  b.convert[static_cast<size_t>(act_format::f16)] = convert_f16;
}

}  // namespace
