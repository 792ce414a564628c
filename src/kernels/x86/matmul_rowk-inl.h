// AVX-512 kernels for the K formats (Q2_K .. Q6_K) in the file's own (rows) layout, decode and
// the prefill tile, included by matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is
// set (after matmul_row16-inl.h). One super-block per step, with no scalar work per block; an R x C
// tile unpacks each row's block once for C activation rows.
#pragma once

// Runs step(r, b) over R rows x nb super-blocks: block-major for the prefill tiles (each
// activation block loaded once for the R rows), row by row for decode (C == 1), so that the rows
// are read as one sequential stream.
template <int R, int C, class Step>
inline void tile_steps(int64_t nb, const Step& step) {
  if constexpr (C == 1) {
    for (int r = 0; r < R; ++r)
      for (int64_t b = 0; b < nb; ++b) step(r, b);
  } else {
    for (int64_t b = 0; b < nb; ++b)
      for (int r = 0; r < R; ++r) step(r, b);
  }
}

// The int32 dot of a super-block's four 64-value vectors w against the activation's 256 values
// at qs, each vpdpbusd partial (< 2^15) scaled by the matching (scale, 0) dwords sc[k] and summed
// by vpdpwssd.
[[gnu::always_inline]] inline __m512i group_scaled_dot(const __m512i w[4], const __m512i sc[4],
                                                       const int8_t* qs) {
  __m512i isum = _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) {
    const __m512i p =
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_loadu_si512(qs + 64 * k));
    isum = _mm512_dpwssd_epi32(isum, p, sc[k]);
  }
  return isum;
}

// Q4_K in the rows layout, one super-block (144 bytes) per step with no scalar work: the
// 12 packed scale bytes decode in one xmm register (ggml's kmask steps as vector ops), each zmm of
// nibbles covers two sub-blocks (low nibbles of qs 0..63 are sub-blocks 0 and 2, high ones 1 and
// 3), vpmaddubsw gives exact int16 pair products (|x| < 2^13) and vpmaddwd / vpdpwssd against
// words of the sub-block's 6-bit scale applies them and sums each dword's four products, as
// vpdpbusd then vpdpwssd against (scale, 0) dwords did, to the same int32 lanes. The scale words
// come from one vpshufb each of the decoded bytes broadcast to every 128-bit lane (before: a
// vpmovzxbd and one vpermd each, and a zeroed register per vpdpbusd). The 16 scaled dwords fold
// to 8, and one vpdpwssd adds the products of the 8 mins (as dwords 8..15, by one more vpshufb)
// and the activation's prepared sub-block sums, so that one conversion and one multiply-add by
// [d x 8 | dmin x 8] x the activation's [d x 8 | -d x 8] take the block (before: two of each).

// Q8_K activation per super-block for rowk4_tile, prepared once per call (gemm_prep) or task
// (decode): the 256 values in the order of the four nibble vectors, then 16 dwords (zero, then
// the 8 sub-block sums), then the scale d eight times and -d eight times.
struct rowk4_act_block {
  int8_t qs[256];
  int32_t sums[16];
  float d[16];
};
static_assert(sizeof(rowk4_act_block) % 64 == 0);

inline size_t rowk4_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 256;
  const size_t bytes = static_cast<size_t>(nb) * sizeof(rowk4_act_block);
  if (out == nullptr) return bytes;
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  auto* o = reinterpret_cast<rowk4_act_block*>(out);
  // Nibble vector v (0..3) half h holds sub-block 4 (v / 2) + 2h + v % 2.
  for (int64_t b = 0; b < nb; ++b) {
    for (int v = 0; v < 4; ++v)
      for (int h = 0; h < 2; ++h)
        std::memcpy(o[b].qs + 64 * v + 32 * h, y[b].qs + 32 * (4 * (v / 2) + 2 * h + v % 2), 32);
    for (int s = 0; s < 8; ++s) {
      o[b].sums[s] = 0;
      o[b].sums[8 + s] = y[b].bsums[2 * s] + y[b].bsums[2 * s + 1];
    }
    for (int s = 0; s < 8; ++s) {
      o[b].d[s] = y[b].d;
      o[b].d[8 + s] = -y[b].d;
    }
  }
  return bytes;
}

