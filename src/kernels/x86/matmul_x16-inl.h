// AVX-512 VNNI kernels over x16 (interleaved 16-row) matrices (layout in kernels/matmul.h),
// included by matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is set.
//
// One 512-bit load holds 4 nibble bytes of each of 16 rows, so a block of 16 rows x 32 weights
// costs 4 loads, 12 unpack ops, 8 vpdpbusd against a broadcast 4-byte activation group, one
// fp16->fp32 of the 16 row scales and one fma: about a third of the instructions per weight of
// the first rows-layout tile (nib_tile512, since removed), which leaves decode bound by memory
// instead of by these instructions (docs/performance.md). Q4_0's offset of 8 enters as the dot's
// initial value, -8 x the activation block's sum, computed once per tile call; every block
// product is the exact int32 of the reference, scaled by d_w * d_a in fp32 and summed over blocks
// in order.
#pragma once

// acc + vpdpbusd(w, the 4 activation bytes at p in every dword lane). GCC turns the intrinsic
// form into a separate vpbroadcastd per product; the asm folds the broadcast into the
// instruction's memory operand ({1to16}), one vector op fewer per vpdpbusd.
inline __m512i dpbusd_bcast(__m512i acc, __m512i w, const int8_t* p) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(w), "m"(*reinterpret_cast<const int32_t*>(p)));
  return acc;
}
// acc + vpdpwssd(w, the int16 pair at p in every dword lane), the broadcast folded likewise.
// On this Zen 5 a vpbroadcastd from memory takes a slot of the pipes vpdpbusd runs on (a loop
// of vpdpbusd with one vpbroadcastd each ran at half the rate); a folded {1to16} operand does not.
inline __m512i dpwssd_bcast(__m512i acc, __m512i w, const void* p) {
  asm("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// Calls tile.template operator()<C>(c) over activation rows [0, n) in passes of C rows: W at a
// time (each unpacked weight block reused from registers W times), the rest in passes of 4 (where
// W > 4), 3 or 2 rows, a single row only where one is left: W + 1 rows go as W / 2 + 1 and W / 2,
// 5 under W as 3 and 2, W + 2 (W 6) as 4 and 4. A pass over one row pays the block's unpack for
// one product, and batched decode lives in these tails (n 2..15): gemm64 Q4_0 x16, one thread, n
// 2 as one pass of 2 instead of two of 1 260 -> 410 GOPS, n 8 (6 + 2 instead of 6 + 1 + 1) 416 ->
// 481 (docs/performance.md, 2026-12-06 13:02), and as 4 + 4 instead of 6 + 2 554-575 -> 590-599
// (a pass of 2 runs 4 vpdpbusd chains, latency-bound; 2026-12-06 18:13).
template <int W, class Tile>
void x16_passes(int64_t n, const Tile& tile) {
  static_assert(W >= 2 && W <= 6);
  for (int64_t c = 0; c < n;) {
    const int64_t r = n - c;
    const int w = r == W + 2 && W == 6   ? 4
                  : r >= W && r != W + 1 ? W
                  : r == W + 1           ? W / 2 + 1
                  : r == 5               ? 3
                                         : static_cast<int>(r);
    if (w == W) {
      tile.template operator()<W>(c);
    } else if (w == 4) {
      if constexpr (W > 4) tile.template operator()<4>(c);
    } else if (w == 3) {
      if constexpr (W > 3) tile.template operator()<3>(c);
    } else if (w == 2) {
      if constexpr (W > 2) tile.template operator()<2>(c);
    } else {
      tile.template operator()<1>(c);
    }
    c += w;
  }
}

// Runs tile.template operator()<C>(gi, c) over every 16-row group gi of the tile call and its
// activation rows, in the passes of x16_passes<W>.
template <int W, class Tile>
void x16_sweep(const gemm_args& g, const Tile& tile) {
  for (int64_t gi = 0; gi < g.rows / 16; ++gi)
    x16_passes<W>(g.n, [&]<int C>(int64_t c) { tile.template operator()<C>(gi, c); });
}

// The 32-element formats against their activation blocks (F::act: Q8_0, or Q8_1 for Q4_1 /
// Q5_1): F::unpack turns one x16 block into 8 operand vectors, q[j] holding 4 unsigned values of
// each of the 16 rows for activation bytes 4j..4j+3, and F::offset is what those values exceed
// the signed weights by (the dot starts at -offset x the activation block sum). Q4_1 / Q5_1
// (F::has_min) have no offset; each block adds m_w x s_a (the Q8_1 block's d x sum), one fma per
// 16 rows (x16_act_traits, matmul_x16_256-inl.h).
template <class B>  // nibbles: q[j] low nibbles of qs dword j, q[4 + j] their high nibbles
struct x16_nib4_fmt {
  using block = B;
  // Operands j and 4 + j (activation bytes 4j.. and 16 + 4j..).
  static void unpack_j(const block& x, int j, __m512i& lo, __m512i& hi) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i raw = _mm512_loadu_si512(x.qs[j]);
    lo = _mm512_and_si512(raw, low4);
    hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
  }
  static void unpack(const block& x, __m512i q[8]) {
    for (int j = 0; j < 4; ++j) unpack_j(x, j, q[j], q[4 + j]);
  }
};
struct x16_q4_0_fmt : x16_nib4_fmt<uma::kernels::x16_block_q4_0>, x16_act_traits<block_q8_0, 8> {};
struct x16_q4_1_fmt : x16_nib4_fmt<uma::kernels::x16_block_q4_1>, x16_act_traits<block_q8_1, 0> {};
// Q5_0: as Q4_0, plus each row's 32 fifth bits (one dword a row): for the 4 elements of a nibble
// dword, the 4 bits are spread over their bytes by a byte broadcast and a bit test (vpshufb +
// vptestmb) and added as 16 under the mask.
template <class B>
struct x16_nib5_fmt {
  using block = B;
  static void unpack_j(const block& x, int j, __m512i& lo, __m512i& hi) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i bitsel = _mm512_set1_epi32(0x08040201);  // byte i of a dword tests bit i
    // Byte 0 (low elements) / byte 2 (high elements, bits 16..) of each dword to all 4 bytes.
    const __m512i bcast_lo = _mm512_set4_epi32(0x0c0c0c0c, 0x08080808, 0x04040404, 0x00000000);
    const __m512i bcast_hi = _mm512_set4_epi32(0x0e0e0e0e, 0x0a0a0a0a, 0x06060606, 0x02020202);
    const __m512i raw = _mm512_loadu_si512(x.qs[j]);
    const __m512i t = _mm512_srli_epi32(_mm512_loadu_si512(x.qh), 4 * j);  // bits 4j.., 16 + 4j..
    const __mmask64 klo = _mm512_test_epi8_mask(_mm512_shuffle_epi8(t, bcast_lo), bitsel);
    const __mmask64 khi = _mm512_test_epi8_mask(_mm512_shuffle_epi8(t, bcast_hi), bitsel);
    const __m512i l = _mm512_and_si512(raw, low4);
    const __m512i h = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    lo = _mm512_mask_add_epi8(l, klo, l, bit4);
    hi = _mm512_mask_add_epi8(h, khi, h, bit4);
  }
  static void unpack(const block& x, __m512i q[8]) {
    for (int j = 0; j < 4; ++j) unpack_j(x, j, q[j], q[4 + j]);
  }
};
struct x16_q5_0_fmt : x16_nib5_fmt<uma::kernels::x16_block_q5_0>, x16_act_traits<block_q8_0, 16> {};
struct x16_q5_1_fmt : x16_nib5_fmt<uma::kernels::x16_block_q5_1>, x16_act_traits<block_q8_1, 0> {};
// Q8_0: the signed weights flipped to unsigned (w + 128) with one xor.
struct x16_q8_0_fmt : x16_act_traits<block_q8_0, 128> {
  using block = uma::kernels::x16_block_q8_0;
  static void unpack_j(const block& x, int j, __m512i& lo, __m512i& hi) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    lo = _mm512_xor_si512(_mm512_loadu_si512(x.qs[j]), flip);
    hi = _mm512_xor_si512(_mm512_loadu_si512(x.qs[4 + j]), flip);
  }
  static void unpack(const block& x, __m512i q[8]) {
    for (int j = 0; j < 4; ++j) unpack_j(x, j, q[j], q[4 + j]);
  }
};

