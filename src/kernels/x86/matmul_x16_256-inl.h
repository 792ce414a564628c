// 256-bit prefill tiles over the x16 layout (matmul.h) for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K ..
// Q6_K, included by matmul_x86-inl.h inside its anonymous namespace in every x86 build: the AVX2
// and AVX-VNNI builds (matmul_avx2.cpp, matmul_avxvnni.cpp) run the tiles, and the AVX-512 build
// (matmul_x16-inl.h) shares the activation preparations (block_offsets, q4_k_sum_pairs). Prefill
// interleaves 32-row blocks of a rows-layout matrix on the fly (matmul.cpp, run_x16_prefill) and
// runs these over them, as the AVX-512 build runs its x16 tiles: each 64-byte dword column of a
// group-block (4 weights of each of 16 rows) is two registers of 8 rows, and each activation dword
// is broadcast once for both. No per-row horizontal sums and no per-row shuffles, unlike the
// rows-layout tiles (row8 / legacy), which held the AVX-VNNI build's prefill to a third of its int8
// peak (docs/performance.md 2026-12-04).
//
// Every block's product is the exact int32 of the reference, scaled by d_w * d_a in fp32 and
// added block by block; the AVX2 build (vpmaddubsw + vpmaddwd) and the AVX-VNNI one (vpdpbusd)
// form the same integers, so they give the same floats. Q8_0 on AVX2 takes the sign trick (its
// weights + 128 would saturate vpmaddubsw); AVX-VNNI flips them to unsigned and subtracts 128 x
// the activation block's sum (block_offsets, made once per call as gemm_prep_x16).
#pragma once

// The C activation rows [c0, c0 + C) of a tile, as blocks of type Y.
template <class Y, int C>
inline void activation_rows(const gemm_args& g, int64_t c0, const Y* (&y)[C]) {
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const Y*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
}

// The activation rows' per-block offset terms: -offset x (sum of the block's 32 values).
inline void block_offsets(const gemm_args& g, int offset, int32_t* corr) {
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
size_t x16_offsets_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 32;
  if (out != nullptr) {
    gemm_args one;
    one.a = a, one.n = 1, one.cols = cols;
    block_offsets(one, Offset, reinterpret_cast<int32_t*>(out));
  }
  return static_cast<size_t>(nb) * sizeof(int32_t);
}

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// What a 32-element format's x16 tiles take besides its unpack (both widths): the activation
// blocks (Q8_0, or Q8_1 for the formats with a min, Q4_1 / Q5_1, whose blocks add m_w x s_a)
// and the offset of its unsigned values over the signed weights (0: no offset terms).
template <class Act, int Offset>
struct x16_act_traits {
  using act = Act;
  static constexpr int offset = Offset;
  static constexpr bool has_min = std::is_same_v<Act, block_q8_1>;
};

// Q4_0: nibbles; offset 8 (in the block's offset terms). Q4_1 / Q5_1 (has_min): the same
// unpacks with no offset, each block adding m_w x s_a (the Q8_1 activation's d x sum).
template <class B>
struct x16_256_nib4 {
  using block = B;
  static constexpr bool staged = false;
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
struct x16_256_q4_0 : x16_256_nib4<uma::kernels::x16_block_q4_0>, x16_act_traits<block_q8_0, 8> {};
struct x16_256_q4_1 : x16_256_nib4<uma::kernels::x16_block_q4_1>, x16_act_traits<block_q8_1, 0> {};

// Q5_0: Q4_0's nibbles plus each row's 32 fifth bits (its dword of qh): for dword column j the
// bits 4j.. (low elements) and 16 + 4j.. (high ones), each byte's bit picked by a byte broadcast,
// a bit mask and a compare, and added as 16. Offset 16.
template <class B>
struct x16_256_nib5 {
  using block = B;
  static constexpr bool staged = true;
  static void unpack_j(const block& x, int j, int h, __m256i& lo, __m256i& hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i sel = _mm256_set1_epi32(0x08040201);  // byte i of a dword tests bit i
    const __m256i b0 = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0,
                                        0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12);
    const __m256i b2 = _mm256_add_epi8(b0, _mm256_set1_epi8(2));
    const __m256i raw = load256(x.qs[j] + 32 * h);
    const __m256i t = _mm256_srli_epi32(load256(x.qh + 32 * h), 4 * j);  // bits 4j.., 16 + 4j..
    const auto fifth = [&](__m256i idx) {
      const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(t, idx), sel);
      return _mm256_and_si256(_mm256_cmpeq_epi8(v, sel), bit4);
    };
    lo = _mm256_or_si256(_mm256_and_si256(raw, low4), fifth(b0));
    hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), low4), fifth(b2));
  }
  static __m256i dot(__m256i acc, __m256i w, __m256i a) { return dot_us(acc, w, a); }
};
struct x16_256_q5_0 : x16_256_nib5<uma::kernels::x16_block_q5_0>, x16_act_traits<block_q8_0, 16> {};
struct x16_256_q5_1 : x16_256_nib5<uma::kernels::x16_block_q5_1>, x16_act_traits<block_q8_1, 0> {};

