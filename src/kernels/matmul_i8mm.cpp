// The neon-i8mm matmul backend (armv8.2-a dotprod + i8mm: Apple M2 on, Neoverse V1 / V2 / N2,
// Graviton 3 / 4, Cortex-A710 on): the neon backend's table, with Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K and Q6_K multiplied by smmla (Q2_K, Q3_K and the float formats keep the neon tiles).
// CMake compiles *_i8mm.cpp with -march=armv8.2-a+dotprod+fp16+i8mm; the table is only reached
// through find_backend() after the cpu().neon_i8mm check (and, as every NEON file, from an
// anonymous namespace: see matmul_neon.cpp).
//
// smmla (vmmlaq_s32) multiplies a 2 x 8 matrix of signed bytes by an 8 x 2 one into a 2 x 2 int32
// tile: 32 multiply-adds an instruction where sdot does 16. Two weight rows' 8-byte groups zipped
// into one register (the rows layout as it is in the file, zipped per block) and two activation
// rows' likewise: four smmla sum a 32-element block exactly for the 2 x 2 pairs, lane 2i + j =
// (weight row r + i, activation row c + j). Each pair then takes the scalar reference's float
// arithmetic in its order (matmul_ref.cpp): s += float(sum) * (d_w * d_a) [+ m_w * s_a], the min
// term fused as GCC 12 compiles the reference for aarch64 (fma(m_w, s_a, float(sum) * d)): under
// qemu all five formats match the scalar backend to the bit (tests/cross/run_neon.sh). A pair's
// result depends neither on the tile nor on the activation count: an odd row or activation is
// paired with itself (the unused lanes dropped), so decode (n == 1) and prefill agree to the bit.
//
// Not yet timed on an ARM machine (checked under qemu only). What prefill (compute-bound) gains
// depends on each core's issue rate for smmla against sdot, not measured here; decode reads the
// same bytes either way.
#include <algorithm>
#include <type_traits>

#include "kernels/arm/matmul_neon-inl.h"

namespace {

inline int8x16_t zip_lo64(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip1q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}
inline int8x16_t zip_hi64(int8x16_t a, int8x16_t b) {
  return vreinterpretq_s8_s64(vzip2q_s64(vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b)));
}

// The tile's N row pointers from row `first` (rows `stride` bytes apart), the last of its `count`
// rows repeated where N is larger (an odd row or activation paired with itself).
template <class B, int N>
void pair_rows(const uint8_t* base, size_t stride, int64_t first, int count, const B* (&p)[N]) {
  for (int i = 0; i < N; ++i)
    p[i] = reinterpret_cast<const B*>(base +
                                      static_cast<size_t>(first + std::min(i, count - 1)) * stride);
}

