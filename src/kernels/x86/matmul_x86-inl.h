// x86 matmul kernels, written once and compiled per target: matmul_avx2.cpp includes this with
// UMA_VNNI 0 (int8 products by maddubs + madd), matmul_avx512.cpp (and the AMX objects) with
// UMA_VNNI 1 (AVX-512 VNNI). Everything here lives in an anonymous namespace so that no inline
// function compiled with these flags can be merged by the linker into code that runs on a CPU
// without them.
//
// Shapes: a tile is R weight rows x C activation rows; each (row, activation) pair accumulates its
// blocks in the same order whatever the tile, so results do not depend on the tiling or threads.
// The 256-bit builds' legacy and K tiles below: matvec R = 4 (legacy) or 2 (K), C = 1; gemm R x C
// = 2 x 4 (legacy) or 1 x 4 (K), each unpacked weight block reused from registers across the
// activation rows. With UMA_VNNI every quantized type instead takes the rows-layout kernels of
// matmul_row16-inl.h and matmul_rowk-inl.h and the x16 tiles of matmul_x16-inl.h (fill_table),
// and these tiles are not instantiated there (the float ones are: matmul_float-inl.h). Until
// 2026-12-06 the AVX-512 build also compiled 512-bit versions of the legacy tiles
// (matmul_x86_512-inl.h), which fill_table overwrote.
#pragma once

#include <immintrin.h>

// UMA_AVXVNNI (matmul_avxvnni.cpp, with UMA_VNNI 0): the 256-bit int8 products by AVX-VNNI's VEX
// vpdpbusd, and scaled K-quant products by vpdpbusd + vpdpwssd, instead of vpmaddubsw + vpmaddwd
// (+ vpaddd). Same integers, so the same results as the AVX2 build.
#ifndef UMA_AVXVNNI
#define UMA_AVXVNNI 0
#endif

#include <array>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/backend.h"
#include "tensor/blocks.h"
#include "util/aligned.h"
#include "util/cpu_features.h"

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

inline float h2f(uint16_t h) {
  return _cvtsh_ss(h);
}

