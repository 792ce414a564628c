// amx matmul backend: Intel AMX tile multiplies for prefill of Q4_0, Q5_0, Q8_0, Q4_K and Q6_K
// weights (rows and x16 layouts) from 256 activation rows on (tile_min_n): AMX-BF16 tiles
// (x86/amx_bf16-inl.h: weights and activations rounded to bf16, fp32 accumulation), or the
// AMX-INT8 tiles below where the CPU has no AMX-BF16; everything else (matvec, other types, the
// converters) is the avx512-vnni backend compiled into this translation unit. Compiled a second
// time as the amx-emulated backend (matmul_amx_emulated_avx512.cpp), tile instructions modelled.
//
// The int8 tiles keep the scalar reference's arithmetic: activations are rounded to Q8_0 blocks as
// convert_q8_0 does, each 32-element block product is an exact int32 (TDPBUSD / TDPBSSD with
// K = 32 bytes), and it is scaled by d_w * d_a in fp32 and summed over blocks in order. Only the
// float summation order inside a block's accumulation differs from the reference (none here:
// one fma per block per output), so results match the reference to float rounding.
//
// Layout (per matmul call):
//   activation panels: for each group of 16 rows and each block, the 16 x 32 int8 values in
//     the VNNI order tiles need as B (row k4 holds bytes 4*k4..4*k4+3 of each of the 16 rows),
//     the 16 fp32 scales and the 16 offset corrections (Q4_0: 8, Q5_0: 16 x the block's sum).
//   per task, 16 weight rows unpacked to int8 (A tiles: 16 rows x 32 bytes per block) with their
//     fp32 scales, reused across every activation group.
// Tiles: tmm0/tmm3 = C (16 x 16 int32), tmm1/tmm4 = A, tmm2/tmm5 = B; two blocks in flight so
// the tile unit works on one while AVX-512 scales and accumulates the other.
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <type_traits>
#include <vector>

#include "util/aligned.h"
#include "util/cpu_features.h"
#include "util/env.h"
#include "util/thread_pool.h"

#define UMA_VNNI 1
#include "kernels/x86/amx_tiles-inl.h"
#include "kernels/x86/matmul_x86-inl.h"