// Prefill of Q5_0 / Q5_1, whose fifth bits cost most to merge: a task's x16 blocks unpacked
// once into operand bytes (x16_expand_256 here, x16_expand on AVX-512), which x16_256_bytes loads
// as they are; the same integers in the same order as the unpacking tiles.
struct x16_bytes_min_block {  // x16_block_q8_0 with Q4_1 / Q5_1's per-row minimum
  uint16_t d[16];
  uint16_t m[16];
  uint8_t qs[8][64];
};
template <class Act, int Offset>
struct x16_256_bytes : x16_act_traits<Act, Offset> {
  using block = std::conditional_t<x16_act_traits<Act, Offset>::has_min, x16_bytes_min_block,
                                   uma::kernels::x16_block_q8_0>;
  static constexpr bool staged = false;
  static void unpack_j(const block& x, int j, int h, __m256i& lo, __m256i& hi) {
    lo = load256(x.qs[j] + 32 * h);
    hi = load256(x.qs[4 + j] + 32 * h);
  }
  static __m256i dot(__m256i acc, __m256i w, __m256i a) { return dot_us(acc, w, a); }
};
// F: the unpacking format; W: x16_256_bytes of the same activation and offset.
template <class F, class W>
size_t x16_expand_256(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out) {
  using wide = typename W::block;
  const int64_t blocks = rows / 16 * (cols / 32);
  if (out == nullptr) return static_cast<size_t>(blocks) * sizeof(wide);
  const auto* x = reinterpret_cast<const typename F::block*>(packed);
  auto* o = reinterpret_cast<wide*>(out);
  for (int64_t i = 0; i < blocks; ++i) {
    for (int j = 0; j < 4; ++j)
      for (int h = 0; h < 2; ++h) {
        __m256i lo, hi;
        F::unpack_j(x[i], j, h, lo, hi);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[i].qs[j] + 32 * h), lo);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[i].qs[4 + j] + 32 * h), hi);
      }
    std::memcpy(o[i].d, x[i].d, sizeof(o[i].d));
    if constexpr (W::has_min) std::memcpy(o[i].m, x[i].m, sizeof(o[i].m));
  }
  return static_cast<size_t>(blocks) * sizeof(wide);
}

// Q8_0: signed weights. AVX-VNNI: flipped to unsigned, offset 128; AVX2: the sign trick, no
// offset.
struct x16_256_q8_0 : x16_act_traits<block_q8_0, UMA_AVXVNNI ? 128 : 0> {
  using block = uma::kernels::x16_block_q8_0;
  static constexpr bool staged = false;
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
  const typename F::act* y[C];
  activation_rows(g, c0, y);
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
        const __m256i alo = _mm256_set1_epi32(load_i32(yq + 4 * j));
        const __m256i ahi = _mm256_set1_epi32(load_i32(yq + 16 + 4 * j));
        s[0][c] = F::dot(F::dot(s[0][c], lo0, alo), hi0, ahi);
        s[1][c] = F::dot(F::dot(s[1][c], lo1, alo), hi1, ahi);
      }
    }
    const __m256 d0 = _mm256_cvtph_ps(load128(x[b].d)), d1 = _mm256_cvtph_ps(load128(x[b].d + 8));
    for (int c = 0; c < C; ++c) {
      const __m256 dy = _mm256_set1_ps(h2f(y[c][b].d));
      acc[0][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[0][c]), _mm256_mul_ps(d0, dy), acc[0][c]);
      acc[1][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[1][c]), _mm256_mul_ps(d1, dy), acc[1][c]);
      if constexpr (F::has_min) {
        const __m256 sy = _mm256_set1_ps(h2f(y[c][b].s));
        acc[0][c] = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(x[b].m)), sy, acc[0][c]);
        acc[1][c] = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(x[b].m + 8)), sy, acc[1][c]);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[0][c]);
    _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8, acc[1][c]);
  }
}

// Rows 8h..8h+7 of group gi against activation rows [c0, c0 + C), each block's 8 operand
// vectors unpacked once into a small L1 array and read from there for every activation row: for
// formats whose unpack is long (F::staged: Q5_0), so that it is spread over more rows than fit in
// registers. gemm64, one thread, GOPS: Q5_0 two rows in registers AVX2 103 / AVX-VNNI 138-143,
// staged 8 rows 139-145 / 191-208 (the rows-layout tiles 87-114 / 96-126); Q4_0 and Q8_0 staged
// fell from 160 / 138 and 293 / 293 to 132-164 / 107-123 and 170-203 (their unpack is short).
template <class F, int C>
void x16_256_staged_tile(const gemm_args& g, int64_t gi, int h, int64_t c0, const int32_t* corr) {
  using block = typename F::block;
  const int64_t nb = g.cols / 32;
  const block* x = reinterpret_cast<const block*>(g.w) + gi * nb;
  const typename F::act* y[C];
  activation_rows(g, c0, y);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  __m256i q[8];
  for (int64_t b = 0; b < nb; ++b) {
    for (int j = 0; j < 4; ++j) {
      __m256i lo, hi;
      F::unpack_j(x[b], j, h, lo, hi);
      _mm256_store_si256(&q[j], lo);
      _mm256_store_si256(&q[4 + j], hi);
    }
    const __m256 dx = _mm256_cvtph_ps(load128(x[b].d + 8 * h));
    for (int c = 0; c < C; ++c) {
      const int8_t* yq = y[c][b].qs;
      __m256i s =
          F::offset != 0 ? _mm256_set1_epi32(corr[(c0 + c) * nb + b]) : _mm256_setzero_si256();
      for (int j = 0; j < 4; ++j) {
        s = F::dot(s, _mm256_load_si256(&q[j]), _mm256_set1_epi32(load_i32(yq + 4 * j)));
        s = F::dot(s, _mm256_load_si256(&q[4 + j]), _mm256_set1_epi32(load_i32(yq + 16 + 4 * j)));
      }
      const __m256 dy = _mm256_set1_ps(h2f(y[c][b].d));
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dx, dy), acc[c]);
      if constexpr (F::has_min)
        acc[c] = _mm256_fmadd_ps(_mm256_cvtph_ps(load128(x[b].m + 8 * h)),
                                 _mm256_set1_ps(h2f(y[c][b].s)), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8 * h, acc[c]);
}