// Prefill of many activation rows: a task's x16 group-blocks unpacked once (x16_expand) instead
// of once per pass of a few activation rows (85 passes of 6 rows a task at pp512), into bytes
// (the unsigned values, with the format's offset; Q5_1's min beside them) that x16_bytes_fmt
// loads as they are. The same integers in the same order, so the same floats as the unpacking
// tiles.
template <class Act, int Offset>
struct x16_bytes_fmt : x16_act_traits<Act, Offset> {
  using block = std::conditional_t<x16_act_traits<Act, Offset>::has_min, x16_bytes_min_block,
                                   uma::kernels::x16_block_q8_0>;
  static void unpack_j(const block& x, int j, __m512i& lo, __m512i& hi) {
    lo = _mm512_loadu_si512(x.qs[j]);
    hi = _mm512_loadu_si512(x.qs[4 + j]);
  }
  static void unpack(const block& x, __m512i q[8]) {
    for (int j = 0; j < 4; ++j) unpack_j(x, j, q[j], q[4 + j]);
  }
};

// F: the unpacking format; W: x16_bytes_fmt of the same activation and offset.
template <class F, class W>
size_t x16_expand(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out) {
  using wide = typename W::block;
  const int64_t blocks = rows / 16 * (cols / 32);
  if (out == nullptr) return static_cast<size_t>(blocks) * sizeof(wide);
  const auto* x = reinterpret_cast<const typename F::block*>(packed);
  auto* o = reinterpret_cast<wide*>(out);
  for (int64_t i = 0; i < blocks; ++i) {
    __m512i q[8];
    F::unpack(x[i], q);
    for (int k = 0; k < 8; ++k) _mm512_storeu_si512(o[i].qs[k], q[k]);
    std::memcpy(o[i].d, x[i].d, sizeof(o[i].d));
    if constexpr (W::has_min) std::memcpy(o[i].m, x[i].m, sizeof(o[i].m));
  }
  return static_cast<size_t>(blocks) * sizeof(wide);
}

// Whether an x16 gemm requests its weights ahead itself: read from memory (gemm_args::streamed)
// for a batch of a few rows, where one pass over them is most of the work. With more rows the
// passes after the first find them in cache and the task list's own prefetch of the next block
// suffices (prefill_seq n = 512, Q4_K / Q6_K: 1-7 % slower with the first pass prefetching).
inline bool streamed_few(const gemm_args& g) {
  return g.streamed && g.n <= uma::kernels::streamed_few_max_n;
}

// What a tile requests while it reads p: `ahead` bytes on, or where gemm_args::prefetch_to is
// set, p's offset there. The x16 tiles request into L2 (prefetcht1), but for k16_scaled_sums'
// (Q3_K / Q2_K / Q6_K, see there): into L1 the requests held L1's few miss buffers until their
// lines came from memory (as the rows tiles' and attention's did, matmul_x86-inl.h). Batched
// decode on the Zen 4 VM, qwen3-0.6b, runs alternated: Q4_0 8 sequences 1.18-1.27x, 16
// 1.09-1.11x (one pair mixed), Q4_K_M 8 / 16 1.11-1.18x, Q8_0 8 1.24-1.29x; single-sequence
// `--repack=all` Q4_K 1.16-1.17x, Q4_0 and Q8_0 mixed (docs/performance.md 2026-12-07 08:05).
inline const char* x16_prefetch_at(const gemm_args& g, const void* p, size_t ahead) {
  const auto* c = static_cast<const char*>(p);
  if (g.prefetch_to != nullptr)
    return reinterpret_cast<const char*>(g.prefetch_to) + (c - reinterpret_cast<const char*>(g.w));
  return c + ahead;
}

// Group `gi` of the tile (16 rows) against activation rows [c0, c0 + C).
template <class F, int C>
void x16_legacy_tile(const gemm_args& g, int64_t gi, int64_t c0, const int32_t* corr) {
  using block = typename F::block;
  using act = typename F::act;
  const int64_t nb = g.cols / 32;
  const block* x = reinterpret_cast<const block*>(g.w) + gi * nb;
  const act* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const act*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  // ~9 KB ahead (Q4_0: 32 blocks; measured 8 -> 24..48 blocks +10 % in decode), every line of
  // the block there.
  constexpr int64_t ahead = 9216 / sizeof(block);
  constexpr int lines = sizeof(block) / 64 + 1;
  for (int64_t b = 0; b < nb; ++b) {
    const char* pf = x16_prefetch_at(g, x + b, ahead * sizeof(block));
    for (int l = 0; l < lines; ++l) _mm_prefetch(pf + 64 * l, _MM_HINT_T1);
    __m512i q[8];
    F::unpack(x[b], q);
    const __m512 dx = _mm512_cvtph_ps(load256(x[b].d));
    for (int c = 0; c < C; ++c) {
      const int8_t* yq = y[c][b].qs;
      __m512i s0 =
          F::offset != 0 ? _mm512_set1_epi32(corr[(c0 + c) * nb + b]) : _mm512_setzero_si512();
      __m512i s1 = _mm512_setzero_si512();
      for (int j = 0; j < 4; ++j) {
        s0 = dpbusd_bcast(s0, q[j], yq + 4 * j);
        s1 = dpbusd_bcast(s1, q[4 + j], yq + 16 + 4 * j);
      }
      const __m512 dxy = _mm512_mul_ps(dx, _mm512_set1_ps(h2f(y[c][b].d)));
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), dxy, acc[c]);
      if constexpr (F::has_min)
        acc[c] = _mm512_fmadd_ps(_mm512_cvtph_ps(load256(x[b].m)), _mm512_set1_ps(h2f(y[c][b].s)),
                                 acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[c]);
}