// Weight prefetch (one core: a bare load loop over the same rows 32-37 GB/s, the Q8_0 tile 20-22
// before its loads were made consecutive; bench_overlap shows the core itself overlaps a stream
// with compute, so the tiles' own loads were the limit). Each step fetches its lines `ahead`
// bytes on: where Far (the legacy tiles) into L1 and kFarAhead beyond that into L2 (clear of L1's
// few miss buffers); else (the rows tiles, since 2026-12-07, below) into L2, and kL1Ahead bytes
// on into L1 non-temporally.
// The far one paid while the rows tiles requested 2 KB ahead: the row16 tiles (Q4_0 / Q8_0: 2
// threads +20-25 %; Q4_1 / Q5_0 / Q5_1 decode +11-22 %, 2026-12-04) and, once the K rows tiles got
// lighter, the Q6_K / Q3_K / Q2_K ones (one thread from DRAM Q6_K 22 -> 25-27 GB/s, Q2_K / Q3_K
// +8-17 %; 2026-12-05 16:35). The Q4_K / Q5_K rows tile measured even with it, prefetching
// non-temporally 8 KB ahead (one thread from DRAM +10-20 % over 2 KB, 2026-12-06: its stream ran
// at about 2 KB per memory latency), and every rows tile now does the same: at 8 KB the far one
// cost the row16 tiles 2-7 %, and Q6_K at 8 KB alone ran 8-11 % faster than at 2 KB near and far
// (qwen3-0.6b decode, tokens alternated in one process; Q3_K_M, Q2_K -1 to +4 %; 2026-12-06 22:38).
// The legacy tiles keep the far one (their L1 request measured even against `prefetchnta` and up
// to 11 % faster than `prefetcht1` through the avx2 backend, 2026-12-07 10:40). Figures:
// docs/performance.md (2026-12-02 23:25, 2026-12-03 05:20, 2026-12-04 14:30, 2026-12-05 16:35,
// 2026-12-06 10:21, 2026-12-06 22:38). Since 2026-12-07 the rows tiles' request 8 KB ahead goes
// into L2 only (prefetcht1) and a second, non-temporal one 1 KB ahead takes the line on from L2 to
// L1: a request into L1 holds one of L1's few miss buffers until its line arrives, and 8 KB ahead
// from DRAM they were all taken (as in decode attention, ops_x86-inl.h). qwen3-0.6b / qwen2.5-0.5b
// / llama-3.2-1b decode on the Zen 4 VM, tokens alternated in one process: 0.74-1.014x the time a
// token (Q8_0 up to 1.35x faster, Q4_0 and the K mixes up to 1.19x; no pair more than 1.4 %
// slower), and 0-3 % faster than the L2 request alone (docs/performance.md, 2026-12-07 08:05). The
// 256-bit row8 tiles (AVX2, AVX-VNNI) keep one non-temporal request into L1 (prefetch_lines_nta):
// through the avx2 backend on the same Zen 4 the pair made qwen3-0.6b Q4_0 decode 7-8 % slower,
// Q8_0 0-1.5 %, Q4_K_M even (tokens alternated): those tiles compute too slowly for L1's miss
// buffers to run out, and the second request is one more load-port operation.
inline constexpr size_t kFarAhead = 16384;
inline constexpr size_t kL1Ahead = 1024;
template <bool Far = true>
inline void prefetch_lines(const void* p, int lines, size_t ahead) {
  const char* c = static_cast<const char*>(p);
  for (int l = 0; l < lines; ++l) {
    if constexpr (Far) {
      _mm_prefetch(c + ahead + 64 * l, _MM_HINT_T0);
      _mm_prefetch(c + ahead + kFarAhead + 64 * l, _MM_HINT_T1);
    } else {
      _mm_prefetch(c + ahead + 64 * l, _MM_HINT_T1);
      _mm_prefetch(c + kL1Ahead + 64 * l, _MM_HINT_NTA);
    }
  }
}

// Each of `lines` lines from p + ahead on, non-temporally into L1 (the row8 tiles).
inline void prefetch_lines_nta(const void* p, int lines, size_t ahead) {
  const char* c = static_cast<const char*>(p) + ahead;
  for (int l = 0; l < lines; ++l) _mm_prefetch(c + 64 * l, _MM_HINT_NTA);
}

// Legacy tiles walk R rows at a time: the same block `ahead` bytes on is the next tile's.
template <class T>
inline void prefetch_ahead(const T* p, size_t ahead) {
  prefetch_lines(p, static_cast<int>((sizeof(T) + 63) / 64), ahead);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Q3_K's 16 six-bit scales (12 packed bytes, ggml's kmask steps as vector ops), minus 32, as int8.
inline __m128i q3k_scales_i8(const uint8_t* packed) {
  uint32_t a0, a1, t;
  std::memcpy(&a0, packed, 4), std::memcpy(&a1, packed + 4, 4), std::memcpy(&t, packed + 8, 4);
  const __m128i a = _mm_setr_epi32(static_cast<int>(a0), static_cast<int>(a1), static_cast<int>(a0),
                                   static_cast<int>(a1));
  const __m128i lo =
      _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi8(0x0f));
  const __m128i hi = _mm_slli_epi32(
      _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(static_cast<int>(t)), _mm_setr_epi32(0, 2, 4, 6)),
                    _mm_set1_epi8(0x03)),
      4);
  return _mm_sub_epi8(_mm_or_si128(lo, hi), _mm_set1_epi8(32));
}

inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// acc += sum of 4-byte groups of u (unsigned, < 64 so maddubs cannot saturate) times s (signed).
inline __m256i dot_us(__m256i acc, __m256i u, __m256i s) {
#if UMA_VNNI
  return _mm256_dpbusd_epi32(acc, u, s);
#elif UMA_AVXVNNI
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}
// The 16 sub-block scales of a K block (as words: lane 0 scales 0..7, lane 1 scales 8..15),
// spread for the dot products of its 32-element groups: get(j) holds scale 2j in every word of
// the low 128-bit lane and scale 2j + 1 in the high one (bytes 0..15 / 16..31 of group j).
struct k_group_scales {
  __m256i lo, hi;  // scales 0..7 / 8..15 in both lanes
  explicit k_group_scales(__m256i sc16)
      : lo(_mm256_permute2x128_si256(sc16, sc16, 0x00)),
        hi(_mm256_permute2x128_si256(sc16, sc16, 0x11)) {}
  __m256i get(int j) const {
    const int w = 2 * (j % 4);
    const __m256i idx =
        _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>((2 * w + 2) | (2 * w + 3) << 8)),
                         _mm_set1_epi16(static_cast<int16_t>(2 * w | (2 * w + 1) << 8)));
    return _mm256_shuffle_epi8(j < 4 ? lo : hi, idx);
  }
};
// Scaled K-quant products: Vnni (AVX-VNNI builds, tiles of C > 1 activation rows) takes vpdpbusd
// + vpdpwssd, else vpmaddubsw + vpmaddwd + vpaddd. Both are two multiplies per 32 bytes; VNNI
// saves the add but accumulates with a multiply's latency, which cost decode (C = 1) 5-10 % on
// Zen 5, while prefill gained ~20 % (docs/performance.md).
#if UMA_AVXVNNI
constexpr bool k_vnni_gemm = true;
#else
constexpr bool k_vnni_gemm = false;
#endif
// Word scales (both words of a dword the same scale) as dot_us_words<Vnni> takes them: unchanged,
// or for Vnni (scale, 0) pairs.
template <bool Vnni>
inline __m256i word_scales(__m256i sc) {
  if constexpr (Vnni) return _mm256_and_si256(sc, _mm256_set1_epi32(0xFFFF));
  return sc;
}
// acc += u x s per 16-byte half, scaled by word_scales<Vnni>(sc) (u < 64: no maddubs saturation).
template <bool Vnni>
inline __m256i dot_us_words(__m256i acc, __m256i u, __m256i s, __m256i sc) {
#if UMA_AVXVNNI
  // The 4-product sums (|sum| <= 4 x 63 x 127 < 2^15) times the (scale, 0) word pairs.
  if constexpr (Vnni)
    return _mm256_dpwssd_avx_epi32(acc, _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s), sc);
#endif
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
}

// Bytes 0..7: the 8 six-bit scales, 8..15: the 8 mins (k4_scales without leaving the register).
inline __m128i k4_scales_vec(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // u0 u1 u2 (+4)
  const __m128i m1 = _mm_set1_epi8(0x3f), m2 = _mm_set1_epi8(0x0f), m3 = _mm_set1_epi8(0x03);
  const __m128i low = _mm_and_si128(v, m1);                     // scales 0-3, mins 0-3
  const __m128i top = _mm_and_si128(_mm_srli_epi32(v, 6), m3);  // their bits 6-7
  const __m128i u2 = _mm_shuffle_epi32(v, 0xaa);                // u2 in every dword
  const __m128i nib = _mm_and_si128(_mm_srlv_epi32(u2, _mm_setr_epi32(0, 4, 0, 0)), m2);
  const __m128i high = _mm_or_si128(nib, _mm_slli_epi32(top, 4));  // scales 4-7, mins 4-7
  return _mm_unpacklo_epi32(low, high);
}

// Bit `from` of every byte of v moved to bit `to`, the other bits cleared (a word shift keeps the
// bit inside its byte: only bits of the neighbouring byte that the mask drops cross over).
inline __m256i byte_bit_to(__m256i v, int from, int to) {
  const __m256i s = from <= to ? _mm256_slli_epi16(v, to - from) : _mm256_srli_epi16(v, from - to);
  return _mm256_and_si256(s, _mm256_set1_epi8(static_cast<char>(1 << to)));
}