// Any n: two activation rows at a time, then one. The offsets from gemm_prep_x16 (prefill, once
// per call) or made here.
template <class F>
void x16_256_gemm(const gemm_args& g) {
  thread_local std::vector<int32_t> own;
  const int32_t* corr = reinterpret_cast<const int32_t*>(g.prep);
  if (F::offset != 0 && corr == nullptr) {
    own.resize(static_cast<size_t>(g.n * (g.cols / 32)));
    block_offsets(g, F::offset, own.data());
    corr = own.data();
  }
  if constexpr (F::staged) {
    for (int64_t gi = 0; gi < g.rows / 16; ++gi)
      for (int h = 0; h < 2; ++h) {
        int64_t c = 0;
        for (; c + 8 <= g.n; c += 8) x16_256_staged_tile<F, 8>(g, gi, h, c, corr);
        for (; c + 2 <= g.n; c += 2) x16_256_staged_tile<F, 2>(g, gi, h, c, corr);
        for (; c < g.n; ++c) x16_256_staged_tile<F, 1>(g, gi, h, c, corr);
      }
    return;
  }
  for (int64_t gi = 0; gi < g.rows / 16; ++gi) {
    int64_t c = 0;
    for (; c + 2 <= g.n; c += 2) x16_256_tile<F, 2>(g, gi, c, corr);
    for (; c < g.n; ++c) x16_256_tile<F, 1>(g, gi, c, corr);
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_K: as the AVX-512 tile (matmul_x16-inl.h), one 8-row half of a group at a time. Each row's
// packed 6-bit scales and mins decode in its dword lane; a 32-element sub-block's dot is 8 dot
// products of 4 bytes (exact int32) times its scale in int32, and the min term is 4 pair products
// of (min pair, activation sub-block sum pair) int16 lanes.

// Per activation row c and super-block b: its 8 sub-block sums as 4 int16 pairs (s = 2t, 2t + 1),
// as gemm_prep_x16 (one row) or per call.
inline void q4_k_sum_pairs(const uint8_t* a, size_t a_row_bytes, int64_t n, int64_t cols,
                           int32_t* pairs) {
  const int64_t nb = cols / 256;
  for (int64_t c = 0; c < n; ++c) {
    const auto* y = reinterpret_cast<const block_q8_k*>(a + static_cast<size_t>(c) * a_row_bytes);
    for (int64_t b = 0; b < nb; ++b)
      for (int t = 0; t < 4; ++t) {
        const int16_t* bs = y[b].bsums + 4 * t;
        const auto lo = static_cast<uint16_t>(bs[0] + bs[1]),
                   hi = static_cast<uint16_t>(bs[2] + bs[3]);
        pairs[(c * nb + b) * 4 + t] = static_cast<int32_t>(lo | (static_cast<uint32_t>(hi) << 16));
      }
  }
}
// The activation's sum pairs for a Q4_K / Q5_K x16 gemm: gemm_args::prep where the call made
// them, else made here (valid until the thread's next call).
inline const int32_t* q4_k_pairs_of(const gemm_args& g) {
  if (g.prep != nullptr) return reinterpret_cast<const int32_t*>(g.prep);
  thread_local std::vector<int32_t> own;
  own.resize(static_cast<size_t>(g.n * (g.cols / 256) * 4));
  q4_k_sum_pairs(g.a, g.a_row_bytes, g.n, g.cols, own.data());
  return own.data();
}

inline size_t x16_q4_k_pairs_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  if (out != nullptr) q4_k_sum_pairs(a, 0, 1, cols, reinterpret_cast<int32_t*>(out));
  return static_cast<size_t>(cols / 256) * 4 * sizeof(int32_t);
}

// Byte k of every dword, zero-extended (a vpshufb index).
inline __m256i dword_byte_256(int k) {
  const auto e = [k](int base) { return static_cast<int>(0x80808000u + base + k); };
  return _mm256_setr_epi32(e(0), e(4), e(8), e(12), e(0), e(4), e(8), e(12));
}
// Bytes k and k + 1 of every dword as an int16 pair (a vpshufb index).
inline __m256i dword_byte_pair_256(int k) {
  const auto e = [k](int base) {
    return static_cast<int>(0x80008000u + base + k + ((base + k + 1) << 16));
  };
  return _mm256_setr_epi32(e(0), e(4), e(8), e(12), e(0), e(4), e(8), e(12));
}
// acc + the int16 pair products of w and the pair broadcast from p.
inline __m256i pair_dot_256(__m256i acc, __m256i w, const int32_t* p) {
  const __m256i v = _mm256_set1_epi32(*p);
#if UMA_AVXVNNI
  return _mm256_dpwssd_avx_epi32(acc, w, v);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(w, v));
#endif
}

