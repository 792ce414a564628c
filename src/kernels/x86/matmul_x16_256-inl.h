// 256-bit prefill tiles over the x16 layout (matmul.h) for Q4_0 and Q8_0: the AVX2 and AVX-VNNI
// builds (matmul_avx2.cpp, matmul_avxvnni.cpp), included by matmul_x86-inl.h inside its anonymous
// namespace when UMA_VNNI is 0. Prefill interleaves 32-row blocks of a rows-layout matrix on the
// fly (matmul.cpp, run_x16_prefill) and runs these over them, as the AVX-512 build runs its x16
// tiles: each 64-byte dword column of a group-block (4 weights of each of 16 rows) is two
// registers of 8 rows, and each activation dword is broadcast once for both. No per-row
// horizontal sums and no per-row shuffles, unlike the rows-layout tiles (row8 / legacy), which
// held the AVX-VNNI build's prefill to a third of its int8 peak (docs/performance.md 2026-12-04).
//
// Every block's product is the exact int32 of the reference, scaled by d_w * d_a in fp32 and
// added block by block; the AVX2 build (vpmaddubsw + vpmaddwd) and the AVX-VNNI one (vpdpbusd)
// form the same integers, so they give the same floats. Q8_0 on AVX2 takes the sign trick (its
// weights + 128 would saturate vpmaddubsw); AVX-VNNI flips them to unsigned and subtracts 128 x
// the activation block's sum (block_offsets_256, made once per call as gemm_prep_x16).
#pragma once

// The activation rows' per-block offset terms: -offset x (sum of the block's 32 values).
inline void block_offsets_256(const gemm_args& g, int offset, int32_t* corr) {
  const int64_t nb = g.cols / 32;
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    for (int64_t b = 0; b < nb; ++b) {
      const __m256i v = load256(y[b].qs);
      // sum of 32 signed bytes: |v| via sign, then maddubs with ones never saturates (2 x 128)
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_set1_epi8(1), v);
      corr[c * nb + b] = -offset * hsum_i32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
  }
}

template <int Offset>
size_t x16_offsets_prep_256(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 32;
  if (out != nullptr) {
    gemm_args one;
    one.a = a, one.n = 1, one.cols = cols;
    block_offsets_256(one, Offset, reinterpret_cast<int32_t*>(out));
  }
  return static_cast<size_t>(nb) * sizeof(int32_t);
}

inline int32_t load_i32_256(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Q4_0: nibbles; offset 8 (in the block's offset terms).
struct x16_256_q4_0 {
  using block = uma::kernels::x16_block_q4_0;
  static constexpr int offset = 8;
  // Rows 8h..8h+7 of dword column j: the low nibbles (activation bytes 4j..) and the high ones
  // (16 + 4j..).
  static void unpack_j(const block& x, int j, int h, __m256i& lo, __m256i& hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i raw = load256(x.qs[j] + 32 * h);
    lo = _mm256_and_si256(raw, low4);
    hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
  }
  static __m256i dot(__m256i acc, __m256i w, __m256i a) { return dot_us(acc, w, a); }
};

// Q8_0: signed weights. AVX-VNNI: flipped to unsigned, offset 128; AVX2: the sign trick, no
// offset.
struct x16_256_q8_0 {
  using block = uma::kernels::x16_block_q8_0;
  static constexpr int offset = UMA_AVXVNNI ? 128 : 0;
  static void unpack_j(const block& x, int j, int h, __m256i& lo, __m256i& hi) {
    lo = load256(x.qs[j] + 32 * h);
    hi = load256(x.qs[4 + j] + 32 * h);
#if UMA_AVXVNNI
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    lo = _mm256_xor_si256(lo, flip);
    hi = _mm256_xor_si256(hi, flip);
#endif
  }
  static __m256i dot(__m256i acc, __m256i w, __m256i a) {
#if UMA_AVXVNNI
    return _mm256_dpbusd_avx_epi32(acc, w, a);
#else
    return dot_ss(acc, w, a);
#endif
  }
};

// Group gi (16 rows, two halves of 8) against activation rows [c0, c0 + C); corr: the offset
// terms (null where F::offset is 0).
template <class F, int C>
void x16_256_tile(const gemm_args& g, int64_t gi, int64_t c0, const int32_t* corr) {
  using block = typename F::block;
  const int64_t nb = g.cols / 32;
  const block* x = reinterpret_cast<const block*>(g.w) + gi * nb;
  const block_q8_0* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m256 acc[2][C];
  for (int c = 0; c < C; ++c) acc[0][c] = acc[1][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i s[2][C];
    for (int c = 0; c < C; ++c)
      s[0][c] = s[1][c] =
          F::offset != 0 ? _mm256_set1_epi32(corr[(c0 + c) * nb + b]) : _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      __m256i lo0, hi0, lo1, hi1;
      F::unpack_j(x[b], j, 0, lo0, hi0);
      F::unpack_j(x[b], j, 1, lo1, hi1);
      for (int c = 0; c < C; ++c) {
        const int8_t* yq = y[c][b].qs;
        const __m256i alo = _mm256_set1_epi32(load_i32_256(yq + 4 * j));
        const __m256i ahi = _mm256_set1_epi32(load_i32_256(yq + 16 + 4 * j));
        s[0][c] = F::dot(F::dot(s[0][c], lo0, alo), hi0, ahi);
        s[1][c] = F::dot(F::dot(s[1][c], lo1, alo), hi1, ahi);
      }
    }
    const __m256 d0 = _mm256_cvtph_ps(load128(x[b].d)), d1 = _mm256_cvtph_ps(load128(x[b].d + 8));
    for (int c = 0; c < C; ++c) {
      const __m256 dy = _mm256_set1_ps(h2f(y[c][b].d));
      acc[0][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[0][c]), _mm256_mul_ps(d0, dy), acc[0][c]);
      acc[1][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[1][c]), _mm256_mul_ps(d1, dy), acc[1][c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[0][c]);
    _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8, acc[1][c]);
  }
}

// Any n: two activation rows at a time, then one. The offsets from gemm_prep_x16 (prefill, once
// per call) or made here.
template <class F>
void x16_256_gemm(const gemm_args& g) {
  thread_local std::vector<int32_t> own;
  const int32_t* corr = reinterpret_cast<const int32_t*>(g.prep);
  if (F::offset != 0 && corr == nullptr) {
    own.resize(static_cast<size_t>(g.n * (g.cols / 32)));
    block_offsets_256(g, F::offset, own.data());
    corr = own.data();
  }
  for (int64_t gi = 0; gi < g.rows / 16; ++gi) {
    int64_t c = 0;
    for (; c + 2 <= g.n; c += 2) x16_256_tile<F, 2>(g, gi, c, corr);
    for (; c < g.n; ++c) x16_256_tile<F, 1>(g, gi, c, corr);
  }
}

// The x16 prefill entries of the 256-bit builds (no x16 decode kernels: --repack stays an
// AVX-512 option).
inline void fill_x16_256_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  b.gemm_x16[static_cast<size_t>(dtype::q4_0)] = x16_256_gemm<x16_256_q4_0>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q4_0)] = x16_offsets_prep_256<8>;
  b.gemm_x16[static_cast<size_t>(dtype::q8_0)] = x16_256_gemm<x16_256_q8_0>;
  if (x16_256_q8_0::offset != 0)
    b.gemm_prep_x16[static_cast<size_t>(dtype::q8_0)] = x16_offsets_prep_256<x16_256_q8_0::offset>;
}