namespace {

constexpr int tile_rows = 16;  // weight rows per A tile, activation rows per B tile

// k_bytes: the K of one product (32 for 32-element blocks, 16 for Q6_K's 16-element sub-blocks).
void load_tile_config(int k_bytes = 32) {
  amx::tile_config c;
  for (int t : {0, 3}) c.rows[t] = 16, c.colsb[t] = 64;  // C: 16 x 16 int32
  for (int t : {1, 4})                                   // A: 16 rows x K int8
    c.rows[t] = 16, c.colsb[t] = static_cast<uint16_t>(k_bytes);
  for (int t : {2, 5})  // B: K/4 x (16 x 4 int8)
    c.rows[t] = static_cast<uint8_t>(k_bytes / 4), c.colsb[t] = 64;
  amx::config(c);
}

// One block of 16 activation rows, laid out for a B tile.
struct alignas(64) act_panel_block {
  int8_t qs[8][64];  // qs[k4][4 * row + i] = value 4 * k4 + i of the row's block
  float d[16];       // the rows' block scales
  int32_t corr[16];  // weight offset x sum of the block's values (0 for Q8_0 weights)
};
static_assert(sizeof(act_panel_block) == 640);

// Fills the activation panels of `n` rows: row(j, panels of j's group, lane) converts row j
// into its lane, in parallel over rows. Lanes past n in the last group stay zero (scale 0): their
// products are computed and discarded.
template <class Panel, class RowFn>
void fill_panels(int64_t n, int64_t nb, Panel* panels, uma::thread_pool* pool, const RowFn& row) {
  const int64_t groups = (n + tile_rows - 1) / tile_rows;
  if (n % tile_rows != 0)
    std::memset(static_cast<void*>(panels + (groups - 1) * nb), 0,
                static_cast<size_t>(nb) * sizeof(Panel));
  auto one = [&](int64_t j) {
    row(j, panels + (j / tile_rows) * nb, static_cast<int>(j % tile_rows));
  };
  if (pool != nullptr && n >= 8)
    pool->parallel_for(n, 1, [&](int, int64_t a, int64_t e) {
      for (int64_t j = a; j < e; ++j) one(j);
    });
  else
    for (int64_t j = 0; j < n; ++j) one(j);
}

template <class F>
void convert_panels(const float* x, int64_t n, int64_t cols, act_panel_block* panels,
                    uma::thread_pool* pool) {
  const int64_t nb = cols / 32;
  fill_panels(n, nb, panels, pool, [&](int64_t j, act_panel_block* p, int lane) {
    thread_local std::vector<block_q8_0> tmp;
    tmp.resize(static_cast<size_t>(nb));
    convert_q8_0(x + j * cols, tmp.data(), cols);
    for (int64_t b = 0; b < nb; ++b) {
      const block_q8_0& q = tmp[static_cast<size_t>(b)];
      for (int k = 0; k < 8; ++k) std::memcpy(&p[b].qs[k][4 * lane], q.qs + 4 * k, 4);
      p[b].d[lane] = h2f(q.d);
      if constexpr (F::offset != 0) {
        int sum = 0;
        for (int e = 0; e < 32; ++e) sum += q.qs[e];
        p[b].corr[lane] = F::offset * sum;
      } else {
        p[b].corr[lane] = 0;
      }
    }
  });
}

// 16 weight rows (from r0; rows past `rows` are zero) unpacked: q[b][m][32], d[b][m].
template <class F>
void unpack_weights(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t rows, int64_t nb,
                    uint8_t* q, float* d) {
  for (int m = 0; m < tile_rows; ++m) {
    const int64_t r = r0 + m;
    if (r >= rows) {
      for (int64_t b = 0; b < nb; ++b) {
        std::memset(q + (b * tile_rows + m) * 32, 0, 32);
        d[b * tile_rows + m] = 0.f;
      }
      continue;
    }
    const auto* blk =
        reinterpret_cast<const typename F::block*>(w + static_cast<size_t>(r) * row_bytes);
    for (int64_t b = 0; b < nb; ++b) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + (b * tile_rows + m) * 32),
                          F::unpack(blk[b]));
      d[b * tile_rows + m] = h2f(blk[b].d);
    }
  }
}

// The same for an x16 Q4_0 group (r0 is a multiple of 16 and the group is whole): each 512-bit
// load of 4 nibble bytes x 16 rows scatters to the rows' A-tile lines.
// One x16 dword of nibbles (lane m: 4 bytes of weight row m) to the rows' A-tile lines (32 bytes,
// 8 dwords a row): its low nibbles to dword `lo` of each line, its high nibbles to dword `hi`.
inline void scatter_nibbles(__m512i raw, int32_t* lo, int32_t* hi) {
  const __m512i line = _mm512_slli_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 3);  // row m: 8m
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  _mm512_i32scatter_epi32(lo, line, _mm512_and_si512(raw, low4), 4);
  _mm512_i32scatter_epi32(hi, line, _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4), 4);
}

void unpack_x16_q4_0(const uint8_t* w, size_t, int64_t r0, int64_t, int64_t nb, uint8_t* q,
                     float* d) {
  const auto* in = reinterpret_cast<const uma::kernels::x16_block_q4_0*>(w) + (r0 / 16) * nb;
  for (int64_t b = 0; b < nb; ++b) {
    _mm512_storeu_ps(d + b * 16, _mm512_cvtph_ps(load256(in[b].d)));
    auto* q32 = reinterpret_cast<int32_t*>(q + b * 512);
    for (int j = 0; j < 4; ++j)
      scatter_nibbles(_mm512_loadu_si512(in[b].qs[j]), q32 + j, q32 + 4 + j);
  }
}

// acc[m] += (C[m] - corr) * (dw[m] * da), C read back from a 16 x 16 int32 tile store.
inline void scale_accumulate(const int32_t* c, const act_panel_block& a, const float* dw,
                             __m512 acc[16]) {
  const __m512 da = _mm512_load_ps(a.d);
  const __m512i corr = _mm512_load_si512(a.corr);
  for (int m = 0; m < 16; ++m) {
    const __m512i v = _mm512_sub_epi32(_mm512_load_si512(c + 16 * m), corr);
    acc[m] =
        _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(_mm512_set1_ps(dw[m]), da), acc[m]);
  }
}