template <class F>
void x16_legacy_matvec(const gemm_args& g) {
  thread_local std::vector<int32_t> corr;
  if constexpr (F::offset != 0) {
    corr.resize(static_cast<size_t>(g.n * (g.cols / 32)));
    block_offsets(g, F::offset, corr.data());
  }
  x16_sweep<4>(g,
               [&]<int C>(int64_t gi, int64_t c) { x16_legacy_tile<F, C>(g, gi, c, corr.data()); });
}

// Prefill: groups gi and gi + 1 (32 rows) against activation rows [c0, c0 + C). Each broadcast
// activation dword feeds both groups' vpdpbusd (half the broadcasts per product of the 16-row
// tile), and the weights unpack one dword column at a time, so 2 x C int32 chains and 2 x C fp32
// accumulators stay in registers.
template <class F, int C>
void x16_legacy_tile2(const gemm_args& g, int64_t gi, int64_t c0, const int32_t* corr) {
  using block = typename F::block;
  using act = typename F::act;
  const int64_t nb = g.cols / 32;
  const block* x0 = reinterpret_cast<const block*>(g.w) + gi * nb;
  const block* x1 = x0 + nb;
  const act* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const act*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[2][C];
  // Zeroed without a loop: GCC turned the loop into a `rep stos` of the (spilled) array on every
  // call (1.3 % of this tile's samples in a qwen3-0.6b Q4_0 pp512 profile).
  [&]<int... Cs>(std::integer_sequence<int, Cs...>) {
    ((acc[0][Cs] = _mm512_setzero_ps(), acc[1][Cs] = _mm512_setzero_ps()), ...);
  }
  (std::make_integer_sequence<int, C>{});
  // From memory (gemm_args::streamed), on the first activation pass (later passes find them in
  // cache): both groups' blocks `ahead` steps on (~9 KB of one group, as decode's tile), in the
  // next pair of groups where that passes the row's end; where gemm_args::prefetch_to is set,
  // the same blocks of the next rows-layout block. (Requested at x0 + b + 9 KB and x1 + b + 9 KB,
  // as if each group were its own stream, with rows of 32 Q4_0 blocks the first group's requests
  // fell on the second group's blocks being read and the next pair's second group was never
  // requested: `--repack=all` qwen3-0.6b Q4_0 batch 8 366-410 -> 493-502 tok/s.)
  constexpr int64_t ahead = 9216 / sizeof(block);
  constexpr int lines = sizeof(block) / 64 + 1;
  const bool fetch = streamed_few(g) && c0 == 0;
  for (int64_t b = 0; b < nb; ++b) {
    if (fetch) {
      const char *p0, *p1;
      if (g.prefetch_to != nullptr) {
        p0 = x16_prefetch_at(g, x0 + b, 0), p1 = x16_prefetch_at(g, x1 + b, 0);
      } else {
        const int64_t t = b + std::min(ahead, nb);  // the step whose blocks are requested
        const block* f = t < nb ? x0 + t : x1 + t;  // x1 + t: the next pair's x0 + (t - nb)
        p0 = reinterpret_cast<const char*>(f), p1 = reinterpret_cast<const char*>(f + nb);
      }
      for (int l = 0; l < lines; ++l)
        _mm_prefetch(p0 + 64 * l, _MM_HINT_T1), _mm_prefetch(p1 + 64 * l, _MM_HINT_T1);
    }
    __m512i s[2][C];
    for (int c = 0; c < C; ++c)
      s[0][c] = s[1][c] =
          F::offset != 0 ? _mm512_set1_epi32(corr[(c0 + c) * nb + b]) : _mm512_setzero_si512();
    for (int j = 0; j < 4; ++j) {
      __m512i lo0, hi0, lo1, hi1;
      F::unpack_j(x0[b], j, lo0, hi0);
      F::unpack_j(x1[b], j, lo1, hi1);
      for (int c = 0; c < C; ++c) {
        const int8_t* yq = y[c][b].qs;
        const __m512i alo = _mm512_set1_epi32(load_i32(yq + 4 * j));
        const __m512i ahi = _mm512_set1_epi32(load_i32(yq + 16 + 4 * j));
        s[0][c] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s[0][c], lo0, alo), hi0, ahi);
        s[1][c] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s[1][c], lo1, alo), hi1, ahi);
      }
    }
    const __m512 dx0 = _mm512_cvtph_ps(load256(x0[b].d)), dx1 = _mm512_cvtph_ps(load256(x1[b].d));
    for (int c = 0; c < C; ++c) {
      const __m512 dy = _mm512_set1_ps(h2f(y[c][b].d));
      acc[0][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[0][c]), _mm512_mul_ps(dx0, dy), acc[0][c]);
      acc[1][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[1][c]), _mm512_mul_ps(dx1, dy), acc[1][c]);
      if constexpr (F::has_min) {
        const __m512 sy = _mm512_set1_ps(h2f(y[c][b].s));
        acc[0][c] = _mm512_fmadd_ps(_mm512_cvtph_ps(load256(x0[b].m)), sy, acc[0][c]);
        acc[1][c] = _mm512_fmadd_ps(_mm512_cvtph_ps(load256(x1[b].m)), sy, acc[1][c]);
      }
    }
  }
  for (int c = 0; c < C; ++c) {
    _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[0][c]);
    _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 16, acc[1][c]);
  }
}