// Bit `from` of every byte of v to bit 4, the other bits cleared, or-ed into base.
inline __m256i add_fifth_bit_256(__m256i base, __m256i v, int from) {
  const __m256i s = from <= 4 ? _mm256_slli_epi16(v, 4 - from) : _mm256_srli_epi16(v, from - 4);
  return _mm256_or_si256(base, _mm256_and_si256(s, _mm256_set1_epi8(0x10)));
}

// A Q4_K / Q5_K group-block with its operands made once per prefill task (x16_expand_k4 on
// AVX-512, x16_expand_q5_k_256 here: Q5_K, whose fifth bits cost most to merge); the scales as
// they are.
struct x16_k4_wide {
  uint16_t d[16];
  uint16_t dmin[16];
  uint8_t scales[3][64];
  uint8_t q[64][64];  // q4_k_operands(p, j) at q[2 (8 p + j)] (lo) and q[2 (8 p + j) + 1] (hi)
};

// The operands of dword column j of sub-block pair p, rows 8 h.. (lo: elements 64 p + 4 j..,
// hi: 64 p + 32 + 4 j..), with Q5_K's fifth bits; as they are from an x16_k4_wide.
template <class B>
inline void q4_k_operands_256(const B& xb, int p, int j, int h, __m256i& lo, __m256i& hi) {
  if constexpr (std::is_same_v<B, x16_k4_wide>) {
    lo = load256(xb.q[2 * (8 * p + j)] + 32 * h);
    hi = load256(xb.q[2 * (8 * p + j) + 1] + 32 * h);
  } else {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const __m256i raw = load256(xb.qs[8 * p + j] + 32 * h);
    lo = _mm256_and_si256(raw, low4);
    hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
    if constexpr (std::is_same_v<B, uma::kernels::x16_block_q5_k>) {
      const __m256i qh = load256(xb.qh[j] + 32 * h);
      lo = add_fifth_bit_256(lo, qh, 2 * p);
      hi = add_fifth_bit_256(hi, qh, 2 * p + 1);
    }
  }
}

inline size_t x16_expand_q5_k_256(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out) {
  const int64_t blocks = rows / 16 * (cols / 256);
  const size_t bytes = static_cast<size_t>(blocks) * sizeof(x16_k4_wide);
  if (out == nullptr) return bytes;
  const auto* x = reinterpret_cast<const uma::kernels::x16_block_q5_k*>(packed);
  auto* o = reinterpret_cast<x16_k4_wide*>(out);
  for (int64_t b = 0; b < blocks; ++b) {
    for (int p = 0; p < 4; ++p)
      for (int j = 0; j < 8; ++j)
        for (int h = 0; h < 2; ++h) {
          __m256i lo, hi;
          q4_k_operands_256(x[b], p, j, h, lo, hi);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[b].q[2 * (8 * p + j)] + 32 * h), lo);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[b].q[2 * (8 * p + j) + 1] + 32 * h), hi);
        }
    std::memcpy(o[b].d, x[b].d, sizeof(o[b].d));
    std::memcpy(o[b].dmin, x[b].dmin, sizeof(o[b].dmin));
    std::memcpy(o[b].scales, x[b].scales, sizeof(o[b].scales));
  }
  return bytes;
}