template <class F>
void group_product(const uint8_t* wq, const float* wd, const act_panel_block* ap, int64_t nb,
                   __m512 acc[16]) {
  alignas(64) int32_t c0[256], c1[256];
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    amx::load<1>(wq + b * 512, 32);
    amx::load<2>(ap[b].qs, 64);
    amx::zero<0>();
    if constexpr (F::is_signed)
      amx::dpbssd<0, 1, 2>();
    else
      amx::dpbusd<0, 1, 2>();
    amx::load<4>(wq + (b + 1) * 512, 32);
    amx::load<5>(ap[b + 1].qs, 64);
    amx::zero<3>();
    if constexpr (F::is_signed)
      amx::dpbssd<3, 4, 5>();
    else
      amx::dpbusd<3, 4, 5>();
    amx::store<0>(c0, 64);
    scale_accumulate(c0, ap[b], wd + b * 16, acc);
    amx::store<3>(c1, 64);
    scale_accumulate(c1, ap[b + 1], wd + (b + 1) * 16, acc);
  }
  if (b < nb) {
    amx::load<1>(wq + b * 512, 32);
    amx::load<2>(ap[b].qs, 64);
    amx::zero<0>();
    if constexpr (F::is_signed)
      amx::dpbssd<0, 1, 2>();
    else
      amx::dpbusd<0, 1, 2>();
    amx::store<0>(c0, 64);
    scale_accumulate(c0, ap[b], wd + b * 16, acc);
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_K: 256-element super-blocks of eight 32-element sub-blocks, each with a 6-bit scale and min.
// One tile product per sub-block (K = 32) gives the exact int32 sub-block dot; AVX-512 scales it
// by d * scale (weight row) * d (activation row) in fp32, and the min term
// dmin * d_a * sum_s min_s * sum(activation sub-block s) is added once per super-block.

struct alignas(64) act_panel_k {
  int8_t qs[8][8][64];  // per sub-block: a B tile (16 rows x 32 int8, VNNI order)
  float d[16];          // the rows' Q8_K scales
  float ysum[8][16];    // per sub-block: the rows' sums of its 32 values
};
static_assert(sizeof(act_panel_k) % 64 == 0);

void convert_panels_k(const float* x, int64_t n, int64_t cols, act_panel_k* panels,
                      uma::thread_pool* pool) {
  const int64_t nb = cols / 256;
  fill_panels(n, nb, panels, pool, [&](int64_t j, act_panel_k* p, int lane) {
    thread_local std::vector<block_q8_k> tmp;
    tmp.resize(static_cast<size_t>(nb));
    convert_q8_k(x + j * cols, tmp.data(), cols);
    for (int64_t b = 0; b < nb; ++b) {
      const block_q8_k& q = tmp[static_cast<size_t>(b)];
      for (int sb = 0; sb < 8; ++sb) {
        for (int k = 0; k < 8; ++k)
          std::memcpy(&p[b].qs[sb][k][4 * lane], q.qs + 32 * sb + 4 * k, 4);
        p[b].ysum[sb][lane] = static_cast<float>(q.bsums[2 * sb] + q.bsums[2 * sb + 1]);
      }
      p[b].d[lane] = q.d;
    }
  });
}

// 16 Q4_K weight rows unpacked per super-block: q[b][sub][m][32] nibbles as bytes; wf holds
// fp32 d * scale per (b, m, sub), then (from wf + nb * 128) dmin * min per (b, m, sub).
void unpack_q4k(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t rows, int64_t nb,
                uint8_t* wq, float* wf) {
  float* minv = wf + nb * 16 * 8;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int m = 0; m < tile_rows; ++m) {
    const int64_t r = r0 + m;
    for (int64_t b = 0; b < nb; ++b) {
      float* sc = wf + (b * 16 + m) * 8;
      float* mn = minv + (b * 16 + m) * 8;
      if (r >= rows) {
        for (int sb = 0; sb < 8; ++sb) {
          std::memset(wq + ((b * 8 + sb) * 16 + m) * 32, 0, 32);
          sc[sb] = mn[sb] = 0.f;
        }
        continue;
      }
      const auto& xb =
          reinterpret_cast<const block_q4_k*>(w + static_cast<size_t>(r) * row_bytes)[b];
      uint8_t sm[16];
      k4_scales(xb.scales, sm);
      const float d = h2f(xb.d), dmin = h2f(xb.dmin);
      for (int i = 0; i < 4; ++i) {
        const __m256i raw = load256(xb.qs + 32 * i);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(wq + ((b * 8 + 2 * i) * 16 + m) * 32),
                            _mm256_and_si256(raw, low4));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(wq + ((b * 8 + 2 * i + 1) * 16 + m) * 32),
                            _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4));
      }
      for (int sb = 0; sb < 8; ++sb) {
        sc[sb] = d * static_cast<float>(sm[sb]);
        mn[sb] = dmin * static_cast<float>(sm[8 + sb]);
      }
    }
  }
}