// Signed x signed (Q8_0 weights): |x| * (y with x's sign).
inline __m256i dot_ss(__m256i acc, __m256i x, __m256i y) {
  const __m256i ax = _mm256_sign_epi8(x, x);
  const __m256i sy = _mm256_sign_epi8(y, x);
#if UMA_VNNI
  return _mm256_dpbusd_epi32(acc, ax, sy);
#elif UMA_AVXVNNI
  return _mm256_dpbusd_avx_epi32(acc, ax, sy);
#else
  return _mm256_add_epi32(acc,
                          _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1)));
#endif
}

inline __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}
inline __m128i load128(const void* p) {
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}

// The sub-block products of a K block, two integer chains (even and odd groups) added at the end:
// vpdpwssd accumulates with a multiply's latency, where vpaddd took one cycle.
template <bool Vnni>
inline __m256i k_block_dot(const __m256i q[8], const int8_t* qs, const __m256i scw[8]) {
  __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
  for (int j = 0; j < 8; j += 2) {
    even = dot_us_words<Vnni>(even, q[j], load256(qs + 32 * j), scw[j]);
    odd = dot_us_words<Vnni>(odd, q[j + 1], load256(qs + 32 * j + 32), scw[j + 1]);
  }
  return _mm256_add_epi32(even, odd);
}

// 16 bytes of nibbles -> 32 bytes: low nibbles first (elements 0..15), then high (16..31).
inline __m256i nibbles(const uint8_t* qs) {
  const __m128i x = load128(qs);
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(x, 4), x);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}
// The 32 fifth bits of Q5_0/Q5_1 (bit j of qh = element j) as 0x10 bytes.
inline __m256i fifth_bits(const uint8_t* qh4) {
  uint32_t qh;
  std::memcpy(&qh, qh4, 4);
  const __m256i shuf =
      _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL, 0x0303030303030303LL);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), shuf);
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  bytes = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
  return _mm256_and_si256(bytes, _mm256_set1_epi8(0x10));
}

// ---------------------------------------------------------------------------------------------
// Legacy formats (32-element blocks) against Q8_0 / Q8_1 activations.

struct q4_0_fmt {
  using block = block_q4_0;
  using act = block_q8_0;
  static constexpr int offset = 8;
  static constexpr bool has_min = false, is_signed = false;
  static __m256i unpack(const block& b) { return nibbles(b.qs); }
};
struct q4_1_fmt {
  using block = block_q4_1;
  using act = block_q8_1;
  static constexpr int offset = 0;
  static constexpr bool has_min = true, is_signed = false;
  static __m256i unpack(const block& b) { return nibbles(b.qs); }
};
struct q5_0_fmt {
  using block = block_q5_0;
  using act = block_q8_0;
  static constexpr int offset = 16;
  static constexpr bool has_min = false, is_signed = false;
  static __m256i unpack(const block& b) { return _mm256_or_si256(nibbles(b.qs), fifth_bits(b.qh)); }
};
struct q5_1_fmt {
  using block = block_q5_1;
  using act = block_q8_1;
  static constexpr int offset = 0;
  static constexpr bool has_min = true, is_signed = false;
  static __m256i unpack(const block& b) { return _mm256_or_si256(nibbles(b.qs), fifth_bits(b.qh)); }
};
struct q8_0_fmt {
  using block = block_q8_0;
  using act = block_q8_0;
  static constexpr int offset = 0;
  static constexpr bool has_min = false, is_signed = true;
  static __m256i unpack(const block& b) { return load256(b.qs); }
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
  __m256 acc[R][C];
  float macc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm256_setzero_ps();
      macc[r][c] = 0.f;
    }
  for (int64_t b = 0; b < nb; ++b) {
    // corr[c] = -offset * sum(y): the integer accumulator starts there, so the offset costs
    // nothing per (row, activation) pair.
    __m256i yv[C], corr[C];
    __m256 dy[C];
    for (int c = 0; c < C; ++c) {
      yv[c] = load256(y[c][b].qs);
      dy[c] = _mm256_set1_ps(h2f(y[c][b].d));
      if constexpr (F::offset != 0)
        corr[c] =
            _mm256_sub_epi32(_mm256_setzero_si256(),
                             dot_us(_mm256_setzero_si256(), _mm256_set1_epi8(F::offset), yv[c]));
      else
        corr[c] = _mm256_setzero_si256();
    }
    for (int r = 0; r < R; ++r) {
      prefetch_ahead(&x[r][b], R * g.w_row_bytes);
      const __m256i q = F::unpack(x[r][b]);
      const __m256 dx = _mm256_set1_ps(h2f(x[r][b].d));
      for (int c = 0; c < C; ++c) {
        const __m256i p = F::is_signed ? dot_ss(corr[c], q, yv[c]) : dot_us(corr[c], q, yv[c]);
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dx, dy[c]), acc[r][c]);
        if constexpr (F::has_min) macc[r][c] += h2f(x[r][b].m) * h2f(y[c][b].s);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = hsum(acc[r][c]) + macc[r][c];
}