// The prefill gemm: pairs of groups by x16_legacy_tile2, an odd last group as decode does.
// The activation offsets (block_offsets) come from gemm_prep_x16 once per call when set.
template <class F>
void x16_legacy_gemm(const gemm_args& g) {
  thread_local std::vector<int32_t> own;
  const int32_t* corr = reinterpret_cast<const int32_t*>(g.prep);
  if (corr == nullptr && F::offset != 0) {
    own.resize(static_cast<size_t>(g.n * (g.cols / 32)));
    block_offsets(g, F::offset, own.data());
    corr = own.data();
  }
  const int64_t groups = g.rows / 16;
  int64_t gi = 0;
  for (; gi + 2 <= groups; gi += 2)
    x16_passes<6>(g.n, [&]<int C>(int64_t c) { x16_legacy_tile2<F, C>(g, gi, c, corr); });
  for (; gi < groups; ++gi)
    x16_passes<4>(g.n, [&]<int C>(int64_t c) { x16_legacy_tile<F, C>(g, gi, c, corr); });
}

// ---------------------------------------------------------------------------------------------
// Q4_K over x16 groups (16 rows x one 256-element super-block per x16_block_q4_k). The packed
// 6-bit scales and mins of 16 rows decode in 16 dword lanes with k4_scales' masks and shifts;
// each 32-element sub-block's dot is 8 vpdpbusd (exact int32), scaled by its 6-bit scale in int32
// (vpmullo) as the reference does, and the min term sum_s min_s * (activation sub-block sum) is 4
// vpdpwssd on (min pair, activation sum pair) int16 lanes. One fp32 fma for d and one for dmin
// per super-block, as the reference.

// The vpshufb indices that take byte k of every dword, zero-extended to the dword.
inline __m512i dword_byte_index(int k) {
  return _mm512_set4_epi32(
      static_cast<int>(0x80808000u + 12 + k), static_cast<int>(0x80808000u + 8 + k),
      static_cast<int>(0x80808000u + 4 + k), static_cast<int>(0x80808000u + k));
}
// Bytes k and k + 1 of every dword as an int16 pair.
inline __m512i dword_byte_pair(__m512i v, int k) {
  auto e = [k](int base) {
    return static_cast<int>(0x80008000u + base + k + ((base + k + 1) << 16));
  };
  return _mm512_shuffle_epi8(v, _mm512_set4_epi32(e(12), e(8), e(4), e(0)));
}

// Bit `from` of every byte of v to bit 4, the other bits cleared, or-ed into base (Q5_K's fifth
// bits: a word shift keeps bit 4 of each byte within that byte).
inline __m512i add_fifth_bit(__m512i base, __m512i v, int from) {
  const __m512i s = from <= 4 ? _mm512_slli_epi16(v, 4 - from) : _mm512_srli_epi16(v, from - 4);
  return _mm512_ternarylogic_epi32(base, s, _mm512_set1_epi8(0x10), 0xF8);  // a | (b & c)
}

// Prefill of the K formats: rows x cols of x16 group-blocks Src into Wide ones, whose 64 operand
// vectors q[i] = operand(x, i) are made once per task instead of once per pass of 4 activation
// rows; tail(x, o) copies what the tiles read as it is (scales, d). Returns Wide's bytes (only
// them when out is null).
template <class Wide, class Src, class Operand, class Tail>
size_t expand_k_groups(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out,
                       const Operand& operand, const Tail& tail) {
  const int64_t blocks = rows / 16 * (cols / 256);
  if (out == nullptr) return static_cast<size_t>(blocks) * sizeof(Wide);
  const auto* x = reinterpret_cast<const Src*>(packed);
  auto* o = reinterpret_cast<Wide*>(out);
  for (int64_t b = 0; b < blocks; ++b) {
    for (int i = 0; i < 64; ++i) _mm512_storeu_si512(o[b].q[i], operand(x[b], i));
    tail(x[b], o[b]);
  }
  return static_cast<size_t>(blocks) * sizeof(Wide);
}

// The operands of dword column j of sub-block pair p (elements 64p + 4j.. and 64p + 32 + 4j..):
// the nibbles, with Q5_K's fifth bits.
template <class B>
inline void q4_k_operands(const B& x, int p, int j, __m512i& lo, __m512i& hi) {
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i raw = _mm512_loadu_si512(x.qs[8 * p + j]);
  lo = _mm512_and_si512(raw, low4);
  hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
  if constexpr (std::is_same_v<B, uma::kernels::x16_block_q5_k>) {
    const __m512i qh = _mm512_loadu_si512(x.qh[j]);
    lo = add_fifth_bit(lo, qh, 2 * p);
    hi = add_fifth_bit(hi, qh, 2 * p + 1);
  }
}

// Prefill: a task's Q5_K group-blocks with their operands made once (x16_expand_k4, into
// x16_k4_wide: matmul_x16_256-inl.h) instead of once per pass of 4 activation rows.
template <class B>
size_t x16_expand_k4(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out) {
  return expand_k_groups<x16_k4_wide, B>(
      packed, rows, cols, out,
      [](const B& x, int i) {
        __m512i lo, hi;
        q4_k_operands(x, i / 16, i / 2 % 8, lo, hi);
        return i % 2 == 0 ? lo : hi;
      },
      [](const B& x, x16_k4_wide& o) {
        std::memcpy(o.d, x.d, sizeof(o.d));
        std::memcpy(o.dmin, x.dmin, sizeof(o.dmin));
        std::memcpy(o.scales, x.scales, sizeof(o.scales));
      });
}