// The same from an x16 Q4_K group (r0 a multiple of 16, the group whole): nibble dwords scatter
// to the rows' sub-block lines, the 16 rows' scales decode as unpack_q4k's.
void unpack_x16_q4k(const uint8_t* w, size_t, int64_t r0, int64_t, int64_t nb, uint8_t* wq,
                    float* wf) {
  const auto* in = reinterpret_cast<const uma::kernels::x16_block_q4_k*>(w) + (r0 / 16) * nb;
  float* minv = wf + nb * 16 * 8;
  for (int64_t b = 0; b < nb; ++b) {
    const auto& x = in[b];
    for (int p = 0; p < 4; ++p) {
      auto* lo32 = reinterpret_cast<int32_t*>(wq + (b * 8 + 2 * p) * 512);
      auto* hi32 = reinterpret_cast<int32_t*>(wq + (b * 8 + 2 * p + 1) * 512);
      for (int j = 0; j < 8; ++j)
        scatter_nibbles(_mm512_loadu_si512(x.qs[8 * p + j]), lo32 + j, hi32 + j);
    }
    for (int m = 0; m < tile_rows; ++m) {
      uint8_t packed[12], sm[16];
      for (int k = 0; k < 3; ++k) std::memcpy(packed + 4 * k, &x.scales[k][4 * m], 4);
      k4_scales(packed, sm);
      const float d = h2f(x.d[m]), dmin = h2f(x.dmin[m]);
      for (int sb = 0; sb < 8; ++sb) {
        wf[(b * 16 + m) * 8 + sb] = d * static_cast<float>(sm[sb]);
        minv[(b * 16 + m) * 8 + sb] = dmin * static_cast<float>(sm[8 + sb]);
      }
    }
  }
}

// acc[m] += C[m] * (scale[m] * da)
inline void scale_accumulate_k(const int32_t* c, __m512 da, const float* scale_sb, __m512 acc[16]) {
  for (int m = 0; m < 16; ++m)
    acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c + 16 * m)),
                             _mm512_mul_ps(_mm512_set1_ps(scale_sb[m * 8]), da), acc[m]);
}