// Q5_K (Five) is Q4_K with a fifth bit per weight: qh[l] bit s belongs to element l of
// sub-block s. The 32 qh bytes broadcast to both 256-bit halves line up with the nibble vectors'
// bytes, so one vptestmb per vector against that vector's two sub-block bits and a masked byte
// add of 16 complete the 5-bit values (< 32: vpdpbusd partials stay < 2^15, as vpdpwssd needs).
//
// R weight rows from r0 x C prepared activation rows (act, act_stride bytes apart).
template <int R, int C, bool Five = false>
void rowk4_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  using block = std::conditional_t<Five, block_q5_k, block_q4_k>;
  constexpr int lines = static_cast<int>((sizeof(block) + 63) / 64);
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
  __m512i fifth[4];  // per nibble vector v: the qh bit of each half's sub-block
  for (int v = 0; v < 4; ++v) {
    const int sb = 4 * (v / 2) + v % 2;
    fifth[v] =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << sb))),
                           _mm256_set1_epi8(static_cast<char>(1 << (sb + 2))), 1);
  }
  // vpshufb indices into the decoded scale bytes (scales 0..7, then mins 0..7, in every 128-bit
  // lane): for nibble vector v, every word of half h is the scale of sub-block
  // 4 (v / 2) + 2h + v % 2; for the mins, dword 8 + s is min s (dwords 0..7 zero, as the
  // activation's sums are there).
  __m512i pick[4];
  for (int v = 0; v < 4; ++v)
    pick[v] = _mm512_inserti64x4(
        _mm512_castsi256_si512(
            _mm256_set1_epi16(static_cast<int16_t>(0x8000 | (4 * (v / 2) + v % 2)))),
        _mm256_set1_epi16(static_cast<int16_t>(0x8000 | (4 * (v / 2) + 2 + v % 2))), 1);
  constexpr auto min_lane = [](int m) { return static_cast<int>(0x80808000u | (8 + m)); };
  const __m512i pick_min =
      _mm512_set_epi32(min_lane(7), min_lane(6), min_lane(5), min_lane(4), min_lane(3), min_lane(2),
                       min_lane(1), min_lane(0), -1, -1, -1, -1, -1, -1, -1, -1);
  const __m512i dm_lanes = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi32(1), 1);
  __m512 facc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
  const auto step = [&](int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    prefetch_lines<false>(reinterpret_cast<const char*>(x), lines, 2048);
    const __m512i sb = _mm512_broadcast_i32x4(k4_scales_vec(x->scales));
    // [d x 8 | dmin x 8], the weights' scales for the folded sums below.
    uint32_t dd;
    std::memcpy(&dd, &x->d, 4);
    const __m512 dm = _mm512_permutexvar_ps(
        dm_lanes, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd)))));
    const __m512i l0 = _mm512_loadu_si512(x->qs), l1 = _mm512_loadu_si512(x->qs + 64);
    __m512i q[4] = {_mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_srli_epi16(l0, 4), low4),
                    _mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_srli_epi16(l1, 4), low4)};
    if constexpr (Five) {
      const __m512i qh =
          _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qh)));
      for (int v = 0; v < 4; ++v)
        q[v] = _mm512_mask_add_epi8(q[v], _mm512_test_epi8_mask(qh, fifth[v]), q[v], sixteen);
    }
    __m512i sc[4];
    for (int v = 0; v < 4; ++v) sc[v] = _mm512_shuffle_epi8(sb, pick[v]);
    const __m512i mn = _mm512_shuffle_epi8(sb, pick_min);
    for (int c = 0; c < C; ++c) {
      const auto* a = reinterpret_cast<const rowk4_act_block*>(act + c * act_stride) + b;
      __m512i isum =
          _mm512_madd_epi16(_mm512_maddubs_epi16(q[0], _mm512_loadu_si512(a->qs)), sc[0]);
      for (int v = 1; v < 4; ++v)
        isum = _mm512_dpwssd_epi32(
            isum, _mm512_maddubs_epi16(q[v], _mm512_loadu_si512(a->qs + 64 * v)), sc[v]);
      // The scaled sums folded to dwords 0..7 and the min products (dwords 8..15) added: one
      // conversion and one multiply-add by [d da x 8 | -dmin da x 8].
      const __m256i fold =
          _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
      const __m512i both =
          _mm512_dpwssd_epi32(_mm512_zextsi256_si512(fold), mn, _mm512_load_si512(a->sums));
      facc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(both),
                                   _mm512_mul_ps(dm, _mm512_load_ps(a->d)), facc[r][c]);
    }
  };
  tile_steps<R, C>(nb, step);
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// Q6_K in the rows layout, one super-block (210 bytes) per step. Per 128-element half, one
// zmm of ql and the 32 qh bytes broadcast to both 256-bit halves give two vectors of 64 values
// 0..63 in element order (variable word shifts place each half's 2-bit pair at bits 4..5), so the
// Q8_K activation is used as it is. Each 128-bit lane of a vpdpbusd result is one 16-element group
// (partial sums < 2^15), and vpdpwssd against (scale, 0) dwords applies the int8 group scales;
// the -32 offset is 32 x sum of scale x the activation's 16-element sums (one vpmaddwd).
template <int R, int C>
void rowq6k_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  __m512i pick[4];  // lane i of vector k: group 4k + i's scale in every dword
  for (int k = 0; k < 4; ++k)
    pick[k] = _mm512_set_epi32(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 2, 4 * k + 2,
                               4 * k + 2, 4 * k + 2, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                               4 * k, 4 * k, 4 * k, 4 * k);
  __m512 facc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
  const auto step = [&](int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block_q6_k*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    const auto* xb = reinterpret_cast<const char*>(x);
    prefetch_lines<false>(xb, 4, 2048);
    const __m256i sc16 = _mm256_cvtepi8_epi16(load128(x->scales));
    const __m512i s32 = _mm512_cvtepu16_epi32(sc16);
    __m512i w[4], sc[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(load256(x->qh + 32 * h));
      w[2 * h] = _mm512_or_si512(_mm512_and_si512(l, low4),
                                 _mm512_and_si512(_mm512_sllv_epi16(hb, shl), bits45));
      w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                     _mm512_and_si512(_mm512_srlv_epi16(hb, shr), bits45));
    }
    for (int k = 0; k < 4; ++k) sc[k] = _mm512_permutexvar_epi32(pick[k], s32);
    const float d = h2f(x->d);
    for (int c = 0; c < C; ++c) {
      const auto* y = reinterpret_cast<const block_q8_k*>(act + c * act_stride) + b;
      __m512i isum = group_scaled_dot(w, sc, y->qs);
      const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y->bsums)), 5);
      isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(off));
      facc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * y->d), facc[r][c]);
    }
  };
  tile_steps<R, C>(nb, step);
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// Q2_K and Q3_K in the rows layout, one super-block (84 / 110 bytes) per step, built like Q6_K's
// tile. Per 128-element half c, the 32 quant bytes qs[32c..] broadcast to both 256-bit halves
// give, by variable word shifts of 0 | 2 and 4 | 6 bits and a mask of 3, two vectors of 64 values
// in element order (element 32j + l of the half is bits 2j..2j+1 of qs[32c + l]), so the Q8_K
// activation is used as it is. Q3_K adds 4 where the element's hmask bit (4c + j of hmask[l]) is
// set, with the -4 offset taken from the activation's 16-element sums; its 16 six-bit scales
// decode in one xmm (q3k_scales_i8). Q2_K's scales and mins are the nibbles of
// its 16 scale bytes; the min term is dmin x sum(min x 16-element sum). Each 128-bit lane of a
// vpdpbusd is one 16-element group (partials < 2^15) and vpdpwssd applies the group scales.
template <int R, int C, bool Three>
void rowq23k_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride,
                  float* y0) {
  using block = std::conditional_t<Three, block_q3_k, block_q2_k>;
  constexpr int lines = static_cast<int>((sizeof(block) + 63) / 64);
  const int64_t nb = g.cols / 256;
  const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
  const __m512i shift_a = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i shift_b = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  __m512i pick[4], hbit[4];  // lane i of vector k: group 4k + i; its hmask bits
  for (int k = 0; k < 4; ++k) {
    pick[k] = _mm512_set_epi32(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 2, 4 * k + 2,
                               4 * k + 2, 4 * k + 2, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                               4 * k, 4 * k, 4 * k, 4 * k);
    const int j0 = 4 * (k / 2) + 2 * (k % 2);  // vector k holds j = 2 (k % 2), +1 of half k / 2
    hbit[k] =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi8(static_cast<char>(1 << j0))),
                           _mm256_set1_epi8(static_cast<char>(1 << (j0 + 1))), 1);
  }
  __m512 facc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
  const auto step = [&](int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    const auto* xb = reinterpret_cast<const char*>(x);
    prefetch_lines<false>(xb, lines, 2048);
    __m512i w[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i q = _mm512_broadcast_i64x4(load256(x->qs + 32 * h));
      w[2 * h] = _mm512_and_si512(_mm512_srlv_epi16(q, shift_a), three);
      w[2 * h + 1] = _mm512_and_si512(_mm512_srlv_epi16(q, shift_b), three);
    }
    __m256i sc16, mn16;
    if constexpr (Three) {
      const __m512i hm = _mm512_broadcast_i64x4(load256(x->hmask));
      for (int k = 0; k < 4; ++k)
        w[k] = _mm512_mask_add_epi8(w[k], _mm512_test_epi8_mask(hm, hbit[k]), w[k], four);
      sc16 = _mm256_cvtepi8_epi16(q3k_scales_i8(x->scales));
    } else {
      const __m128i raw = load128(x->scales);
      sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0f)));
      mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0f)));
    }
    const __m512i s32 = _mm512_cvtepu16_epi32(sc16);
    __m512i sc[4];
    for (int k = 0; k < 4; ++k) sc[k] = _mm512_permutexvar_epi32(pick[k], s32);
    const float d = h2f(x->d);
    for (int c = 0; c < C; ++c) {
      const auto* y = reinterpret_cast<const block_q8_k*>(act + c * act_stride) + b;
      __m512i isum = group_scaled_dot(w, sc, y->qs);
      if constexpr (Three) {
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y->bsums)), 2);
        isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(off));
        facc[r][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * y->d), facc[r][c]);
      } else {
        const __m256i mins = _mm256_madd_epi16(mn16, load256(y->bsums));
        facc[r][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * y->d), facc[r][c]);
        facc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(mins)),
                                      _mm512_set1_ps(h2f(x->dmin) * y->d), facc[r][c]);
      }
    }
  };
  tile_steps<R, C>(nb, step);
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// Drivers (matmul_row16-inl.h's): Q4_K's tile reads its own activation layout (gemm_prep),
// Q6_K's the Q8_K rows as converted.
template <int R, int C>
struct rowk4_t {
  static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
    rowk4_tile<R, C>(g, r, a, s, y);
  }
};
template <int R, int C>
struct rowk5_t {
  static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
    rowk4_tile<R, C, true>(g, r, a, s, y);
  }
};
template <int R, int C>
struct rowq6k_t {
  static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
    rowq6k_tile<R, C>(g, r, a, s, y);
  }
};
template <int R, int C>
struct rowq2k_t {
  static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
    rowq23k_tile<R, C, false>(g, r, a, s, y);
  }
};
template <int R, int C>
struct rowq3k_t {
  static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
    rowq23k_tile<R, C, true>(g, r, a, s, y);
  }
};
inline void rowq2k_matvec(const gemm_args& g) {
  rows_matvec<rowq2k_t, false>(g);
}
inline void rowq3k_matvec(const gemm_args& g) {
  rows_matvec<rowq3k_t, false>(g);
}
inline void rowq2k_gemm(const gemm_args& g) {
  rows_gemm<rowq2k_t>(g, g.a, g.a_row_bytes);
}
inline void rowq3k_gemm(const gemm_args& g) {
  rows_gemm<rowq3k_t>(g, g.a, g.a_row_bytes);
}
inline void rowk4_matvec(const gemm_args& g) {
  rows_matvec<rowk4_t, true>(g);
}
inline void rowq6k_matvec(const gemm_args& g) {
  rows_matvec<rowq6k_t, false>(g);
}
inline void rowk4_gemm(const gemm_args& g) {
  rows_gemm<rowk4_t>(g, g.prep, g.prep_row_bytes);
}
inline void rowk5_matvec(const gemm_args& g) {
  rows_matvec<rowk5_t, true>(g);
}
inline void rowk5_gemm(const gemm_args& g) {
  rows_gemm<rowk5_t>(g, g.prep, g.prep_row_bytes);
}
inline void rowq6k_gemm(const gemm_args& g) {
  rows_gemm<rowq6k_t>(g, g.a, g.a_row_bytes);
}