// Rows 8h..8h+7 of group gi against activation rows [c0, c0 + C). B: x16_block_q4_k,
// x16_block_q5_k (each value's fifth bit from qh, as the AVX-512 tile) or x16_k4_wide.
template <int C, class B = uma::kernels::x16_block_q4_k>
void x16_256_q4_k_tile(const gemm_args& g, int64_t gi, int h, int64_t c0, const int32_t* pairs) {
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  activation_rows(g, c0, y);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const __m256i m1 = _mm256_set1_epi32(0x3f3f3f3f);
  const __m256i m2 = _mm256_set1_epi32(0x0f0f0f0f), m3 = _mm256_set1_epi32(0x03030303);
  for (int64_t b = 0; b < nb; ++b) {
    const B& xb = x[b];
    const __m256i u0 = load256(xb.scales[0] + 32 * h), u1 = load256(xb.scales[1] + 32 * h);
    const __m256i u2 = load256(xb.scales[2] + 32 * h);
    const __m256i sc_lo = _mm256_and_si256(u0, m1), mn_lo = _mm256_and_si256(u1, m1);
    const __m256i sc_hi =
        _mm256_or_si256(_mm256_and_si256(u2, m2),
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u0, 6), m3), 4));
    const __m256i mn_hi =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m2),
                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u1, 6), m3), 4));
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      __m256i da[C], db[C];
      for (int c = 0; c < C; ++c) da[c] = db[c] = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        __m256i lo, hi;
        q4_k_operands_256(xb, p, j, h, lo, hi);
        for (int c = 0; c < C; ++c) {
          const int8_t* yq = y[c][b].qs + 64 * p + 4 * j;
          da[c] = dot_us(da[c], lo, _mm256_set1_epi32(load_i32(yq)));
          db[c] = dot_us(db[c], hi, _mm256_set1_epi32(load_i32(yq + 32)));
        }
      }
      const __m256i sc = p < 2 ? sc_lo : sc_hi;
      const __m256i sa = _mm256_shuffle_epi8(sc, dword_byte_256((2 * p) % 4));
      const __m256i sb = _mm256_shuffle_epi8(sc, dword_byte_256((2 * p + 1) % 4));
      for (int c = 0; c < C; ++c)
        sumi[c] = _mm256_add_epi32(sumi[c], _mm256_add_epi32(_mm256_mullo_epi32(da[c], sa),
                                                             _mm256_mullo_epi32(db[c], sb)));
    }
    const __m256i mp[4] = {_mm256_shuffle_epi8(mn_lo, dword_byte_pair_256(0)),
                           _mm256_shuffle_epi8(mn_lo, dword_byte_pair_256(2)),
                           _mm256_shuffle_epi8(mn_hi, dword_byte_pair_256(0)),
                           _mm256_shuffle_epi8(mn_hi, dword_byte_pair_256(2))};
    const __m256 dx = _mm256_cvtph_ps(load128(xb.d + 8 * h));
    const __m256 dm = _mm256_cvtph_ps(load128(xb.dmin + 8 * h));
    for (int c = 0; c < C; ++c) {
      const int32_t* yp = pairs + ((c0 + c) * nb + b) * 4;
      __m256i summs = _mm256_setzero_si256();
      for (int t = 0; t < 4; ++t) summs = pair_dot_256(summs, mp[t], yp + t);
      const __m256 yd = _mm256_set1_ps(y[c][b].d);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_mul_ps(yd, dx), acc[c]);
      acc[c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summs), _mm256_mul_ps(yd, dm), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8 * h, acc[c]);
}

// Four activation rows a tile (gemm64, one thread: AVX2 151 -> 157 GOPS against two, AVX-VNNI
// 228 -> 269; the rows-layout tiles 97 / 121).
template <class B = uma::kernels::x16_block_q4_k>
void x16_256_q4_k_gemm(const gemm_args& g) {
  const int32_t* pairs = q4_k_pairs_of(g);
  for (int64_t gi = 0; gi < g.rows / 16; ++gi)
    for (int h = 0; h < 2; ++h) {
      int64_t c = 0;
      for (; c + 4 <= g.n; c += 4) x16_256_q4_k_tile<4, B>(g, gi, h, c, pairs);
      for (; c + 2 <= g.n; c += 2) x16_256_q4_k_tile<2, B>(g, gi, h, c, pairs);
      for (; c < g.n; ++c) x16_256_q4_k_tile<1, B>(g, gi, h, c, pairs);
    }
}

// ---------------------------------------------------------------------------------------------
// Q6_K: as the AVX-512 tile, one 8-row half at a time and one of the four 32-element quarters of
// each 128-element half h at a time (registers: AVX2 has 16). For positions l = 4kk..4kk+3 a ql
// dword and a qh dword give quarter q's 6-bit values; each 16-element sub-block's dot is 4 dot
// products of 4 bytes times its signed scale in int32; the -32 offset is taken once per
// super-block from the activation's 16-element sums.

// Quarter q's values at dword column kk of half h, rows 8 rh.. (AVX2 has no vpternlogd).
inline __m256i q6_k_quarter_256(const uma::kernels::x16_block_q6_k& xb, int h, int q, int kk,
                                int rh) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
  const __m256i ql = load256(xb.ql[16 * h + 8 * (q % 2) + kk] + 32 * rh);
  const __m256i qh = load256(xb.qh[8 * h + kk] + 32 * rh);
  const __m256i nib =
      q < 2 ? _mm256_and_si256(ql, low4) : _mm256_and_si256(_mm256_srli_epi16(ql, 4), low4);
  // bits 2q, 2q + 1 of qh to bits 4, 5
  const __m256i top = q == 0   ? _mm256_slli_epi16(qh, 4)
                      : q == 1 ? _mm256_slli_epi16(qh, 2)
                      : q == 2 ? qh
                               : _mm256_srli_epi16(qh, 2);
  return _mm256_or_si256(nib, _mm256_and_si256(top, m30));
}