// Decode and batches over rows streamed across their ends (matmul_row8-inl.h's and
// matmul_row16-inl.h's stream policies S: S::applies(g), S::period_rows(g), and the tile
// S::tile<C>(g, w, rows, act, stride, y) for C activation rows) over the prepared activations:
// one stream per activation row for decode; a batch one row period at a time (the stream and the
// activation chunks restart together), its chunks for 4, 2, then 1 activation rows. False (and
// nothing done) where S does not apply.
template <class S>
bool stream_rows(const gemm_args& g) {
  if (!S::applies(g)) return false;
  const uint8_t* act = g.prep;
  const size_t stride = g.prep_row_bytes;
  if (g.n == 1) {
    S::template tile<1>(g, g.w, g.rows, act, stride, g.y);
    return true;
  }
  const int64_t period_rows = S::period_rows(g);
  for (int64_t r = 0; r < g.rows; r += period_rows) {
    const int64_t k = std::min(period_rows, g.rows - r);
    const uint8_t* w = g.w + static_cast<size_t>(r) * g.w_row_bytes;
    int64_t c = 0;
    for (; c + 4 <= g.n; c += 4)
      S::template tile<4>(g, w, k, act + c * stride, stride, g.y + c * g.ldy + r);
    for (; c + 2 <= g.n; c += 2)
      S::template tile<2>(g, w, k, act + c * stride, stride, g.y + c * g.ldy + r);
    for (; c < g.n; ++c)
      S::template tile<1>(g, w, k, act + c * stride, stride, g.y + c * g.ldy + r);
  }
  return true;
}

#if !UMA_VNNI
#include "kernels/x86/matmul_row8-inl.h"
#endif
// The 256-bit x16 tiles (the AVX2 builds' prefill) and the x16 activation preparations that the
// AVX-512 tiles share with them.
#include "kernels/x86/matmul_x16_256-inl.h"
#if UMA_VNNI
// GCC 12's 256->512 cast and AVX-512 unpack intrinsics read an intentionally undefined register
// (false positive), in the AVX-512 kernels below.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/x86/matmul_row16-inl.h"
#include "kernels/x86/matmul_rowk-inl.h"
#include "kernels/x86/matmul_x16-inl.h"
#endif

// ---------------------------------------------------------------------------------------------
// K formats (256-element super-blocks) against Q8_K activations.