// R weight rows (1..4) x C activation rows (1..4) from (r0, c0): rows and activations in pairs, the
// last one of an odd count paired with itself.
template <class F, int R, int C>
void mmla_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = typename F::block;
  using act = typename F::act;
  constexpr int RP = (R + 1) / 2, CP = (C + 1) / 2;
  const int64_t nb = g.cols / 32;
  const block* x[2 * RP];
  const act* y[2 * CP];
  pair_rows(g.w, g.w_row_bytes, r0, R, x);
  pair_rows(g.a, g.a_row_bytes, c0, C, y);
  float32x4_t acc[RP][CP];
  for (int q = 0; q < RP; ++q)
    for (int p = 0; p < CP; ++p) acc[q][p] = vdupq_n_f32(0.f);
  const int32x4_t zero = vdupq_n_s32(0);
  for (int64_t b = 0; b < nb; ++b) {
    int8x16_t yq[CP][4];
    float32x4_t dy[CP], sy[CP];
    for (int p = 0; p < CP; ++p) {
      const act& a0 = y[2 * p][b];
      const act& a1 = y[2 * p + 1][b];
      const int8x16_t l0 = vld1q_s8(a0.qs), h0 = vld1q_s8(a0.qs + 16);
      const int8x16_t l1 = vld1q_s8(a1.qs), h1 = vld1q_s8(a1.qs + 16);
      yq[p][0] = zip_lo64(l0, l1);
      yq[p][1] = zip_hi64(l0, l1);
      yq[p][2] = zip_lo64(h0, h1);
      yq[p][3] = zip_hi64(h0, h1);
      const float d0 = h2f(a0.d), d1 = h2f(a1.d);
      dy[p] = float32x4_t{d0, d1, d0, d1};
      if constexpr (F::has_min) {
        const float s0 = h2f(a0.s), s1 = h2f(a1.s);
        sy[p] = float32x4_t{s0, s1, s0, s1};
      }
    }
    for (int q = 0; q < RP; ++q) {
      const block& w0 = x[2 * q][b];
      const block& w1 = x[2 * q + 1][b];
      prefetch_ahead(&w0, 2 * RP * g.w_row_bytes);
      if constexpr (R > 1) prefetch_ahead(&w1, 2 * RP * g.w_row_bytes);
      const q32 u0 = F::unpack(w0), u1 = F::unpack(w1);
      const int8x16_t wq[4] = {zip_lo64(u0.lo, u1.lo), zip_hi64(u0.lo, u1.lo),
                               zip_lo64(u0.hi, u1.hi), zip_hi64(u0.hi, u1.hi)};
      const float dx0 = h2f(w0.d), dx1 = h2f(w1.d);
      const float32x4_t dx = {dx0, dx0, dx1, dx1};
      float32x4_t mx = vdupq_n_f32(0.f);
      if constexpr (F::has_min) {
        const float m0 = h2f(w0.m), m1 = h2f(w1.m);
        mx = float32x4_t{m0, m0, m1, m1};
      }
      for (int p = 0; p < CP; ++p) {
        int32x4_t s = vmmlaq_s32(zero, wq[0], yq[p][0]);
        s = vmmlaq_s32(s, wq[1], yq[p][1]);
        s = vmmlaq_s32(s, wq[2], yq[p][2]);
        s = vmmlaq_s32(s, wq[3], yq[p][3]);
        float32x4_t t;
        if constexpr (F::has_min)
          t = vfmaq_f32(vmulq_f32(vcvtq_f32_s32(s), vmulq_f32(dx, dy[p])), mx, sy[p]);
        else
          t = vmulq_f32(vcvtq_f32_s32(s), vmulq_f32(dx, dy[p]));
        acc[q][p] = vaddq_f32(acc[q][p], t);
      }
    }
  }
  for (int q = 0; q < RP; ++q)
    for (int p = 0; p < CP; ++p) {
      float v[4];
      vst1q_f32(v, acc[q][p]);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const int r = 2 * q + i, c = 2 * p + j;
          if (r < R && c < C) g.y[(c0 + c) * g.ldy + r0 + r] = v[2 * i + j];
        }
    }
}

// The K formats: each super-block summed exactly in int32 per (row, activation) pair, as the sdot
// tiles do (the sub-blocks' products by smmla, each 2 x 2 tile of them times its rows' scales),
// then the same scalar float code as theirs, so the neon and neon-i8mm backends give the same
// floats for Q4_K / Q5_K / Q6_K, whatever the tile. A 2 x 2 tile of the 8-byte groups [e, e + 16)
// of two rows (w, pre-zipped unpacked values lo = e..e+15) against two activation rows' same
// groups.
inline int32x4_t mmla16(int8x16_t w0, int8x16_t w1, const int8_t* y0, const int8_t* y1) {
  const int8x16_t a0 = vld1q_s8(y0), a1 = vld1q_s8(y1);
  const int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), zip_lo64(w0, w1), zip_lo64(a0, a1));
  return vmmlaq_s32(s, zip_hi64(w0, w1), zip_hi64(a0, a1));
}

// Lanes (r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1) of the pairs' int sums into sum[r][c] for
// the R x C present ones.
template <int R, int C, int RP, int CP>
void spread(const int32x4_t (&isum)[RP][CP], int (&sum)[2 * RP][2 * CP]) {
  for (int q = 0; q < RP; ++q)
    for (int p = 0; p < CP; ++p) {
      int v[4];
      vst1q_s32(v, isum[q][p]);
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) sum[2 * q + i][2 * p + j] = v[2 * i + j];
    }
}