void group_product_k(const uint8_t* wq, const float* wf, const act_panel_k* ap, int64_t nb,
                     __m512 acc[16]) {
  const float* minv = wf + nb * 16 * 8;
  alignas(64) int32_t c0[256], c1[256];
  for (int64_t b = 0; b < nb; ++b) {
    const act_panel_k& a = ap[b];
    const __m512 da = _mm512_load_ps(a.d);
    const uint8_t* q = wq + b * 8 * 512;
    const float* sc = wf + b * 16 * 8;
    for (int sb = 0; sb < 8; sb += 2) {
      amx::load<1>(q + sb * 512, 32);
      amx::load<2>(a.qs[sb], 64);
      amx::zero<0>();
      amx::dpbusd<0, 1, 2>();
      amx::load<4>(q + (sb + 1) * 512, 32);
      amx::load<5>(a.qs[sb + 1], 64);
      amx::zero<3>();
      amx::dpbusd<3, 4, 5>();
      amx::store<0>(c0, 64);
      scale_accumulate_k(c0, da, sc + sb, acc);
      amx::store<3>(c1, 64);
      scale_accumulate_k(c1, da, sc + sb + 1, acc);
    }
    // Mins: acc[m] -= d_a * sum_s dmin * min[m][s] * ysum[s]
    const float* mn = minv + b * 16 * 8;
    __m512 ys[8];
    for (int sb = 0; sb < 8; ++sb) ys[sb] = _mm512_mul_ps(_mm512_load_ps(a.ysum[sb]), da);
    for (int m = 0; m < 16; ++m) {
      __m512 t = _mm512_setzero_ps();
      for (int sb = 0; sb < 8; ++sb) t = _mm512_fmadd_ps(_mm512_set1_ps(mn[m * 8 + sb]), ys[sb], t);
      acc[m] = _mm512_sub_ps(acc[m], t);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q6_K: 256-element super-blocks of sixteen 16-element sub-blocks with signed 8-bit scales;
// values 0..63 with an offset of 32. One TDPBUSD per sub-block (K = 16); the offset is
// 32 * (the activation's 16-element sum, Q8_K's bsums), subtracted in int32 before scaling.

struct alignas(64) act_panel_6 {
  int8_t qs[16][4][64];  // per sub-block: a B tile (16 rows x 16 int8, VNNI order)
  float d[16];           // the rows' Q8_K scales
  int32_t corr[16][16];  // per sub-block: 32 x the rows' sums of its 16 values
};
static_assert(sizeof(act_panel_6) % 64 == 0);

void convert_panels_6(const float* x, int64_t n, int64_t cols, act_panel_6* panels,
                      uma::thread_pool* pool) {
  const int64_t nb = cols / 256;
  fill_panels(n, nb, panels, pool, [&](int64_t j, act_panel_6* p, int lane) {
    thread_local std::vector<block_q8_k> tmp;
    tmp.resize(static_cast<size_t>(nb));
    convert_q8_k(x + j * cols, tmp.data(), cols);
    for (int64_t b = 0; b < nb; ++b) {
      const block_q8_k& q = tmp[static_cast<size_t>(b)];
      for (int sb = 0; sb < 16; ++sb) {
        for (int k = 0; k < 4; ++k)
          std::memcpy(&p[b].qs[sb][k][4 * lane], q.qs + 16 * sb + 4 * k, 4);
        p[b].corr[sb][lane] = 32 * q.bsums[sb];
      }
      p[b].d[lane] = q.d;
    }
  });
}

// 16 Q6_K rows: q[b][sub][m][16] values 0..63, scale[b][m][sub] = d * scale.
void unpack_q6k(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t rows, int64_t nb,
                uint8_t* qout, float* scale) {
  for (int m = 0; m < tile_rows; ++m) {
    const int64_t r = r0 + m;
    for (int64_t b = 0; b < nb; ++b) {
      float* sc = scale + (b * 16 + m) * 16;
      if (r >= rows) {
        for (int sb = 0; sb < 16; ++sb) {
          std::memset(qout + ((b * 16 + sb) * 16 + m) * 16, 0, 16);
          sc[sb] = 0.f;
        }
        continue;
      }
      const auto& xb =
          reinterpret_cast<const block_q6_k*>(w + static_cast<size_t>(r) * row_bytes)[b];
      __m256i q[8];
      q6k_unpack(xb, q);
      for (int j = 0; j < 8; ++j) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qout + ((b * 16 + 2 * j) * 16 + m) * 16),
                         _mm256_castsi256_si128(q[j]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qout + ((b * 16 + 2 * j + 1) * 16 + m) * 16),
                         _mm256_extracti128_si256(q[j], 1));
      }
      const float d = h2f(xb.d);
      for (int sb = 0; sb < 16; ++sb) sc[sb] = d * static_cast<float>(xb.scales[sb]);
    }
  }
}

