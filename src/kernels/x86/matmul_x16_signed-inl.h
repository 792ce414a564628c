// AVX-512 VNNI prefill of Q6_K, Q3_K and Q2_K over a task's x16 group-blocks expanded once
// (layout below), included by matmul_x16-inl.h inside the anonymous namespace after the Q6_K and
// Q3_K / Q2_K tiles, whose operand makers (q6_k_operand, k23_operand) and scale decoding it shares.
//
// The rows-as-lanes tiles (x16_q6_k_tile, x16_q3_k_tile) multiply unsigned values (Q6_K 0..63,
// Q3_K 0..7) against the signed activation and take the offset (32, 4) afterwards: offset x
// sum_s scale_s x bsum_s, 8 vpdpwssd per 16 rows and activation row a super-block, and they decode
// the scales on every pass. Here the expanded operands are the signed values q - offset and the
// activation the unsigned one (its bytes + 128, made on the tile's stack a super-block at a
// time), so the offset term becomes 128 x sum_s scale_s x (sum of sub-block s's q - offset): a
// constant of the row, made with the operands. sum_s scale_s sum_i (q_i - offset) a_i =
// sum_s scale_s sum_i (q_i - offset) (a_i + 128) - that constant: the reference's integers
// exactly, and no multiply spent on the offset. Q2_K (offset 0) keeps its min term, which depends
// on the activation: its mins travel with the expansion.
#pragma once

// Src's group-blocks into Wide ones (x16_signed_wide or x16_signed_min_wide:
// matmul_x16_256_signed-inl.h). Operand(x, h, k, j): the unsigned values of sub-blocks 8 h + 2 j,
// 8 h + 2 j + 1's elements 128 h + 32 j + 4 k.. (k < 4: the first); Offset: what they exceed the
// reference's signed values by; scales(x, s): sub-block s's scale, signed, in the 16 dword lanes;
// tail(x, o): what else o holds.
template <class Wide, class Src, __m512i (*Operand)(const Src&, int, int, int), int Offset,
          class Scales, class Tail>
size_t x16_expand_signed(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out,
                         const Scales& scales, const Tail& tail) {
  const int64_t blocks = rows / 16 * (cols / 256);
  const size_t bytes = static_cast<size_t>(blocks) * sizeof(Wide);
  if (out == nullptr) return bytes;
  const auto* x = reinterpret_cast<const Src*>(packed);
  auto* o = reinterpret_cast<Wide*>(out);
  const __m512i off = _mm512_set1_epi8(Offset), ones = _mm512_set1_epi8(1);
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i bias = _mm512_setzero_si512();
    for (int s = 0; s < 16; ++s) {  // s = 8 h + 2 j + half: elements 128 h + 32 j + 16 half..
      const int h = s / 8, j = s / 2 % 4, half = s % 2;
      __m512i sum = _mm512_setzero_si512();  // the sub-block's signed values summed, a row
      for (int k = 4 * half; k < 4 * half + 4; ++k) {
        const __m512i v = _mm512_sub_epi8(Operand(x[b], h, k, j), off);
        _mm512_storeu_si512(o[b].q[32 * h + 4 * k + j], v);
        sum = _mm512_dpbusd_epi32(sum, ones, v);
      }
      const __m512i sc = scales(x[b], s);
      _mm512_storeu_si512(o[b].scales[s], sc);
      bias = _mm512_add_epi32(bias, _mm512_mullo_epi32(sc, sum));
    }
    _mm512_storeu_si512(o[b].bias, _mm512_slli_epi32(bias, 7));
    std::memcpy(o[b].d, x[b].d, sizeof(o[b].d));
    tail(x[b], o[b]);
  }
  return bytes;
}

inline size_t x16_expand_q6_k_signed(const uint8_t* packed, int64_t rows, int64_t cols,
                                     uint8_t* out) {
  using src = uma::kernels::x16_block_q6_k;
  return x16_expand_signed<x16_signed_wide, src, q6_k_operand, 32>(
      packed, rows, cols, out,
      [](const src& x, int s) { return dword_sbyte(_mm512_loadu_si512(x.scales[s / 4]), s % 4); },
      [](const src&, x16_signed_wide&) {});
}

inline size_t x16_expand_q3_k_signed(const uint8_t* packed, int64_t rows, int64_t cols,
                                     uint8_t* out) {
  using src = uma::kernels::x16_block_q3_k;
  return x16_expand_signed<x16_signed_wide, src, k23_operand<src>, 4>(
      packed, rows, cols, out,
      [](const src& x, int s) {
        __m512i sc[4];  // decoded again for each s: once per task, not per pass
        q3_k_scales16(_mm512_loadu_si512(x.scales[0]), _mm512_loadu_si512(x.scales[1]),
                      _mm512_loadu_si512(x.scales[2]), sc);
        return _mm512_sub_epi32(_mm512_shuffle_epi8(sc[s / 4], dword_byte_index(s % 4)),
                                _mm512_set1_epi32(32));
      },
      [](const src&, x16_signed_wide&) {});
}

