// AVX-512 VNNI x16 kernels for Q3_K and Q2_K (layout in kernels/matmul.h), included by
// matmul_x16-inl.h inside the anonymous namespace after the Q6_K tile, whose helpers
// (dword_sbyte, offset_scaled_fma, x16_sweep) they share.
#pragma once

// ---------------------------------------------------------------------------------------------
// Q3_K over x16 groups, as Q6_K: for each 128-element half n, 16-position half and quarter j, a
// qs dword column and an hmask dword column give the values v = q + 4 x hbit (0..7) of 4
// positions with a shift, a mask and one vpternlogd; each 16-element sub-block's dot is 4
// vpdpbusd times its signed 6-bit scale in int32; the -4 offset is taken once per super-block
// (4 x sum_s scale_s x bsum_s by vpdpwssd). The reference's integers (q = v - 4).

// The 16 scales of 16 rows: byte k of dword lane m of out[t] is row m's scale 4t + k (6-bit,
// unsigned: the -32 is applied by the caller), from the 3 packed dwords u0, u1, u2.
inline void q3_k_scales16(__m512i u0, __m512i u1, __m512i u2, __m512i out[4]) {
  const __m512i m1 = _mm512_set1_epi32(0x03030303), m2 = _mm512_set1_epi32(0x0f0f0f0f);
  const auto high = [&](int shift) {
    return _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u2, shift), m1), 4);
  };
  out[0] = _mm512_or_si512(_mm512_and_si512(u0, m2), high(0));
  out[1] = _mm512_or_si512(_mm512_and_si512(u1, m2), high(2));
  out[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u0, 4), m2), high(4));
  out[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u1, 4), m2), high(6));
}

// The values v (0..7, Q2_K 0..3) of quarter j of qs column 8n + k, one dword a row.
template <class B>
inline __m512i k23_operand(const B& xb, int n, int k, int j) {
  const __m512i qv = _mm512_loadu_si512(xb.qs[8 * n + k]);
  const __m512i v = _mm512_and_si512(_mm512_srli_epi16(qv, 2 * j), _mm512_set1_epi8(0x03));
  if constexpr (std::is_same_v<B, uma::kernels::x16_block_q2_k>) {
    return v;
  } else {
    const __m512i hv = _mm512_loadu_si512(xb.hmask[k]);
    const int hb = 4 * n + j;  // the hmask bit of this quarter, to bit 2
    const __m512i h = hb >= 2 ? _mm512_srli_epi16(hv, hb - 2) : _mm512_slli_epi16(hv, 2 - hb);
    return _mm512_ternarylogic_epi32(v, h, _mm512_set1_epi8(0x04), 0xF8);  // a | (b & c)
  }
}

// Two: Q2_K instead (x16_block_q2_k: v = q, 4-bit scales and mins in the 16 scale bytes, no
// offset; the min term dmin x sum_s min_s x bsum_s by vpdpwssd, as Q4_K's). Many-row prefill of
// Q3_K: x16_signed_tile (matmul_x16_signed-inl.h).
template <int C, bool Prefetch = true, bool Two = false>
void x16_q3_k_tile(const gemm_args& g, int64_t gi, int64_t c0) {
  using B = std::conditional_t<Two, uma::kernels::x16_block_q2_k, uma::kernels::x16_block_q3_k>;
  constexpr int lines = static_cast<int>((sizeof(B) + 63) / 64);
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  const __m512i k32 = _mm512_set1_epi32(Two ? 0 : 32), low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const char* pf = x16_prefetch_at(g, x + b, sizeof(x[b]));  // 2 lines a step
    const B& xb = x[b];
    __m512i sc[4], mn[4];
    if constexpr (Two) {
      for (int t = 0; t < 4; ++t) {
        const __m512i col = _mm512_loadu_si512(xb.scales[t]);
        sc[t] = _mm512_and_si512(col, low4);
        mn[t] = _mm512_and_si512(_mm512_srli_epi16(col, 4), low4);
      }
    } else {
      q3_k_scales16(_mm512_loadu_si512(xb.scales[0]), _mm512_loadu_si512(xb.scales[1]),
                    _mm512_loadu_si512(xb.scales[2]), sc);
    }
    __m512i sumi[C];
    k16_scaled_sums<C,
                    k23_operand<std::conditional_t<Two, uma::kernels::x16_block_q2_k,
                                                   uma::kernels::x16_block_q3_k>>,
                    2, lines, Prefetch>(
        xb, y, b, pf,
        [&](int s) {
          return _mm512_sub_epi32(_mm512_shuffle_epi8(sc[s / 4], dword_byte_index(s % 4)), k32);
        },
        sumi);
    const __m512 dx = _mm512_cvtph_ps(load256(xb.d));
    __m512i pairs[8];
    if constexpr (Two) {  // the min pairs
      for (int t = 0; t < 8; ++t) pairs[t] = dword_byte_pair(mn[t / 2], (2 * t) % 4);
      const __m512 dm = _mm512_cvtph_ps(load256(xb.dmin));
      for (int c = 0; c < C; ++c) {
        __m512i summs = _mm512_setzero_si512();
        for (int t = 0; t < 8; ++t) summs = dpwssd_bcast(summs, pairs[t], y[c][b].bsums + 2 * t);
        const __m512 yd = _mm512_set1_ps(y[c][b].d);
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[c]), _mm512_mul_ps(yd, dx), acc[c]);
        acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summs), _mm512_mul_ps(yd, dm), acc[c]);
      }
    } else {  // the -4 offset: 4 x sum_s scale_s x bsum_s
      for (int t = 0; t < 8; ++t)
        pairs[t] = _mm512_sub_epi16(dword_byte_pair(sc[t / 2], (2 * t) % 4), _mm512_set1_epi16(32));
      for (int c = 0; c < C; ++c)
        acc[c] = offset_scaled_fma<2>(acc[c], sumi[c], pairs, y[c][b], dx);
    }
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[c]);
}

template <bool Two = false>
void x16_q3_k_matvec(const gemm_args& g) {
  x16_sweep<2>(g, [&]<int C>(int64_t gi, int64_t c) { x16_q3_k_tile<C, true, Two>(g, gi, c); });
}
template <bool Two = false>
void x16_q3_k_gemm(const gemm_args& g) {
  if (streamed_few(g))  // the first activation pass requests the rows ahead
    return x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) {
      c == 0 ? x16_q3_k_tile<C, true, Two>(g, gi, c) : x16_q3_k_tile<C, false, Two>(g, gi, c);
    });
  x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) { x16_q3_k_tile<C, false, Two>(g, gi, c); });
}