// An x16 group (r0 a multiple of 16, the group whole) unpacked by the rows-layout `unpack`: its
// 16 rows are gathered back first (once per task; the tile products dominate). Q8_0, Q6_K.
template <auto unpack, uma::dtype T, int64_t block_elems>
void unpack_x16_via_rows(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t, int64_t nb,
                         uint8_t* q, float* f) {
  const uma::kernels::matrix_view v{
      T, w, r0 + tile_rows, nb * block_elems, row_bytes, uma::kernels::weight_layout::x16};
  thread_local std::vector<uint8_t> rows;
  rows.resize(tile_rows * row_bytes);
  for (int m = 0; m < tile_rows; ++m)
    uma::kernels::deinterleave_row(v, r0 + m, rows.data() + m * row_bytes);
  unpack(rows.data(), row_bytes, 0, tile_rows, nb, q, f);
}

// acc[m] += (C[m] - corr) * (scale[m] * da)
inline void scale_accumulate_6(const int32_t* c, const int32_t* corr_v, __m512 da,
                               const float* scale_sb, __m512 acc[16]) {
  const __m512i corr = _mm512_load_si512(corr_v);
  for (int m = 0; m < 16; ++m) {
    const __m512i v = _mm512_sub_epi32(_mm512_load_si512(c + 16 * m), corr);
    acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v),
                             _mm512_mul_ps(_mm512_set1_ps(scale_sb[m * 16]), da), acc[m]);
  }
}