// 8 six-bit scales then 8 six-bit mins of a Q4_K / Q5_K block (ggml's kmask unpacking).
inline void k4_scales(const uint8_t* packed, uint8_t out[16]) {
  uint32_t u[4];
  std::memcpy(u, packed, 12);
  constexpr uint32_t m1 = 0x3f3f3f3f, m2 = 0x0f0f0f0f, m3 = 0x03030303;
  u[3] = ((u[2] >> 4) & m2) | (((u[1] >> 6) & m3) << 4);
  const uint32_t mins_lo = u[1] & m1;
  u[1] = (u[2] & m2) | (((u[0] >> 6) & m3) << 4);
  u[2] = mins_lo;
  u[0] &= m1;
  std::memcpy(out, u, 16);
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
  __m256 acc[R][C], macc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = macc[r][c] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i pick[8];  // pshufb indices: word j of a 128-bit lane in every word
  for (int j = 0; j < 8; ++j)
    pick[j] = _mm256_set1_epi16(static_cast<int16_t>(2 * j | (2 * j + 1) << 8));
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      const __m128i sm = k4_scales_vec(xb.scales);  // 8 scales, 8 mins
      const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
      const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sm, sm));  // m0 m0 m1 m1 ..
      // Sub-block pairs outermost, activation rows inside: two unpacked nibble vectors and their
      // two scale vectors live at a time instead of all eight of each (16 of AVX2's 16 registers,
      // which spilled the accumulators).
      __m256i isum[C];
      for (int c = 0; c < C; ++c) isum[c] = _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        __m256i raw = load256(xb.qs + 32 * j);
        __m256i lo = _mm256_and_si256(raw, low4),
                hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
        if constexpr (five) {
          const __m256i qh = load256(xb.qh);
          lo = _mm256_or_si256(lo, byte_bit_to(qh, 2 * j, 4));
          hi = _mm256_or_si256(hi, byte_bit_to(qh, 2 * j + 1, 4));
        }
        constexpr bool vnni = k_vnni_gemm && C > 1;
        const __m256i slo = word_scales<vnni>(_mm256_shuffle_epi8(sc16, pick[2 * j]));
        const __m256i shi = word_scales<vnni>(_mm256_shuffle_epi8(sc16, pick[2 * j + 1]));
        for (int c = 0; c < C; ++c) {  // values < 32: the maddubs pairs cannot saturate
          const int8_t* yq = y[c][b].qs + 64 * j;
          isum[c] = dot_us_words<vnni>(isum[c], lo, load256(yq), slo);
          isum[c] = dot_us_words<vnni>(isum[c], hi, load256(yq + 32), shi);
        }
      }
      const float d = h2f(xb.d), dmin = h2f(xb.dmin);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        acc[r][c] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_set1_ps(d * yb.d), acc[r][c]);
        // mins x sub-block sums (bsums pairs), subtracted at the end
        const __m256i mins = _mm256_madd_epi16(mn16, load256(yb.bsums));
        macc[r][c] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dmin * yb.d), macc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      g.y[(c0 + c) * g.ldy + r0 + r] = hsum(_mm256_sub_ps(acc[r][c], macc[r][c]));
}

// A Q2_K / Q3_K super-block as eight groups of 32 values in element order (group 4h + j is bits
// 2j..2j+1 of qs[32h .. 32h + 31]); Q3_K adds 4 where hmask[l] has bit 4h + j (its -4 offset is
// left to the caller).
template <bool Three, class B>
inline void q23k_unpack(const B& xb, __m256i q[8]) {
  const __m256i three = _mm256_set1_epi8(3);
  for (int h = 0; h < 2; ++h) {
    const __m256i qq = load256(xb.qs + 32 * h);
    for (int j = 0; j < 4; ++j)
      q[4 * h + j] = _mm256_and_si256(_mm256_srli_epi16(qq, 2 * j), three);
  }
  if constexpr (Three) {
    const __m256i hm = load256(xb.hmask);
    for (int k = 0; k < 8; ++k) q[k] = _mm256_add_epi8(q[k], byte_bit_to(hm, k, 2));
  }
}