// Q2_K: values 0..3 (no offset), 4-bit scales (low nibbles) and mins (high nibbles).
inline size_t x16_expand_q2_k_signed(const uint8_t* packed, int64_t rows, int64_t cols,
                                     uint8_t* out) {
  using src = uma::kernels::x16_block_q2_k;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  return x16_expand_signed<x16_signed_min_wide, src, k23_operand<src>, 0>(
      packed, rows, cols, out,
      [&](const src& x, int s) {
        const __m512i sc = _mm512_and_si512(_mm512_loadu_si512(x.scales[s / 4]), low4);
        return _mm512_shuffle_epi8(sc, dword_byte_index(s % 4));
      },
      [&](const src& x, x16_signed_min_wide& o) {
        for (int t = 0; t < 8; ++t) {
          const __m512i mn =
              _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(x.scales[t / 2]), 4), low4);
          _mm512_storeu_si512(o.mins[t], dword_byte_pair(mn, (2 * t) % 4));
        }
        std::memcpy(o.dmin, x.dmin, sizeof(o.dmin));
      });
}

// acc + vpdpbusd(u, v): u's unsigned bytes against v's signed ones. In asm: with the intrinsic
// GCC copied every accumulator to a new register around each product.
inline __m512i dpbusd_acc(__m512i acc, __m512i u, __m512i v) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(v));
  return acc;
}

// C activation rows against G groups' expanded blocks (gi, gi + 1): one 16-element sub-block at
// a time, each activation dword broadcast once (a load, no multiply-pipe slot on Zen 5: bench_isa
// vpdpbusd+vpbroadcastd) and used by the G groups, each operand vector loaded once and used C
// times. The activation bytes + 128 are made on the stack a super-block at a time.
template <int G, int C, class B>
void x16_signed_tile(const gemm_args& g, int64_t gi, int64_t c0) {
  const int64_t nb = g.cols / 256;
  const B* x[G];
  for (int r = 0; r < G; ++r) x[r] = reinterpret_cast<const B*>(g.w) + (gi + r) * nb;
  const block_q8_k* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  alignas(64) uint8_t a[C][256];
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[G][C];
  for (int r = 0; r < G; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < 4; ++i)
        _mm512_store_si512(a[c] + 64 * i,
                           _mm512_xor_si512(_mm512_loadu_si512(y[c][b].qs + 64 * i), flip));
    __m512i sumi[G][C];
    for (int r = 0; r < G; ++r)
      for (int c = 0; c < C; ++c) sumi[r][c] = _mm512_setzero_si512();
    for (int s = 0; s < 16; ++s) {  // elements 128 h + 32 j + 16 half .. + 15
      const int h = s / 8, j = s / 2 % 4, half = s % 2;
      __m512i d[G][C];
      for (int r = 0; r < G; ++r)
        for (int c = 0; c < C; ++c) d[r][c] = _mm512_setzero_si512();
      for (int k = 4 * half; k < 4 * half + 4; ++k) {
        __m512i v[G];
        for (int r = 0; r < G; ++r) v[r] = _mm512_loadu_si512(x[r][b].q[32 * h + 4 * k + j]);
        for (int c = 0; c < C; ++c) {
          int32_t word;
          std::memcpy(&word, a[c] + 128 * h + 32 * j + 4 * k, sizeof(word));
          const __m512i u = _mm512_set1_epi32(word);
          for (int r = 0; r < G; ++r) d[r][c] = dpbusd_acc(d[r][c], u, v[r]);
        }
      }
      for (int r = 0; r < G; ++r) {
        const __m512i sc = _mm512_loadu_si512(x[r][b].scales[s]);
        for (int c = 0; c < C; ++c)
          sumi[r][c] = _mm512_add_epi32(sumi[r][c], _mm512_mullo_epi32(d[r][c], sc));
      }
    }
    for (int r = 0; r < G; ++r) {
      const __m512i bias = _mm512_loadu_si512(x[r][b].bias);
      const __m512 dx = _mm512_cvtph_ps(load256(x[r][b].d));
      for (int c = 0; c < C; ++c) {
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(sumi[r][c], bias));
        const __m512 yd = _mm512_set1_ps(y[c][b].d);
        acc[r][c] = _mm512_fmadd_ps(dot, _mm512_mul_ps(yd, dx), acc[r][c]);
        if constexpr (std::is_same_v<B, x16_signed_min_wide>) {  // - dmin sum_s min_s bsum_s
          __m512i summs = _mm512_setzero_si512();
          for (int t = 0; t < 8; ++t)
            summs = dpwssd_bcast(summs, _mm512_loadu_si512(x[r][b].mins[t]), y[c][b].bsums + 2 * t);
          const __m512 dm = _mm512_cvtph_ps(load256(x[r][b].dmin));
          acc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summs), _mm512_mul_ps(yd, dm), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < G; ++r)
    for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + (gi + r) * 16, acc[r][c]);
}

// Over a task's expanded group-blocks (x16_expand_signed; B: x16_signed_wide, or
// x16_signed_min_wide for Q2_K): two groups and four activation rows a pass.
template <class B = x16_signed_wide>
void x16_gemm_signed(const gemm_args& g) {
  const int64_t groups = g.rows / 16;
  int64_t gi = 0;
  for (; gi + 2 <= groups; gi += 2)
    x16_passes<4>(g.n, [&]<int C>(int64_t c) { x16_signed_tile<2, C, B>(g, gi, c); });
  for (; gi < groups; ++gi)
    x16_passes<4>(g.n, [&]<int C>(int64_t c) { x16_signed_tile<1, C, B>(g, gi, c); });
}