// The super-block's end for Q6_K / Q3_K (offset 2^Shift), as offset_scaled_fma of the AVX-512
// tiles.
template <int Shift>
inline __m256 offset_scaled_fma_256(__m256 acc, __m256i sumi, const __m256i pairs[8],
                                    const block_q8_k& y, __m256 dx) {
  __m256i offs = _mm256_setzero_si256();
  for (int t = 0; t < 8; ++t) {
    int32_t bp;
    std::memcpy(&bp, y.bsums + 2 * t, 4);
    offs = pair_dot_256(offs, pairs[t], &bp);
  }
  const __m256i dot = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offs, Shift));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(_mm256_set1_ps(y.d), dx), acc);
}

template <int C>
void x16_256_q6_k_tile(const gemm_args& g, int64_t gi, int rh, int64_t c0) {
  using uma::kernels::x16_block_q6_k;
  const int64_t nb = g.cols / 256;
  const x16_block_q6_k* x = reinterpret_cast<const x16_block_q6_k*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  activation_rows(g, c0, y);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const x16_block_q6_k& xb = x[b];
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h)
      for (int half = 0; half < 2; ++half)
        for (int q = 0; q < 4; ++q) {
          __m256i d[C];
          for (int c = 0; c < C; ++c) d[c] = _mm256_setzero_si256();
          for (int kk = 4 * half; kk < 4 * half + 4; ++kk) {
            const __m256i v = q6_k_quarter_256(xb, h, q, kk, rh);
            for (int c = 0; c < C; ++c) {
              const int8_t* yq = y[c][b].qs + 128 * h + 32 * q + 4 * kk;
              d[c] = dot_us(d[c], v, _mm256_set1_epi32(load_i32(yq)));
            }
          }
          const int sb = 8 * h + 2 * q + half;  // the sub-block of these 16 elements
          const __m256i sc = load256(xb.scales[sb / 4] + 32 * rh);
          const __m256i s32 =
              _mm256_srai_epi32(_mm256_slli_epi32(sc, 24 - 8 * (sb % 4)), 24);  // signed byte
          for (int c = 0; c < C; ++c)
            sumi[c] = _mm256_add_epi32(sumi[c], _mm256_mullo_epi32(d[c], s32));
        }
    // The -32 offset: 32 x sum_s scale_s x bsum_s, as 8 pair products of (scale pair) x (bsum
    // pair) int16 lanes.
    __m256i pairs[8];
    for (int t = 0; t < 8; ++t) {  // bytes 2t % 4 and 2t % 4 + 1 of dword t / 2, sign-extended
      const int k = (2 * t) % 4;
      const auto e = [k](int base) {
        return static_cast<int>(0x00800080u | ((base + k) << 8) | ((base + k + 1) << 24));
      };
      const __m256i idx = _mm256_setr_epi32(e(0), e(4), e(8), e(12), e(0), e(4), e(8), e(12));
      pairs[t] =
          _mm256_srai_epi16(_mm256_shuffle_epi8(load256(xb.scales[t / 2] + 32 * rh), idx), 8);
    }
    const __m256 dx = _mm256_cvtph_ps(load128(xb.d + 8 * rh));
    for (int c = 0; c < C; ++c)
      acc[c] = offset_scaled_fma_256<5>(acc[c], sumi[c], pairs, y[c][b], dx);
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8 * rh, acc[c]);
}

// Activation rows a tile (gemm64, one thread, GOPS; the rows-layout tiles 86 / 83): AVX2 2: 82,
// 4: 124, 6: 116; AVX-VNNI 2: 85, 4: 142, 6: 166.
constexpr int q6_k_width_256 = UMA_AVXVNNI ? 6 : 4;

void x16_256_q6_k_gemm(const gemm_args& g) {
  for (int64_t gi = 0; gi < g.rows / 16; ++gi)
    for (int rh = 0; rh < 2; ++rh) {
      int64_t c = 0;
      for (; c + q6_k_width_256 <= g.n; c += q6_k_width_256)
        x16_256_q6_k_tile<q6_k_width_256>(g, gi, rh, c);
      for (; c + 2 <= g.n; c += 2) x16_256_q6_k_tile<2>(g, gi, rh, c);
      for (; c < g.n; ++c) x16_256_q6_k_tile<1>(g, gi, rh, c);
    }
}

// ---------------------------------------------------------------------------------------------
// Q3_K: as the AVX-512 tile, one 8-row half at a time and one quarter j at a time (as Q6_K here):
// v = q + 4 x hbit (0..7) from a qs and an hmask dword column; signed 6-bit scales (byte - 32)
// in int32; the -4 offset from the activation's 16-element sums once per super-block.

// Scales 4t..4t+3 of each row in the bytes of its dword lane (t = 0..3), unsigned.
inline __m256i q3_k_scales4_256(__m256i u0, __m256i u1, __m256i u2, int t) {
  const __m256i m1 = _mm256_set1_epi32(0x03030303), m2 = _mm256_set1_epi32(0x0f0f0f0f);
  const __m256i high = _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(u2, 2 * t), m1), 4);
  const __m256i low = t == 0   ? _mm256_and_si256(u0, m2)
                      : t == 1 ? _mm256_and_si256(u1, m2)
                      : t == 2 ? _mm256_and_si256(_mm256_srli_epi32(u0, 4), m2)
                               : _mm256_and_si256(_mm256_srli_epi32(u1, 4), m2);
  return _mm256_or_si256(low, high);
}