// Q2_K (Three = false) and Q3_K: each group's two 16-element halves scaled by their scales; Q3_K's
// -4 offset and Q2_K's min term from the activation's 16-element sums.
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
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      __m256i q[8];
      q23k_unpack<Three>(xb, q);
      __m256i sc16, mn16;
      if constexpr (Three) {
        sc16 = _mm256_cvtepi8_epi16(q3k_scales_i8(xb.scales));
      } else {
        const __m128i raw = load128(xb.scales);
        sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
        mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
      }
      const k_group_scales gs(sc16);
      __m256i scw[8];
      constexpr bool vnni = k_vnni_gemm && C > 1;
      for (int j = 0; j < 8; ++j) scw[j] = word_scales<vnni>(gs.get(j));
      const float d = h2f(xb.d);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        __m256i isum = k_block_dot<vnni>(q, yb.qs, scw);
        if constexpr (Three) {
          const int corr = hsum_i32(_mm256_madd_epi16(sc16, load256(yb.bsums)));
          isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(4 * corr, 0, 0, 0, 0, 0, 0, 0));
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * yb.d), acc[r][c]);
        } else {
          const int mins = hsum_i32(_mm256_madd_epi16(mn16, load256(yb.bsums)));
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * yb.d), acc[r][c]);
          acc[r][c] = _mm256_sub_ps(
              acc[r][c],
              _mm256_setr_ps(h2f(xb.dmin) * yb.d * static_cast<float>(mins), 0, 0, 0, 0, 0, 0, 0));
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = hsum(acc[r][c]);
}

// A Q6_K super-block as eight groups of 32 values 0..63 (element order; the -32 offset is left to
// the caller).
inline void q6k_unpack(const block_q6_k& xb, __m256i q[8]) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(0x03);
  for (int h = 0; h < 2; ++h) {
    const __m256i l0 = load256(xb.ql + 64 * h), l1 = load256(xb.ql + 64 * h + 32);
    const __m256i hb = load256(xb.qh + 32 * h);
    q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(hb, two), 4));
    q[4 * h + 1] =
        _mm256_or_si256(_mm256_and_si256(l1, low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), two), 4));
    q[4 * h + 2] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), two), 4));
    q[4 * h + 3] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), two), 4));
  }
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
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    for (int r = 0; r < R; ++r) {
      const block_q6_k& xb = x[r][b];
      prefetch_ahead(&xb, R * g.w_row_bytes);
      __m256i q[8];
      q6k_unpack(xb, q);
      const __m256i sc16 = _mm256_cvtepi8_epi16(load128(xb.scales));
      const k_group_scales gs(sc16);
      __m256i scw[8];
      constexpr bool vnni = k_vnni_gemm && C > 1;
      for (int j = 0; j < 8; ++j) scw[j] = word_scales<vnni>(gs.get(j));
      const float d = h2f(xb.d);
      for (int c = 0; c < C; ++c) {
        const block_q8_k& yb = y[c][b];
        __m256i isum = k_block_dot<vnni>(q, yb.qs, scw);
        // the -32 offset: 32 * sum_g scale[g] * bsums[g]
        const int corr = hsum_i32(_mm256_madd_epi16(sc16, load256(yb.bsums)));
        isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(32 * corr, 0, 0, 0, 0, 0, 0, 0));
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d * yb.d), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = hsum(acc[r][c]);
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

// Register budget: AVX-512VL has 32 vector registers, AVX2 16 (the float tiles' gemm shape in
// the AVX-512 builds, the legacy tiles' in the 256-bit ones).
#if UMA_VNNI
constexpr int gemm_r = 4, gemm_c = 4;
#else
constexpr int gemm_r = 2, gemm_c = 4;
#endif

template <class F>
void legacy_matvec(const gemm_args& g) {
  drive<legacy_t<F>::template t, 4, 1>(g);
}
template <class F>
void legacy_gemm(const gemm_args& g) {
  drive<legacy_t<F>::template t, gemm_r, gemm_c>(g);
}
template <bool five>
void q45k_matvec(const gemm_args& g) {
  drive<q45k_t<five>::template t, 2, 1>(g);
}
template <bool five>
void q45k_gemm(const gemm_args& g) {
  drive<q45k_t<five>::template t, 1, 4>(g);
}
template <bool Three>
void q23k_matvec(const gemm_args& g) {
  drive<q23k_t<Three>::template t, 2, 1>(g);
}
template <bool Three>
void q23k_gemm(const gemm_args& g) {
  drive<q23k_t<Three>::template t, 1, 4>(g);
}
#if !UMA_VNNI
void q6k_matvec(const gemm_args& g) {
  drive<q6k_t, 2, 1>(g);
}
void q6k_gemm(const gemm_args& g) {
  drive<q6k_t, 1, 4>(g);
}
#endif
#include "kernels/x86/convert_x86-inl.h"   // the activation converters
#include "kernels/x86/matmul_float-inl.h"  // F32 / F16 / BF16 weights