// B: x16_block_q4_k, or x16_block_q5_k (the same with each value's fifth bit from qh: bit 2p of
// qh byte l for sub-block 2p, bit 2p + 1 for 2p + 1, l = the element's position in its 32), or
// x16_k4_wide (operands loaded as they are).
template <int C, bool Prefetch = true, class B = uma::kernels::x16_block_q4_k>
void x16_q4_k_tile(const gemm_args& g, int64_t gi, int64_t c0, const int32_t* pairs) {
  constexpr bool five = std::is_same_v<B, uma::kernels::x16_block_q5_k>;
  constexpr bool wide = std::is_same_v<B, x16_k4_wide>;
  static_assert(!(wide && Prefetch));
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  const __m512i m1 = _mm512_set1_epi32(0x3f3f3f3f);
  const __m512i m2 = _mm512_set1_epi32(0x0f0f0f0f), m3 = _mm512_set1_epi32(0x03030303);
  // Built once: with the sub-block loop not unrolled, GCC assembled the index for the loop's k
  // (vmovd, vpinsrd, vinserti) at every step.
  const __m512i byte_index[4] = {dword_byte_index(0), dword_byte_index(1), dword_byte_index(2),
                                 dword_byte_index(3)};
  for (int64_t b = 0; b < nb; ++b) {
    // The next super-block group (2.3 KB ahead), one line per step. Measured (bench_matmul, 768
    // MiB): 1 block ahead 23.9-24.5 GB/s, 2-8 blocks 19.5-22.6.
    const char* pf = x16_prefetch_at(g, x + b, 4 * sizeof(x[b]));
    if constexpr (Prefetch)
      for (int l = 0; l < 4; ++l) _mm_prefetch(pf + 64 * l, _MM_HINT_T1);
    pf += 256;
    // k4_scales on 16 rows: u0 = scales 0-3, u1 = mins 0-3 (low 6 bits), u2 = the high parts.
    const __m512i u0 = _mm512_loadu_si512(x[b].scales[0]), u1 = _mm512_loadu_si512(x[b].scales[1]);
    const __m512i u2 = _mm512_loadu_si512(x[b].scales[2]);
    const __m512i sc_lo = _mm512_and_si512(u0, m1), mn_lo = _mm512_and_si512(u1, m1);
    const __m512i sc_hi =
        _mm512_or_si512(_mm512_and_si512(u2, m2),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u0, 6), m3), 4));
    const __m512i mn_hi =
        _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), m2),
                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(u1, 6), m3), 4));
    __m512i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
      __m512i da[C], db[C];
      for (int c = 0; c < C; ++c) da[c] = db[c] = _mm512_setzero_si512();
      if constexpr (Prefetch && five)  // the 8 more lines of a Q5_K group-block, 2 a step
        for (int l = 0; l < 2; ++l) _mm_prefetch(pf + 64 * (32 + 2 * p + l), _MM_HINT_T1);
      for (int j = 0; j < 8; ++j) {
        if constexpr (Prefetch) _mm_prefetch(pf + 64 * (8 * p + j), _MM_HINT_T1);
        __m512i lo, hi;
        if constexpr (wide) {
          lo = _mm512_loadu_si512(x[b].q[2 * (8 * p + j)]);
          hi = _mm512_loadu_si512(x[b].q[2 * (8 * p + j) + 1]);
        } else {
          q4_k_operands(x[b], p, j, lo, hi);
        }
        for (int c = 0; c < C; ++c) {
          const int8_t* yq = y[c][b].qs + 64 * p + 4 * j;
          da[c] = dpbusd_bcast(da[c], lo, yq);
          db[c] = dpbusd_bcast(db[c], hi, yq + 32);
        }
      }
      const __m512i sa = _mm512_shuffle_epi8(p < 2 ? sc_lo : sc_hi, byte_index[(2 * p) % 4]);
      const __m512i sb = _mm512_shuffle_epi8(p < 2 ? sc_lo : sc_hi, byte_index[(2 * p + 1) % 4]);
      for (int c = 0; c < C; ++c)
        sumi[c] = _mm512_add_epi32(sumi[c], _mm512_add_epi32(_mm512_mullo_epi32(da[c], sa),
                                                             _mm512_mullo_epi32(db[c], sb)));
    }
    const __m512i mp[4] = {dword_byte_pair(mn_lo, 0), dword_byte_pair(mn_lo, 2),
                           dword_byte_pair(mn_hi, 0), dword_byte_pair(mn_hi, 2)};
    const __m512 dx = _mm512_cvtph_ps(load256(x[b].d)), dm = _mm512_cvtph_ps(load256(x[b].dmin));
    for (int c = 0; c < C; ++c) {
      const int32_t* yp = pairs + ((c0 + c) * nb + b) * 4;
      __m512i summs = _mm512_setzero_si512();
      for (int t = 0; t < 4; ++t) summs = dpwssd_bcast(summs, mp[t], yp + t);
      const __m512 yd = _mm512_set1_ps(y[c][b].d);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[c]), _mm512_mul_ps(yd, dx), acc[c]);
      acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summs), _mm512_mul_ps(yd, dm), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[c]);
}

template <class B = uma::kernels::x16_block_q4_k>
void x16_q4_k_matvec(const gemm_args& g) {
  thread_local std::vector<int32_t> pairs;
  pairs.resize(static_cast<size_t>(g.n * (g.cols / 256) * 4));
  q4_k_sum_pairs(g.a, g.a_row_bytes, g.n, g.cols, pairs.data());
  x16_sweep<4>(
      g, [&]<int C>(int64_t gi, int64_t c) { x16_q4_k_tile<C, true, B>(g, gi, c, pairs.data()); });
}

// Prefill: x16_q4_k_matvec with the sum pairs from gemm_prep_x16, once per call instead of once
// per task (a two-group tile like Q4_0's measured slower here: 415 vs 432 GOPS, register-bound),
// and no prefetch where the task's interleaved rows sit in L2 (gemm64 q4_k 438 -> 515 GOPS median
// of 4 alternating rounds, one thread); a few rows read from memory do (streamed_few).
template <class B = uma::kernels::x16_block_q4_k>
void x16_q4_k_gemm(const gemm_args& g) {
  if (g.prep == nullptr) return x16_q4_k_matvec<B>(g);
  const auto* pairs = reinterpret_cast<const int32_t*>(g.prep);
  if (streamed_few(g))  // the first activation pass requests the rows ahead
    return x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) {
      c == 0 ? x16_q4_k_tile<C, true, B>(g, gi, c, pairs)
             : x16_q4_k_tile<C, false, B>(g, gi, c, pairs);
    });
  x16_sweep<4>(g,
               [&]<int C>(int64_t gi, int64_t c) { x16_q4_k_tile<C, false, B>(g, gi, c, pairs); });
}

// Over a task's expanded group-blocks (x16_expand_k4).
inline void x16_k4_gemm_wide(const gemm_args& g) {
  const int32_t* pairs = q4_k_pairs_of(g);
  x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) {
    x16_q4_k_tile<C, false, x16_k4_wide>(g, gi, c, pairs);
  });
}

// ---------------------------------------------------------------------------------------------
// Q6_K over x16 groups (16 rows x one super-block per x16_block_q6_k). For each half h and group
// of 4 positions l, two ql dwords and one qh dword give the 6-bit values of 4 sub-blocks
// (elements 128h + 32q + l, q = 0..3) with one vpternlogd each; each 16-element sub-block's dot
// is 4 vpdpbusd (exact int32) times its signed 8-bit scale in int32; the -32 offset (32 x the
// scale x the activation's sub-block sum, Q8_K bsums) is taken once per super-block by vpdpwssd.
// The same integers as the reference's scaled_dot16; one fp32 fma per super-block.

// Signed byte k of every dword, sign-extended to the dword.
inline __m512i dword_sbyte(__m512i v, int k) {
  return _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * k), 24);
}