// Quarter j's values v (0..7; Q2_K's 0..3 without the hmask bit) at qs dword column 8 n + k,
// rows 8 rh.. .
template <class B>
inline __m256i q3_k_quarter_256(const B& xb, int n, int k, int j, int rh) {
  const __m256i qv = load256(xb.qs[8 * n + k] + 32 * rh);
  const __m256i v = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * j), _mm256_set1_epi8(0x03));
  if constexpr (std::is_same_v<B, uma::kernels::x16_block_q2_k>) {
    return v;
  } else {
    const int hb = 4 * n + j;  // the hmask bit of this quarter, to bit 2
    const __m256i hv = load256(xb.hmask[k] + 32 * rh);
    const __m256i h = hb >= 2 ? _mm256_srli_epi16(hv, hb - 2) : _mm256_slli_epi16(hv, 2 - hb);
    return _mm256_or_si256(v, _mm256_and_si256(h, _mm256_set1_epi8(0x04)));
  }
}

// Two: Q2_K instead (v = q, 4-bit scales and mins, the min term as Q4_K's).
template <int C, bool Two = false>
void x16_256_q3_k_tile(const gemm_args& g, int64_t gi, int rh, int64_t c0) {
  using B = std::conditional_t<Two, uma::kernels::x16_block_q2_k, uma::kernels::x16_block_q3_k>;
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  activation_rows(g, c0, y);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (int64_t b = 0; b < nb; ++b) {
    const B& xb = x[b];
    // Scale bytes 4t..4t+3 of each row in its dword lane, unsigned.
    const auto scales4 = [&](int t) {
      if constexpr (Two) {
        return _mm256_and_si256(load256(xb.scales[t] + 32 * rh), low4);
      } else {
        return q3_k_scales4_256(load256(xb.scales[0] + 32 * rh), load256(xb.scales[1] + 32 * rh),
                                load256(xb.scales[2] + 32 * rh), t);
      }
    };
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int n = 0; n < 2; ++n)
      for (int half = 0; half < 2; ++half)
        for (int j = 0; j < 4; ++j) {
          __m256i d[C];
          for (int c = 0; c < C; ++c) d[c] = _mm256_setzero_si256();
          for (int k = 4 * half; k < 4 * half + 4; ++k) {
            const __m256i v = q3_k_quarter_256(xb, n, k, j, rh);
            for (int c = 0; c < C; ++c) {
              const int8_t* yq = y[c][b].qs + 128 * n + 32 * j + 4 * k;
              d[c] = dot_us(d[c], v, _mm256_set1_epi32(load_i32(yq)));
            }
          }
          const int sb = 8 * n + 2 * j + half;  // the sub-block of these 16 elements
          const __m256i s32 =
              _mm256_sub_epi32(_mm256_shuffle_epi8(scales4(sb / 4), dword_byte_256(sb % 4)),
                               _mm256_set1_epi32(Two ? 0 : 32));
          for (int c = 0; c < C; ++c)
            sumi[c] = _mm256_add_epi32(sumi[c], _mm256_mullo_epi32(d[c], s32));
        }
    const __m256 dx = _mm256_cvtph_ps(load128(xb.d + 8 * rh));
    __m256i pairs[8];
    if constexpr (Two) {  // the min pairs
      for (int t = 0; t < 8; ++t)
        pairs[t] = _mm256_shuffle_epi8(
            _mm256_and_si256(_mm256_srli_epi16(load256(xb.scales[t / 2] + 32 * rh), 4), low4),
            dword_byte_pair_256((2 * t) % 4));
      const __m256 dm = _mm256_cvtph_ps(load128(xb.dmin + 8 * rh));
      for (int c = 0; c < C; ++c) {
        __m256i summs = _mm256_setzero_si256();
        for (int t = 0; t < 8; ++t) {
          int32_t bp;
          std::memcpy(&bp, y[c][b].bsums + 2 * t, 4);
          summs = pair_dot_256(summs, pairs[t], &bp);
        }
        const __m256 yd = _mm256_set1_ps(y[c][b].d);
        acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_mul_ps(yd, dx), acc[c]);
        acc[c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summs), _mm256_mul_ps(yd, dm), acc[c]);
      }
    } else {  // the -4 offset: 4 x sum_s scale_s x bsum_s
      for (int t = 0; t < 8; ++t)
        pairs[t] =
            _mm256_sub_epi16(_mm256_shuffle_epi8(scales4(t / 2), dword_byte_pair_256((2 * t) % 4)),
                             _mm256_set1_epi16(32));
      for (int c = 0; c < C; ++c)
        acc[c] = offset_scaled_fma_256<2>(acc[c], sumi[c], pairs, y[c][b], dx);
    }
  }
  for (int c = 0; c < C; ++c) _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8 * rh, acc[c]);
}

