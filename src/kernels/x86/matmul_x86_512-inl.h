// AVX-512 tiles of the legacy formats (two 32-element blocks per zmm), included by
// matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is set: it uses that file's
// helpers (load256, h2f, prefetch_ahead, the *_fmt structs) and is not a header of its own.
#pragma once
// GCC 12's 256->512 cast intrinsics read an intentionally undefined register (false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// AVX-512 version of legacy_tile: two consecutive blocks per zmm register, so each vpdpbusd,
// convert and FMA covers 64 weights (half the instructions per block of the 256-bit tile).
inline __m512i join256(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
inline __m512 join_scales(float lo, float hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(lo)), _mm256_set1_ps(hi), 1);
}
inline __m512i dot512(__m512i acc, __m512i x, __m512i y, bool is_signed) {
  if (!is_signed) return _mm512_dpbusd_epi32(acc, x, y);
  const __mmask64 neg = _mm512_movepi8_mask(x);
  const __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
  return _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(x), sy);
}
inline float hsum512(__m512 v) {
  return hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

template <class F, int R, int C>
void legacy_tile512(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = typename F::block;
  using act = typename F::act;
  const int64_t nb = g.cols / 32;
  const block* x[R];
  const act* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const act*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[R][C];
  float macc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      acc[r][c] = _mm512_setzero_ps();
      macc[r][c] = 0.f;
    }
  const __m512i off = _mm512_set1_epi8(F::offset);
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    __m512i yv[C], corr[C];
    __m512 dy[C];
    for (int c = 0; c < C; ++c) {
      const __m256i hi = pair ? load256(y[c][b + 1].qs) : _mm256_setzero_si256();
      yv[c] = join256(load256(y[c][b].qs), hi);
      dy[c] = join_scales(h2f(y[c][b].d), pair ? h2f(y[c][b + 1].d) : 0.f);
      if constexpr (F::offset != 0)
        corr[c] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, yv[c]));
      else
        corr[c] = _mm512_setzero_si512();
    }
    for (int r = 0; r < R; ++r) {
      prefetch_ahead(&x[r][b], R * g.w_row_bytes);
      const __m256i qhi = pair ? F::unpack(x[r][b + 1]) : _mm256_setzero_si256();
      const __m512i q = join256(F::unpack(x[r][b]), qhi);
      const __m512 dx = join_scales(h2f(x[r][b].d), pair ? h2f(x[r][b + 1].d) : 0.f);
      for (int c = 0; c < C; ++c) {
        const __m512i p = dot512(corr[c], q, yv[c], F::is_signed);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dx, dy[c]), acc[r][c]);
        if constexpr (F::has_min) {
          macc[r][c] += h2f(x[r][b].m) * h2f(y[c][b].s);
          if (pair) macc[r][c] += h2f(x[r][b + 1].m) * h2f(y[c][b + 1].s);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = hsum512(acc[r][c]) + macc[r][c];
}