// The super-block's end for the K formats whose 16-element sub-blocks have a signed scale and a
// constant offset 2^Shift (Q6_K 32, Q3_K 4): acc + (sumi - 2^Shift x sum_t pairs[t] . (bsum pair
// t)) x d_y x dx, the pairs being the 16 rows' (scale 2t, scale 2t + 1) int16 lanes.
template <int Shift>
inline __m512 offset_scaled_fma(__m512 acc, __m512i sumi, const __m512i pairs[8],
                                const block_q8_k& y, __m512 dx) {
  __m512i offs = _mm512_setzero_si512();
  for (int t = 0; t < 8; ++t) offs = dpwssd_bcast(offs, pairs[t], y.bsums + 2 * t);
  const __m512i dot = _mm512_sub_epi32(sumi, _mm512_slli_epi32(offs, Shift));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(_mm512_set1_ps(y.d), dx), acc);
}

// The 6-bit values of sub-block q's elements 128h + 32q + 4kk .. + 3 of the 16 rows (one dword
// a row): the low or high nibbles of one ql vector with their two qh bits at bits 4..5.
inline __m512i q6_k_operand(const uma::kernels::x16_block_q6_k& xb, int h, int kk, int q) {
  const __m512i low4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
  const __m512i qh = _mm512_loadu_si512(xb.qh[8 * h + kk]);
  const __m512i ql = _mm512_loadu_si512(xb.ql[16 * h + 8 * (q % 2) + kk]);
  const __m512i lo =
      q < 2 ? _mm512_and_si512(ql, low4) : _mm512_and_si512(_mm512_srli_epi16(ql, 4), low4);
  const __m512i hi = q == 0   ? _mm512_slli_epi16(qh, 4)
                     : q == 1 ? _mm512_slli_epi16(qh, 2)
                     : q == 2 ? qh
                              : _mm512_srli_epi16(qh, 2);
  return _mm512_ternarylogic_epi32(lo, hi, m30, 0xF8);  // lo | (hi & 0x30)
}

// The 4 quarters q of dword column k of half h (elements 128h + 32q + 4k.. of the 16 rows)
// against C activation rows: d[c][q] += v_q . y_c, v_q made by Operand.
template <int C, auto Operand, class B>
[[gnu::always_inline]] inline void k16_quarters(const B& xb, int h, int k,
                                                const block_q8_k* const (&y)[C], int64_t b,
                                                __m512i (&d)[C][4]) {
  for (int q = 0; q < 4; ++q) {
    const __m512i v = Operand(xb, h, k, q);
    for (int c = 0; c < C; ++c)
      d[c][q] = dpbusd_bcast(d[c][q], v, y[c][b].qs + 128 * h + 32 * q + 4 * k);
  }
}

// sumi[c] = sum over the 16 sub-blocks s of scale(s) x (sub-block s of the 16 rows . y_c's), in
// the order h, half, q (s = 8h + 2q + half): each 16-element dot exact in int32 (4 vpdpbusd),
// times its scale by vpmulld. With Prefetch, Lines lines of pf a column step (below MaxLines),
// into L1 (prefetcht0), unlike the other x16 tiles' requests: the Q3_K / Q2_K / Q6_K tiles ask
// one block ahead, and into L2 qwen3-0.6b Q3_K's repacked decode fell from 117-124 to 47-48
// tok/s on the Zen 4 VM (86a379e; docs/performance.md 2026-12-07 08:05).
template <int C, auto Operand, int Lines, int MaxLines, bool Prefetch, class B, class Scale>
[[gnu::always_inline]] inline void k16_scaled_sums(const B& xb, const block_q8_k* const (&y)[C],
                                                   int64_t b, const char* pf, const Scale& scale,
                                                   __m512i (&sumi)[C]) {
  for (int c = 0; c < C; ++c) sumi[c] = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    for (int half = 0; half < 2; ++half) {
      __m512i d[C][4];
      for (int c = 0; c < C; ++c)
        for (int q = 0; q < 4; ++q) d[c][q] = _mm512_setzero_si512();
      for (int k = 4 * half; k < 4 * half + 4; ++k) {
        if constexpr (Prefetch) {
          const int step = (2 * h + half) * 4 + (k - 4 * half);  // 0..15
          for (int l = Lines * step; l < Lines * (step + 1) && l < MaxLines; ++l)
            _mm_prefetch(pf + 64 * l, _MM_HINT_T0);  // into L1: see above
        }
        k16_quarters<C, Operand>(xb, h, k, y, b, d);
      }
      for (int q = 0; q < 4; ++q) {
        const __m512i sc = scale(8 * h + 2 * q + half);
        for (int c = 0; c < C; ++c)
          sumi[c] = _mm512_add_epi32(sumi[c], _mm512_mullo_epi32(d[c][q], sc));
      }
    }
  }
}

// Decode and few-row prefill (a task's many-row prefill: x16_signed_tile, matmul_x16_signed-inl.h).
template <int C, bool Prefetch = true>
void x16_q6_k_tile(const gemm_args& g, int64_t gi, int64_t c0) {
  using B = uma::kernels::x16_block_q6_k;
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    // The next group-block (3.3 KB ahead), one line per step, as Q4_K.
    const char* pf = x16_prefetch_at(g, x + b, sizeof(x[b]));
    const B& xb = x[b];
    // Operand by operand, each against the C activation rows in turn, its ql vector loaded
    // again for each (memory operands: fewer registers live; gemm64 one thread 350-372 ->
    // 383-398 GOPS over both ql vectors held, activation row by row). 52.5 lines a block.
    __m512i sumi[C];
    k16_scaled_sums<C, q6_k_operand, 4, 53, Prefetch>(
        xb, y, b, pf,
        [&](int s) { return dword_sbyte(_mm512_loadu_si512(xb.scales[s / 4]), s % 4); }, sumi);
    // The -32 offset for all 16 sub-blocks at once: 32 x sum_s scale_s x bsum_s, as 8 vpdpwssd
    // of (scale pair) x (bsum pair) int16 lanes (the activation's bsums are pairs as stored).
    __m512i pairs[8];
    for (int t = 0; t < 8; ++t) {  // bytes 2t % 4 and 2t % 4 + 1 of dword t / 2, sign-extended
      const int k = (2 * t) % 4;
      auto e = [k](int base) {  // bytes base + k, base + k + 1 to the high bytes of the words
        return static_cast<int>(0x00800080u | ((base + k) << 8) | ((base + k + 1) << 24));
      };
      const __m512i idx = _mm512_set4_epi32(e(12), e(8), e(4), e(0));
      pairs[t] =
          _mm512_srai_epi16(_mm512_shuffle_epi8(_mm512_loadu_si512(xb.scales[t / 2]), idx), 8);
    }
    const __m512 dx = _mm512_cvtph_ps(load256(xb.d));
    for (int c = 0; c < C; ++c) acc[c] = offset_scaled_fma<5>(acc[c], sumi[c], pairs, y[c][b], dx);
  }
  for (int c = 0; c < C; ++c) _mm512_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16, acc[c]);
}