template <bool five, int R, int C>
void q45k_mmla_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = std::conditional_t<five, block_q5_k, block_q4_k>;
  constexpr int RP = (R + 1) / 2, CP = (C + 1) / 2;
  const int64_t nb = g.cols / 256;
  const block* x[2 * RP];
  const block_q8_k* y[2 * CP];
  pair_rows(g.w, g.w_row_bytes, r0, R, x);
  pair_rows(g.a, g.a_row_bytes, c0, C, y);
  float s[R][C] = {};
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t sc[2 * RP][8], mn[2 * RP][8];
    int32_t scv[RP][8][4];  // sub-block k's scales as the tile's lanes
    for (int r = 0; r < 2 * RP; ++r) {
      prefetch_ahead(&x[r][b], 2 * RP * g.w_row_bytes);
      k4_unpack_scales(x[r][b].scales, sc[r], mn[r]);
    }
    for (int q = 0; q < RP; ++q)
      for (int k = 0; k < 8; ++k)
        for (int i = 0; i < 4; ++i) scv[q][k][i] = sc[2 * q + i / 2][k];
    int32x4_t isum[RP][CP];
    for (int q = 0; q < RP; ++q)
      for (int p = 0; p < CP; ++p) isum[q][p] = vdupq_n_s32(0);
    // Sub-blocks 2j (low nibbles of qs[32j..32j+31]) and 2j+1 (high nibbles).
    for (int j = 0; j < 4; ++j) {
      int8x16_t wa[2 * RP][2], wb[2 * RP][2];  // sub-block 2j / 2j+1, elements 0..15 / 16..31
      for (int r = 0; r < 2 * RP; ++r) {
        uint8x16_t v[4];
        q45k_values<five>(x[r][b].qs, q5k_high_bits(x[r][b]), j, v);
        wa[r][0] = as_s8(v[0]), wa[r][1] = as_s8(v[1]), wb[r][0] = as_s8(v[2]),
        wb[r][1] = as_s8(v[3]);
      }
      for (int q = 0; q < RP; ++q) {
        const int32x4_t sa = vld1q_s32(scv[q][2 * j]), sb = vld1q_s32(scv[q][2 * j + 1]);
        for (int p = 0; p < CP; ++p) {
          const int8_t* y0 = y[2 * p][b].qs + 64 * j;
          const int8_t* y1 = y[2 * p + 1][b].qs + 64 * j;
          const int32x4_t pa = vaddq_s32(mmla16(wa[2 * q][0], wa[2 * q + 1][0], y0, y1),
                                         mmla16(wa[2 * q][1], wa[2 * q + 1][1], y0 + 16, y1 + 16));
          const int32x4_t pb = vaddq_s32(mmla16(wb[2 * q][0], wb[2 * q + 1][0], y0 + 32, y1 + 32),
                                         mmla16(wb[2 * q][1], wb[2 * q + 1][1], y0 + 48, y1 + 48));
          isum[q][p] = vmlaq_s32(vmlaq_s32(isum[q][p], pa, sa), pb, sb);
        }
      }
    }
    int sum[2 * RP][2 * CP];
    spread<R, C>(isum, sum);
    for (int r = 0; r < R; ++r) {
      const float d = h2f(x[r][b].d), dmin = h2f(x[r][b].dmin);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        const int summs = k4_min_sum(mn[r], yb.bsums);
        s[r][c] +=
            yb.d * d * static_cast<float>(sum[r][c]) - yb.d * dmin * static_cast<float>(summs);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = s[r][c];
}