// Q4_0 / Q4_1 against Q8_0 / Q8_1, two blocks per step from one masked load: a pair of 18- or
// 20-byte blocks fits in 64 bytes, so vpermw places each block's 16 nibble bytes twice (the low
// nibbles are elements 0..15, the high ones 16..31), a variable shift and a mask finish the unpack,
// and a second vpermw spreads each block's fp16 scale over its 8 lanes. About half the
// instructions per weight of legacy_tile512, which matters because decode of Q4_0 is bound by
// these instructions before it is bound by memory (docs/performance.md).
template <class F>
struct nib_pair {
  static constexpr int words = sizeof(typename F::block) / 2;  // 9 (Q4_0) or 10 (Q4_1)
  static constexpr int qs_word = F::has_min ? 2 : 1;           // where qs starts, in words
  alignas(64) static constexpr int16_t qidx[32] = {
      qs_word + 0,         qs_word + 1,         qs_word + 2,         qs_word + 3,
      qs_word + 4,         qs_word + 5,         qs_word + 6,         qs_word + 7,
      qs_word + 0,         qs_word + 1,         qs_word + 2,         qs_word + 3,
      qs_word + 4,         qs_word + 5,         qs_word + 6,         qs_word + 7,
      words + qs_word + 0, words + qs_word + 1, words + qs_word + 2, words + qs_word + 3,
      words + qs_word + 4, words + qs_word + 5, words + qs_word + 6, words + qs_word + 7,
      words + qs_word + 0, words + qs_word + 1, words + qs_word + 2, words + qs_word + 3,
      words + qs_word + 4, words + qs_word + 5, words + qs_word + 6, words + qs_word + 7};
  alignas(64) static constexpr int16_t shift[32] = {0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4,
                                                    0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4};
  // Scale word of each block for lanes 0..7 / 8..15 (then the min word, for Q4_1).
  alignas(64) static constexpr int16_t sidx[32] = {
      0,         0,         0,         0,         0,         0,         0,         0,
      words,     words,     words,     words,     words,     words,     words,     words,
      1,         1,         1,         1,         1,         1,         1,         1,
      words + 1, words + 1, words + 1, words + 1, words + 1, words + 1, words + 1, words + 1};
};

template <class F, int R, int C>
void nib_tile512(const gemm_args& g, int64_t r0, int64_t c0) {
  using block = typename F::block;
  using act = typename F::act;
  using P = nib_pair<F>;
  const int64_t nb = g.cols / 32;
  const block* x[R];
  const act* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const act*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const __m512i qidx = _mm512_load_si512(P::qidx), shift = _mm512_load_si512(P::shift);
  const __m512i sidx = _mm512_load_si512(P::sidx), low4 = _mm512_set1_epi8(0x0F);
  const __m512i off = _mm512_set1_epi8(F::offset);
  for (int64_t b = 0; b < nb; b += 2) {
    const bool pair = b + 1 < nb;
    const __mmask32 wmask = pair ? (1u << (2 * P::words)) - 1 : (1u << P::words) - 1;
    __m512i yv[C], corr[C];
    __m512 dy[C], sy[C];
    for (int c = 0; c < C; ++c) {
      const __m256i hi = pair ? load256(y[c][b + 1].qs) : _mm256_setzero_si256();
      yv[c] = join256(load256(y[c][b].qs), hi);
      dy[c] = join_scales(h2f(y[c][b].d), pair ? h2f(y[c][b + 1].d) : 0.f);
      if constexpr (F::has_min)  // Q8_1's s = d * sum(qs), an eighth per lane (8 lanes a block)
        sy[c] = join_scales(0.125f * h2f(y[c][b].s), pair ? 0.125f * h2f(y[c][b + 1].s) : 0.f);
      if constexpr (F::offset != 0)
        corr[c] = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, yv[c]));
      else
        corr[c] = _mm512_setzero_si512();
    }
    for (int r = 0; r < R; ++r) {
      prefetch_ahead(&x[r][b], R * g.w_row_bytes);
      if (pair) prefetch_ahead(&x[r][b + 1], R * g.w_row_bytes);
      const __m512i raw = _mm512_maskz_loadu_epi16(wmask, &x[r][b]);
      const __m512i q =
          _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(qidx, raw), shift), low4);
      const __m512i sc = _mm512_permutexvar_epi16(sidx, raw);
      const __m512 dx = _mm512_cvtph_ps(_mm512_castsi512_si256(sc));
      __m512 mx;
      if constexpr (F::has_min) mx = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(sc, 1));
      for (int c = 0; c < C; ++c) {
        const __m512i p = _mm512_dpbusd_epi32(corr[c], q, yv[c]);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), _mm512_mul_ps(dx, dy[c]), acc[r][c]);
        if constexpr (F::has_min) acc[r][c] = _mm512_fmadd_ps(mx, sy[c], acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) g.y[(c0 + c) * g.ldy + r0 + r] = hsum512(acc[r][c]);
}