#include "kernels/x86/matmul_x16_k23-inl.h"
#include "kernels/x86/matmul_x16_signed-inl.h"

void x16_q6_k_matvec(const gemm_args& g) {
  x16_sweep<2>(g, [&]<int C>(int64_t gi, int64_t c) { x16_q6_k_tile<C>(g, gi, c); });
}

// Prefill: four activation rows per pass, no prefetch where a task's interleaved rows sit in L2,
// on the first pass where a few rows are read from memory (streamed_few).
void x16_q6_k_gemm(const gemm_args& g) {
  if (streamed_few(g))  // the first activation pass requests the rows ahead
    return x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) {
      c == 0 ? x16_q6_k_tile<C, true>(g, gi, c) : x16_q6_k_tile<C, false>(g, gi, c);
    });
  x16_sweep<4>(g, [&]<int C>(int64_t gi, int64_t c) { x16_q6_k_tile<C, false>(g, gi, c); });
}

// The x16 entries of the AVX-512 table: decode kernels, and for Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0
// the two-group prefill gemm (with its once-per-call activation offsets where the format has one).
inline void fill_x16_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  using uma::kernels::gemm_fn;
  // Decode and prefill kernels (one for any n where gemm is null).
  auto set_x16 = [&](dtype t, gemm_fn mv, gemm_fn gemm = nullptr) {
    b.matvec_x16[static_cast<size_t>(t)] = mv;
    b.gemm_x16[static_cast<size_t>(t)] = gemm != nullptr ? gemm : mv;
  };
  set_x16(dtype::q4_0, x16_legacy_matvec<x16_q4_0_fmt>, x16_legacy_gemm<x16_q4_0_fmt>);
  set_x16(dtype::q5_0, x16_legacy_matvec<x16_q5_0_fmt>, x16_legacy_gemm<x16_q5_0_fmt>);
  set_x16(dtype::q4_1, x16_legacy_matvec<x16_q4_1_fmt>, x16_legacy_gemm<x16_q4_1_fmt>);
  set_x16(dtype::q5_1, x16_legacy_matvec<x16_q5_1_fmt>, x16_legacy_gemm<x16_q5_1_fmt>);
  set_x16(dtype::q8_0, x16_legacy_matvec<x16_q8_0_fmt>, x16_legacy_gemm<x16_q8_0_fmt>);
  // Q5_0's fifth bits cost ~12 vector ops per dword column to merge: prefill_seq-like products
  // (gemm64 with 512 activation rows, one thread) 508 -> 609 GOPS unpacked once per task. Q4_0
  // (3 ops) and Q8_0 (2) gain nothing from it (prefill_seq 1097 -> 1081, 1054 -> 1065 GOPS).
  using q5_0_bytes = x16_bytes_fmt<block_q8_0, 16>;
  using q5_1_bytes = x16_bytes_fmt<block_q8_1, 0>;
  b.x16_expand[static_cast<size_t>(dtype::q5_0)] = x16_expand<x16_q5_0_fmt, q5_0_bytes>;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_0)] = x16_legacy_gemm<q5_0_bytes>;
  b.x16_expand[static_cast<size_t>(dtype::q5_1)] = x16_expand<x16_q5_1_fmt, q5_1_bytes>;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_1)] = x16_legacy_gemm<q5_1_bytes>;
  b.x16_expand[static_cast<size_t>(dtype::q6_k)] = x16_expand_q6_k_signed;
  b.x16_expand[static_cast<size_t>(dtype::q3_k)] = x16_expand_q3_k_signed;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q3_k)] = x16_gemm_signed<>;
  b.x16_expand[static_cast<size_t>(dtype::q2_k)] = x16_expand_q2_k_signed;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q2_k)] = x16_gemm_signed<x16_signed_min_wide>;
  b.x16_expand[static_cast<size_t>(dtype::q5_k)] = x16_expand_k4<uma::kernels::x16_block_q5_k>;
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q5_k)] = x16_k4_gemm_wide;
  // Q4_K's nibbles (3 ops a column) gain nothing from it: prefill_seq 977 -> 957 GOPS.
  b.gemm_x16_expanded[static_cast<size_t>(dtype::q6_k)] = x16_gemm_signed<>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q4_0)] = x16_offsets_prep<8>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q5_0)] = x16_offsets_prep<16>;
  b.gemm_prep_x16[static_cast<size_t>(dtype::q8_0)] = x16_offsets_prep<128>;
  set_x16(dtype::q2_k, x16_q3_k_matvec<true>, x16_q3_k_gemm<true>);
  set_x16(dtype::q3_k, x16_q3_k_matvec<>, x16_q3_k_gemm<>);
  set_x16(dtype::q4_k, x16_q4_k_matvec<>, x16_q4_k_gemm<>);
  b.gemm_prep_x16[static_cast<size_t>(dtype::q4_k)] = x16_q4_k_pairs_prep;
  set_x16(dtype::q5_k, x16_q4_k_matvec<uma::kernels::x16_block_q5_k>,
          x16_q4_k_gemm<uma::kernels::x16_block_q5_k>);
  b.gemm_prep_x16[static_cast<size_t>(dtype::q5_k)] = x16_q4_k_pairs_prep;
  set_x16(dtype::q6_k, x16_q6_k_matvec, x16_q6_k_gemm);
  // Batched decode of the file's rows through the x16 tiles (copied on the fly) from 3 rows for
  // Q2_K .. Q5_K, 4 for Q4_0 / Q4_1 and Q6_K, 8 for Q5_0 / Q5_1 / Q8_0. The K formats from 3 (since
  // 2026-12-06 18:13; gemm64 one thread, three rounds, n 3 GOPS rows -> x16: Q4_K 178-181 ->
  // 287-292, Q5_K 136 -> 238-248, Q3_K 135-136 -> 199-212, Q2_K 168-172 -> 243-251, Q6_K 153-154 ->
  // 150-157; n 2 mixed and Q6_K -25 %; end to end qwen3-0.6b Q4_K_M batch 3 180-185 -> 197-205
  // tok/s, batch 2 with Q4_K from 2 even or lower). Q4_0 from 4 since its tiles' short passes (see
  // x16_passes): prefill_seq from DRAM, 2 threads, GOPS against the rows gemm tile, n 4 306-313
  // -> 364-412, n 5 325-354 -> 371-382 (one round 245), n 7 326-395 -> 411-504; n 2 / 3 the rows
  // tile stays ahead (194-265 / 282-306 against 162-181 / 257-281); Q8_0 n 4 / 5 255 / 263 ->
  // 198-215 (docs/performance.md, 2026-12-06 13:02).
  // Q4_1 / Q5_1 as Q4_0 / Q5_0 (the same tiles with a min term; not measured on the Zen 5 VM:
  // until 2026-12-07 they stayed at x16_min_n_default, 16, and on the Zen 4 VM batched decode of 8
  // ran 1.38-1.46x faster through the copy, below).
  for (dtype t : {dtype::q4_0, dtype::q4_1}) b.x16_min_n[static_cast<size_t>(t)] = 4;
  for (dtype t : {dtype::q5_0, dtype::q5_1, dtype::q8_0}) b.x16_min_n[static_cast<size_t>(t)] = 8;
  for (dtype t : {dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k})
    b.x16_min_n[static_cast<size_t>(t)] = 3;
  b.x16_min_n[static_cast<size_t>(dtype::q6_k)] = 4;
  // Those are the Zen 5 VM's (measured while the x16 tiles requested into L1). Zen 4 (512-bit
  // operations on 256-bit units): Q4_0, Q4_1, Q5_0, Q5_1 from 3, Q6_K from 8, Q8_0 from 6 rows,
  // the rest as above.
  // While the x16 requests went into L1 its rows tiles led further (`uma bench --batch B`,
  // qwen3-0.6b, batch tok/s rows against x16, 2-3 rounds, 2026-12-07 05:54): Q4_0 B 4 232-240 /
  // 164-171, B 5 221-226 / 175-181, B 6 208-210 / 264-270; Q4_K B 4 186-212 / 169-186, B 5 even, B
  // 6 188-191 / 204-224; Q5_K B 4 163 / 136-138, B 6 162-171 / 172-180; Q6_K B 4 179-184 / 112-113,
  // B 6 175-177 / 143-148, B 8 even, B 12 167-174 / 198-211. Q2_K / Q3_K keep 3 (B 4:
  // x16 1.2-1.5x), Q5_0 / Q8_0 8 (Q8_0 B 8 even, B 12 x16 1.1-1.3x). Once the x16 tiles requested
  // into L2 (86a379e) the copy led from fewer rows (every type's matrices through one threshold,
  // two rounds, 2026-12-07 10:10): Q4_0 B 2 179-188 / 117-121, B 3 168-169 / 197-200, B 4 210-225 /
  // 226-249, B 5 198-218 / 252-259; Q4_K B 2 166-172 / 142-156, B 3 150-152 / 214-224, B 4
  // 195-203 / 253-254; Q5_K B 3 128-139 / 189-194, B 4 184-185 / 211-220; Q8_0 B 4 183-194 /
  // 137-143, B 6 181-199 / 209-240; Q6_K B 6 184-185 / 136-137 (keeps 8). Q4_0 from 3 again
  // (2026-12-07 11:20, the binaries alternated, 3 rounds, batch of 3 tok/s rows / x16):
  // qwen3-0.6b 169-177 / 189-202, qwen2.5-0.5b 191-193 / 230-235, llama-3.2-1b 92-94 / 111-117.
  // A prompt of 3 tokens then goes through the copy too, and its logits differ from token-by-token
  // decode's as two correct quantized products do (qwen2.5-0.5b: max_abs 0.079, kl_mean 1.1e-4),
  // as the K formats' already did from 3 (the tests check one_summation_order). Q5_0 / Q4_1 / Q5_1
  // (same day, 2 rounds, qwen3-0.6b, batch tok/s rows / x16): Q5_0 B 2 139-140 / 112-116, B 3
  // 119-124 / 157-161, B 4 177-178 / 190-193, B 6 162-175 / 240-241; Q4_1 B 2 164-173 / 105-108,
  // B 3 169 / 174-186, B 4 201-210 / 217-221, B 8 203-206 / 283-285; Q5_1 B 2 124-132 / 88-93, B 3
  // 118 / 136-155, B 4 166-168 / 168-186, B 8 169-173 / 239-252.
  if (uma::cpu().amd && uma::cpu().uarch == "zen4") {
    for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1})
      b.x16_min_n[static_cast<size_t>(t)] = 3;
    b.x16_min_n[static_cast<size_t>(dtype::q6_k)] = 8;
    b.x16_min_n[static_cast<size_t>(dtype::q8_0)] = 6;
  }
  // Decode from an x16 copy against the rows tiles, qwen3-0.6b shape, tg128 tok/s, alternating
  // rounds on the Zen 5 VM: on 2026-12-05 19:55 Q4_K_M +25 %, Q5_K_M +15 %, Q6_K +4 % (the rows
  // Q4_K tile then ran 41 GB/s a thread in L2 against the x16 one's 61, the slower side of the
  // overlap); Q4_0 even, Q3_K even or slower, Q5_0 -4 %, Q2_K -7 %, Q8_0 -14 %. Since the rows
  // tiles request 8 KB ahead without a far request (2026-12-06 10:21 and 22:38) the copy lost
  // for Q6_K (6 of 6 rounds: 105-108 against 120-123 zero-copy) and Q5_K (Q5_K_M with its Q5_K
  // copied, 109-111 against 116-125), and Q4_K gained nothing to +10 % (Q4_K_M, 10 rounds;
  // docs/performance.md 2026-12-06 22:38): on Zen 5 only Q4_K is copied (and on AMD parts not
  // measured). Zen 4 runs 512-bit operations on 256-bit units, and the rows tiles' shuffles cost
  // it more: there the copy gains for Q3_K (+16-21 %, 3 of 3 rounds) and Q2_K (+10-21 %), and
  // loses for Q4_K (-10 %), Q5_K and Q6_K (-13 %), Q5_0 (-7 %) and Q4_1 (-11 %); Q4_0 and Q8_0
  // come out even (-16 to +13 %, -8 to +17 % over 7 rounds), so they stay zero-copy (docs/
  // performance.md 2026-12-07 05:54). Elsewhere every type with an x16 kernel, as measured on
  // Emerald Rapids (2026-12-01 .. 04: 64-90 % of the roofline -> 83-105 %; not measured there
  // since the rows tiles' rewrites).
  const uma::cpu_features& cpu = uma::cpu();
  for (size_t t = 0; t < b.repack_faster.size(); ++t) b.repack_faster[t] = !cpu.amd;
  if (cpu.amd && cpu.uarch == "zen4") {
    b.repack_faster[static_cast<size_t>(dtype::q2_k)] = true;
    b.repack_faster[static_cast<size_t>(dtype::q3_k)] = true;
  } else if (cpu.amd) {
    b.repack_faster[static_cast<size_t>(dtype::q4_k)] = true;
  }
  b.x16_prefetch_to = true;
}