void group_product_6(const uint8_t* wq, const float* wsc, const act_panel_6* ap, int64_t nb,
                     __m512 acc[16]) {
  alignas(64) int32_t c0[256], c1[256];
  for (int64_t b = 0; b < nb; ++b) {
    const act_panel_6& a = ap[b];
    const __m512 da = _mm512_load_ps(a.d);
    const uint8_t* q = wq + b * 16 * 256;
    const float* sc = wsc + b * 16 * 16;
    for (int sb = 0; sb < 16; sb += 2) {
      amx::load<1>(q + sb * 256, 16);
      amx::load<2>(a.qs[sb], 64);
      amx::zero<0>();
      amx::dpbusd<0, 1, 2>();
      amx::load<4>(q + (sb + 1) * 256, 16);
      amx::load<5>(a.qs[sb + 1], 64);
      amx::zero<3>();
      amx::dpbusd<3, 4, 5>();
      amx::store<0>(c0, 64);
      scale_accumulate_6(c0, a.corr[sb], da, sc + sb, acc);
      amx::store<3>(c1, 64);
      scale_accumulate_6(c1, a.corr[sb + 1], da, sc + sb + 1, acc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The driver shared by every format: activations converted to the format's panels once, then
// each task (16 weight rows, taken from a shared counter) unpacks its rows once and sweeps every
// activation group. A format K names its panel, block size, tile K and buffer sizes, and its
// convert / unpack / product steps.

// A task's buffers for K::unpack, per thread and reused: the quant bytes (64-byte aligned for
// the tile loads) and the floats.
struct unpack_buffers {
  uint8_t* q;
  float* f;
};
template <class K>
unpack_buffers task_buffers(int64_t nb) {
  thread_local uma::aligned_vector<uint8_t> qbuf;
  thread_local std::vector<float> fbuf;
  qbuf.resize(K::q_bytes(nb));
  fbuf.resize(K::f_count(nb));
  return {qbuf.data(), fbuf.data()};
}

#include "kernels/x86/amx_bf16-inl.h"

template <class F>
struct legacy_kind {
  using panel = act_panel_block;
  static constexpr int64_t block_elems = 32;
  static constexpr int k_bytes = 32;
  static size_t q_bytes(int64_t nb) { return static_cast<size_t>(nb) * 512; }
  static size_t f_count(int64_t nb) { return static_cast<size_t>(nb) * 16; }
  static constexpr auto convert = convert_panels<F>;
  static constexpr auto unpack = unpack_weights<F>;
  static constexpr auto product = group_product<F>;
  static constexpr auto to_bf16 = legacy_to_bf16<F>;
};
struct x16_q4_0_kind : legacy_kind<q4_0_fmt> {
  static constexpr auto unpack = unpack_x16_q4_0;
};
struct q4k_kind {
  using panel = act_panel_k;
  static constexpr int64_t block_elems = 256;
  static constexpr int k_bytes = 32;
  static size_t q_bytes(int64_t nb) { return static_cast<size_t>(nb) * 8 * 512; }
  static size_t f_count(int64_t nb) { return static_cast<size_t>(nb) * 16 * 8 * 2; }
  static constexpr auto convert = convert_panels_k;
  static constexpr auto unpack = unpack_q4k;
  static constexpr auto product = group_product_k;
  static constexpr auto to_bf16 = q4k_to_bf16;
};
struct x16_q4k_kind : q4k_kind {
  static constexpr auto unpack = unpack_x16_q4k;
};
struct q6k_kind {
  using panel = act_panel_6;
  static constexpr int64_t block_elems = 256;
  static constexpr int k_bytes = 16;
  static size_t q_bytes(int64_t nb) { return static_cast<size_t>(nb) * 16 * 256; }
  static size_t f_count(int64_t nb) { return static_cast<size_t>(nb) * 16 * 16; }
  static constexpr auto convert = convert_panels_6;
  static constexpr auto unpack = unpack_q6k;
  static constexpr auto product = group_product_6;
  static constexpr auto to_bf16 = q6k_to_bf16;
};

struct x16_q6k_kind : q6k_kind {
  static constexpr auto unpack = unpack_x16_via_rows<unpack_q6k, uma::dtype::q6_k, 256>;
};
struct x16_q5_0_kind : legacy_kind<q5_0_fmt> {
  static constexpr auto unpack =
      unpack_x16_via_rows<unpack_weights<q5_0_fmt>, uma::dtype::q5_0, 32>;
};
struct x16_q8_0_kind : legacy_kind<q8_0_fmt> {
  static constexpr auto unpack =
      unpack_x16_via_rows<unpack_weights<q8_0_fmt>, uma::dtype::q8_0, 32>;
};

template <class K>
void amx_matmul(const uma::kernels::matrix_view& w, const float* x, int64_t n, float* y,
                uma::thread_pool* pool) {
  using panel = typename K::panel;
  const int64_t nb = w.cols / K::block_elems;
  const int64_t groups = (n + tile_rows - 1) / tile_rows;
  thread_local std::vector<panel> panel_buf;
  panel_buf.resize(static_cast<size_t>(groups * nb));
  const panel* panels = panel_buf.data();
  K::convert(x, n, w.cols, panel_buf.data(), pool);

  const int64_t n_tasks = (w.rows + tile_rows - 1) / tile_rows;
  const auto* wbytes = static_cast<const uint8_t*>(w.data);
  std::atomic<int64_t> next{0};
  auto work = [&](int, int) {
    const auto [wq, wf] = task_buffers<K>(nb);
    load_tile_config(K::k_bytes);
    for (int64_t t = next.fetch_add(1, std::memory_order_relaxed); t < n_tasks;
         t = next.fetch_add(1, std::memory_order_relaxed)) {
      const int64_t r0 = t * tile_rows;
      const int mr = static_cast<int>(std::min<int64_t>(tile_rows, w.rows - r0));
      K::unpack(wbytes, w.row_bytes, r0, w.rows, nb, wq, wf);
      for (int64_t g = 0; g < groups; ++g) {
        __m512 acc[16];
        for (auto& a : acc) a = _mm512_setzero_ps();
        K::product(wq, wf, panels + g * nb, nb, acc);
        const int nt = static_cast<int>(std::min<int64_t>(tile_rows, n - g * tile_rows));
        alignas(64) float out[16][16];
        for (int m = 0; m < 16; ++m) _mm512_store_ps(out[m], acc[m]);
        for (int j = 0; j < nt; ++j) {
          float* yr = y + (g * tile_rows + j) * w.rows + r0;
          for (int m = 0; m < mr; ++m) yr[m] = out[m][j];
        }
      }
    }
    amx::release();
  };
  if (pool != nullptr && pool->size() > 1)
    pool->run_on_all(work);
  else
    work(0, 1);
}

// Linux hands out the 8 KiB tile state only to processes that ask for it.
[[maybe_unused]] bool request_tile_permission() {
#if defined(__linux__) && !defined(UMA_AMX_EMULATE)
  constexpr long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
  return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
#else
  return false;
#endif
}

// From how many activation rows the tiles take the product on the amx backend. Measured on a
// 16-core Xeon with AMX (docs/performance.md 2026-12-04 15:40, bench_matmul prefill_seq
// Q4_0, 16 threads): n = 32 AVX-512 VNNI 15 ms, bf16 tiles 69, int8 tiles 36; n = 128: 83 / 129 /
// 303; n = 512: 181 / 135 / 162 (one thread, n = 32: 130 / 138 / 124; n = 512: 1857 / 959 /
// 1442). Each task unpacks its weight rows whatever n is, so below a few hundred rows the
// unpack and the tile set-up outweigh the faster products; the int8 tiles never won by more than
// the noise, so the bf16 tiles take every product from here on and the int8 ones stay for
// comparison (bench_matmul's amx-int8) and for a CPU with AMX-INT8 but no AMX-BF16.
constexpr int64_t tile_min_n = 256;
// amx-emulated's thresholds: low, so the tests' small products reach both tile paths.
constexpr int64_t emulated_bf16_min_n = 32, emulated_int8_min_n = 16;

uma::kernels::matmul_backend make_amx_backend(const char* name) {
  using uma::dtype;
  uma::kernels::matmul_backend b = uma::kernels::scalar_backend();
  fill_table(b);
  b.name = name;
  const auto set = [&](dtype t, auto int8_rows, auto int8_x16, auto bf16_rows, auto bf16_x16) {
    const auto i = static_cast<size_t>(t);
    b.big_gemm[i] = int8_rows, b.big_gemm_x16[i] = int8_x16;
    b.big_gemm_bf16[i] = bf16_rows, b.big_gemm_bf16_x16[i] = bf16_x16;
  };
  // Q5_0 rows: the K mixes' fallback rows.
  set(dtype::q4_0, amx_matmul<legacy_kind<q4_0_fmt>>, amx_matmul<x16_q4_0_kind>,
      amx_bf16_matmul<legacy_kind<q4_0_fmt>>, amx_bf16_matmul<x16_q4_0_kind>);
  set(dtype::q8_0, amx_matmul<legacy_kind<q8_0_fmt>>, amx_matmul<x16_q8_0_kind>,
      amx_bf16_matmul<legacy_kind<q8_0_fmt>>, amx_bf16_matmul<x16_q8_0_kind>);
  set(dtype::q5_0, amx_matmul<legacy_kind<q5_0_fmt>>, amx_matmul<x16_q5_0_kind>,
      amx_bf16_matmul<legacy_kind<q5_0_fmt>>, amx_bf16_matmul<x16_q5_0_kind>);
  set(dtype::q4_k, amx_matmul<q4k_kind>, amx_matmul<x16_q4k_kind>, amx_bf16_matmul<q4k_kind>,
      amx_bf16_matmul<x16_q4k_kind>);
  set(dtype::q6_k, amx_matmul<q6k_kind>, amx_matmul<x16_q6k_kind>, amx_bf16_matmul<q6k_kind>,
      amx_bf16_matmul<x16_q6k_kind>);
  return b;
}

}  // namespace

namespace uma::kernels {

#if defined(UMA_AMX_EMULATE)
const matmul_backend& amx_emulated_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = make_amx_backend("amx-emulated");
    b.big_gemm_bf16_min_n = emulated_bf16_min_n;
    b.big_gemm_min_n = emulated_int8_min_n;
    return b;
  }();
  return be;
}
#else
bool amx_usable() {
  static const bool ok = request_tile_permission();
  return ok;
}

// The bf16 tiles need AMX-BF16 as well (every AMX CPU so far has both).
const matmul_backend& amx_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = make_amx_backend("amx");
    b.big_gemm_bf16_min_n = uma::cpu().amx_bf16 && uma::cpu().avx512_bf16 ? tile_min_n : 0;
    b.big_gemm_min_n = tile_min_n;
    return b;
  }();
  return be;
}
#endif

}  // namespace uma::kernels
