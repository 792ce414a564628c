// AVX-512 VNNI kernels over x16 (interleaved 16-row) Q4_0 matrices (layout in kernels/matmul.h),
// included by matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is set.
//
// One 512-bit load holds 4 nibble bytes of each of 16 rows, so a block of 16 rows x 32 weights
// costs 4 loads, 12 unpack ops, 8 vpdpbusd against a broadcast 4-byte activation group, one
// fp16->fp32 of the 16 row scales and one fma: about a third of the instructions per weight of
// the rows-layout tile (nib_tile512), which leaves decode bound by memory instead of by these
// instructions (docs/performance.md). Q4_0's offset of 8 enters as the dot's initial value,
// -8 x the activation block's sum, computed once per tile call; every block product is the exact
// int32 of the reference, scaled by d_w * d_a in fp32 and summed over blocks in order.
#pragma once

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// -8 x the sum of each activation block's 32 values, for C rows of nb blocks.
inline void q4_0_offsets(const gemm_args& g, int32_t* corr) {
  const int64_t nb = g.cols / 32;
  const __m256i ones = _mm256_set1_epi8(1);
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    for (int64_t b = 0; b < nb; ++b)
      corr[c * nb + b] =
          -8 * hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, load256(y[b].qs)));
  }
}

// Group `gi` of the tile (16 rows) against activation rows [c0, c0 + C).
template <int C>
void x16_q4_0_tile(const gemm_args& g, int64_t gi, int64_t c0, const int32_t* corr) {
  using uma::kernels::x16_block_q4_0;
  const int64_t nb = g.cols / 32;
  const x16_block_q4_0* x = reinterpret_cast<const x16_block_q4_0*>(g.w) + gi * nb;
  const block_q8_0* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  constexpr int64_t ahead = 32;  // blocks (9 KB): measured 8 -> 24..48 blocks +10 % in decode
  for (int64_t b = 0; b < nb; ++b) {
    const char* pf = reinterpret_cast<const char*>(x + b + ahead);
    for (int l = 0; l < 5; ++l) _mm_prefetch(pf + 64 * l, _MM_HINT_T0);
    __m512i lo[4], hi[4];
    for (int j = 0; j < 4; ++j) {
      const __m512i raw = _mm512_loadu_si512(x[b].qs[j]);
      lo[j] = _mm512_and_si512(raw, low4);
      hi[j] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    }
    const __m512 dx = _mm512_cvtph_ps(load256(x[b].d));
    for (int c = 0; c < C; ++c) {
      const int8_t* yq = y[c][b].qs;
      __m512i s0 = _mm512_set1_epi32(corr[(c0 + c) * nb + b]), s1 = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        s0 = _mm512_dpbusd_epi32(s0, lo[j], _mm512_set1_epi32(load_i32(yq + 4 * j)));
        s1 = _mm512_dpbusd_epi32(s1, hi[j], _mm512_set1_epi32(load_i32(yq + 16 + 4 * j)));
      }
      const __m512 dxy = _mm512_mul_ps(dx, _mm512_set1_ps(h2f(y[c][b].d)));
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), dxy, acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[c]);
}

// Any n: activation rows 4 at a time (each unpacked block reused from registers), then singly.
void x16_q4_0_matvec(const gemm_args& g) {
  thread_local std::vector<int32_t> corr;
  corr.resize(static_cast<size_t>(g.n * (g.cols / 32)));
  q4_0_offsets(g, corr.data());
  for (int64_t gi = 0; gi < g.rows / 16; ++gi) {
    int64_t c = 0;
    for (; c + 4 <= g.n; c += 4) x16_q4_0_tile<4>(g, gi, c, corr.data());
    for (; c < g.n; ++c) x16_q4_0_tile<1>(g, gi, c, corr.data());
  }
}