void fill_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  using uma::kernels::act_format;
  auto set = [&](dtype t, uma::kernels::gemm_fn mv, uma::kernels::gemm_fn gm) {
    b.matvec[static_cast<size_t>(t)] = mv;
    b.gemm[static_cast<size_t>(t)] = gm;
  };
#if !UMA_VNNI
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
#endif
  fill_float_table(b);
  b.convert[static_cast<size_t>(act_format::q8_0)] = convert_q8_0;
  b.convert[static_cast<size_t>(act_format::q8_1)] = convert_q8_1;
  b.convert[static_cast<size_t>(act_format::q8_k)] = convert_q8_k;
  b.convert[static_cast<size_t>(act_format::f16)] = convert_f16;
#if !UMA_VNNI
  // Q4_0 / Q5_0 in the rows layout, 8 blocks per step (matmul_row8-inl.h).
  set(dtype::q4_0, row8_matvec<row8_q4_0_fmt>, row8_gemm<row8_q4_0_fmt>);
  b.gemm_prep[static_cast<size_t>(dtype::q4_0)] = row8_prep<8>;
  set(dtype::q5_0, row8_matvec<row8_q5_0_fmt>, row8_gemm<row8_q5_0_fmt>);
  b.gemm_prep[static_cast<size_t>(dtype::q5_0)] = row8_prep<16>;
  fill_x16_256_table(b);  // prefill over rows interleaved on the fly
#endif
#if UMA_VNNI
  // The rows-layout kernels (matmul_row16-inl.h, matmul_rowk-inl.h): one tile for decode (1 x 1)
  // and prefill (2 x 4), the prefill activations laid out once per call where the tile needs it.
  auto set_rows = [&](dtype t, uma::kernels::gemm_fn mv, uma::kernels::gemm_fn gm,
                      uma::kernels::gemm_prep_fn prep) {
    set(t, mv, gm);
    b.gemm_prep[static_cast<size_t>(t)] = prep;
  };
  set_rows(dtype::q4_0, row16_matvec<row16_q4_0_fmt>, row16_gemm<row16_q4_0_fmt>, row16_q4_0_prep);
  set_rows(dtype::q5_0, row16_matvec<row16_q5_0_fmt>, row16_gemm<row16_q5_0_fmt>, row16_q5_0_prep);
  set_rows(dtype::q4_1, row16_matvec<row16_q4_1_fmt>, row16_gemm<row16_q4_1_fmt>, row16_q8_1_prep);
  set_rows(dtype::q5_1, row16_matvec<row16_q5_1_fmt>, row16_gemm<row16_q5_1_fmt>, row16_q8_1_prep);
  set_rows(dtype::q8_0, row16_matvec<row16_q8_0_fmt>, row16_gemm<row16_q8_0_fmt>, row16_q8_0_prep);
  set_rows(dtype::q4_k, rowk4_matvec, rowk4_gemm, rowk4_prep);
  set_rows(dtype::q5_k, rowk5_matvec, rowk5_gemm, rowk4_prep);
  set_rows(dtype::q6_k, rowq6k_matvec, rowq6k_gemm, rowq6k_prep);
  set_rows(dtype::q3_k, rowq3k_matvec, rowq3k_gemm, rowq3k_prep);
  set_rows(dtype::q2_k, rowq2k_matvec, rowq2k_gemm, nullptr);
  fill_x16_table(b);
#endif
}

}  // namespace