template <bool Two = false>
void x16_256_q3_k_gemm(const gemm_args& g) {
  for (int64_t gi = 0; gi < g.rows / 16; ++gi)
    for (int rh = 0; rh < 2; ++rh) {
      int64_t c = 0;
      for (; c + q6_k_width_256 <= g.n; c += q6_k_width_256)
        x16_256_q3_k_tile<q6_k_width_256, Two>(g, gi, rh, c);
      for (; c + 2 <= g.n; c += 2) x16_256_q3_k_tile<2, Two>(g, gi, rh, c);
      for (; c < g.n; ++c) x16_256_q3_k_tile<1, Two>(g, gi, rh, c);
    }
}

#include "kernels/x86/matmul_x16_256_signed-inl.h"

// The x16 prefill entries of the 256-bit builds (no x16 decode kernels: --repack stays an
// AVX-512 option).
inline void fill_x16_256_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  b.gemm_x16[static_cast<size_t>(dtype::q4_0)] = x16_256_gemm<x16_256_q4_0>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q4_0)] = x16_offsets_prep<8>;
  b.gemm_x16[static_cast<size_t>(dtype::q5_0)] = x16_256_gemm<x16_256_q5_0>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q5_0)] = x16_offsets_prep<16>;
  b.gemm_x16[static_cast<size_t>(dtype::q4_1)] = x16_256_gemm<x16_256_q4_1>;
  b.gemm_x16[static_cast<size_t>(dtype::q5_1)] = x16_256_gemm<x16_256_q5_1>;
  using q5_0_bytes = x16_256_bytes<block_q8_0, 16>;
  using q5_1_bytes = x16_256_bytes<block_q8_1, 0>;
  b.x16_expand[static_cast<size_t>(dtype::q5_0)] = x16_expand_256<x16_256_q5_0, q5_0_bytes>;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_0)] = x16_256_gemm<q5_0_bytes>;
  b.x16_expand[static_cast<size_t>(dtype::q5_1)] = x16_expand_256<x16_256_q5_1, q5_1_bytes>;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_1)] = x16_256_gemm<q5_1_bytes>;
  b.gemm_x16[static_cast<size_t>(dtype::q8_0)] = x16_256_gemm<x16_256_q8_0>;
  if (x16_256_q8_0::offset != 0)
    b.gemm_prep_x16[static_cast<size_t>(dtype::q8_0)] = x16_offsets_prep<x16_256_q8_0::offset>;
  b.gemm_x16[static_cast<size_t>(dtype::q2_k)] = x16_256_q3_k_gemm<true>;
  b.gemm_x16[static_cast<size_t>(dtype::q3_k)] = x16_256_q3_k_gemm<>;
  b.gemm_x16[static_cast<size_t>(dtype::q4_k)] = x16_256_q4_k_gemm<>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q4_k)] = x16_q4_k_pairs_prep;
  b.gemm_x16[static_cast<size_t>(dtype::q5_k)] = x16_256_q4_k_gemm<uma::kernels::x16_block_q5_k>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q5_k)] = x16_q4_k_pairs_prep;
  b.x16_expand[static_cast<size_t>(dtype::q5_k)] = x16_expand_q5_k_256;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_k)] = x16_256_q4_k_gemm<x16_k4_wide>;
  b.gemm_x16[static_cast<size_t>(dtype::q6_k)] = x16_256_q6_k_gemm;
  // Many-row prefill of Q6_K / Q3_K / Q2_K over their signed expansion
  // (matmul_x16_256_signed-inl.h).
  b.x16_expand[static_cast<size_t>(dtype::q6_k)] = x16_expand_q6_k_signed_256;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q6_k)] = x16_gemm_signed_256<>;
  b.x16_expand[static_cast<size_t>(dtype::q3_k)] = x16_expand_q3_k_signed_256;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q3_k)] = x16_gemm_signed_256<>;
  b.x16_expand[static_cast<size_t>(dtype::q2_k)] = x16_expand_q2_k_signed_256;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q2_k)] = x16_gemm_signed_256<x16_signed_min_wide>;
#if UMA_AVXVNNI
  // Batched decode through the x16 tiles from 3 rows for Q4_0, Q8_0, Q4_K, Q5_K, 6 for Q5_0, 8
  // for Q2_K, Q3_K, Q6_K (AVX2: the default, 16). Since 2026-12-06 18:13, before 8 for all:
  // gemm64 avx2-vnni on the Zen 5, one thread, two rounds, GOPS rows -> x16 at n 3: Q4_0 102 ->
  // 133-141, Q8_0 64 -> 103-106, Q4_K 74-77 -> 124-125, Q5_K 60-62 -> 78-87, Q5_0 51-53 -> 70-82
  // (n 4 118 -> 108), Q6_K / Q3_K / Q2_K 44-71 -> 36-49; n 6 Q5_0 82-83 -> 107-135, Q6_K / Q3_K
  // / Q2_K mixed.
  for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q5_k})
    b.x16_min_n[static_cast<size_t>(t)] = 3;
  b.x16_min_n[static_cast<size_t>(dtype::q5_0)] = 6;
  for (dtype t : {dtype::q2_k, dtype::q3_k, dtype::q6_k}) b.x16_min_n[static_cast<size_t>(t)] = 8;
#endif
}