template <int R, int C>
void q6k_mmla_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  constexpr int RP = (R + 1) / 2, CP = (C + 1) / 2;
  const int64_t nb = g.cols / 256;
  const block_q6_k* x[2 * RP];
  const block_q8_k* y[2 * CP];
  pair_rows(g.w, g.w_row_bytes, r0, R, x);
  pair_rows(g.a, g.a_row_bytes, c0, C, y);
  float s[R][C] = {};
  for (int64_t b = 0; b < nb; ++b) {
    int32_t scv[RP][16][4];  // group k's scales (signed) as the tile's lanes
    for (int r = 0; r < 2 * RP; ++r) prefetch_ahead(&x[r][b], 2 * RP * g.w_row_bytes);
    for (int q = 0; q < RP; ++q)
      for (int k = 0; k < 16; ++k)
        for (int i = 0; i < 4; ++i) scv[q][k][i] = x[2 * q + i / 2][b].scales[k];
    int32x4_t isum[RP][CP];
    for (int q = 0; q < RP; ++q)
      for (int p = 0; p < CP; ++p) isum[q][p] = vdupq_n_s32(0);
    // The sdot tile's passes (q6k_tile): half h, l in [16k, 16k + 16) of each quarter qq, the group
    // of 16 from element e = 128h + 32qq + 16k.
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 2; ++k) {
        int8x16_t v[2 * RP][4];
        for (int r = 0; r < 2 * RP; ++r) q6k_values(x[r][b], h, k, v[r]);
        for (int qq = 0; qq < 4; ++qq) {
          const int e = 128 * h + 32 * qq + 16 * k;
          for (int q = 0; q < RP; ++q) {
            const int32x4_t scale = vld1q_s32(scv[q][e / 16]);
            for (int p = 0; p < CP; ++p)
              isum[q][p] = vmlaq_s32(isum[q][p],
                                     mmla16(v[2 * q][qq], v[2 * q + 1][qq], y[2 * p][b].qs + e,
                                            y[2 * p + 1][b].qs + e),
                                     scale);
          }
        }
      }
    int sum[2 * RP][2 * CP];
    spread<R, C>(isum, sum);
    for (int r = 0; r < R; ++r) {
      const float d = h2f(x[r][b].d);
      for (int c = 0; c < C; ++c) s[r][c] += y[c][b].d * d * static_cast<float>(sum[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = s[r][c];
}

// 4 x 4 tiles, then the tails: rows 1..3 and activations 1..3 as one tile each. Legacy 4 x 4: 4
// float accumulators, 8 zipped activation and 4 zipped weight registers.
template <class T>
void mmla_drive(const gemm_args& g) {
  const auto cols = [&]<int R>(int64_t r) {
    int64_t c = 0;
    for (; c + 4 <= g.n; c += 4) T::template run<R, 4>(g, r, c);
    switch (g.n - c) {
      case 3:
        T::template run<R, 3>(g, r, c);
        break;
      case 2:
        T::template run<R, 2>(g, r, c);
        break;
      case 1:
        T::template run<R, 1>(g, r, c);
        break;
      default:
        break;
    }
  };
  int64_t r = 0;
  for (; r + 4 <= g.rows; r += 4) cols.template operator()<4>(r);
  switch (g.rows - r) {
    case 3:
      cols.template operator()<3>(r);
      break;
    case 2:
      cols.template operator()<2>(r);
      break;
    case 1:
      cols.template operator()<1>(r);
      break;
    default:
      break;
  }
}

template <class F>
struct legacy_mmla {
  template <int R, int C>
  static void run(const gemm_args& g, int64_t r, int64_t c) {
    mmla_tile<F, R, C>(g, r, c);
  }
};
template <bool five>
struct q45k_mmla {
  template <int R, int C>
  static void run(const gemm_args& g, int64_t r, int64_t c) {
    q45k_mmla_tile<five, R, C>(g, r, c);
  }
};
struct q6k_mmla {
  template <int R, int C>
  static void run(const gemm_args& g, int64_t r, int64_t c) {
    q6k_mmla_tile<R, C>(g, r, c);
  }
};

}  // namespace

namespace uma::kernels {

const matmul_backend& neon_i8mm_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = scalar_backend();
    b.name = "neon-i8mm";
    fill_table(b);
    // Decode too: a pair of rows against the activation paired with itself reads the same bytes
    // and issues as many products as sdot's one row at a time, and keeps prefill == decode.
    const auto set = [&](dtype t, gemm_fn f) {
      b.matvec[static_cast<size_t>(t)] = f;
      b.gemm[static_cast<size_t>(t)] = f;
    };
    set(dtype::q4_0, mmla_drive<legacy_mmla<q4_0_fmt>>);
    set(dtype::q4_1, mmla_drive<legacy_mmla<q4_1_fmt>>);
    set(dtype::q5_0, mmla_drive<legacy_mmla<q5_0_fmt>>);
    set(dtype::q5_1, mmla_drive<legacy_mmla<q5_1_fmt>>);
    set(dtype::q8_0, mmla_drive<legacy_mmla<q8_0_fmt>>);
    set(dtype::q4_k, mmla_drive<q45k_mmla<false>>);
    set(dtype::q5_k, mmla_drive<q45k_mmla<true>>);
    set(dtype::q6_k, mmla_drive<q6k_mmla>);
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
