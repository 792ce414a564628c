// AVX-512 kernels for Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 in the file's own (rows) layout, included by
// matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is set: decode (matvec) and the
// prefill gemm tile.
//
// 16 consecutive blocks of a row (288 / 352 / 544 contiguous bytes) per step, one block per dword
// lane where it matters: the per-block int32 dots are reduced to one vector of 16 lanes, so the
// fp32 work (convert, scale, fma) is one instruction per 16 blocks and (row, activation) pair
// instead of one per 2 blocks as in the first 512-bit legacy tiles (removed 2026-12-06).
// Every format reads a chunk with consecutive 64-byte loads (masked to its valid bytes); each
// group of 4 blocks is gathered from two neighbouring registers by vpermt2w, after a valignd
// where the group does not start on a register's word 4g (eight or sixteen overlapping unaligned
// loads per chunk streamed up to a third slower, docs/performance.md 2026-12-03).
// - Q4_0: per group of 4 blocks (72 bytes) one vpermt2w puts each block's 16 nibble bytes in its
//   own 128-bit lane; and/shift split the nibbles; two vpdpbusd against the activation laid out
//   to match (lane k: block k's values 0..15, then 16..31).
// - Q5_0: the same with 22-byte blocks (groups of 88 bytes) and each block's 32 fifth bits as
//   byte masks (the qh halves of 4 blocks joined in scalar registers, next to the vector work)
//   that add 16 to the nibbles they select.
// - Q4_1 / Q5_1: as Q4_0 / Q5_0 over 20- / 24-byte blocks (groups of 80 / 96 bytes), no offset;
//   the 16 fp16 mins are gathered like the scales and the min term is one fma per 16 blocks
//   against the Q8_1 activation's per-block s = d x sum.
// - Q8_0: the Q4_0 lane layout, per group of 4 blocks (136 bytes) two vpermt2w (block k's values
//   0..15, then 16..31, in lane k); an xor makes them unsigned (w + 128).
// The lanes are summed by in-lane unpacks into a fixed lane order, and the 16 fp16 row scales are
// gathered from the same loads in that order, as are the activation scales and offset terms
// (prepared once per activation row). Every block product is the exact int32 of the reference
// (the formats' offsets of 8 / 16 / 128 enter as -offset x the activation block's sum), scaled by
// d_w * d_a in fp32 (docs/performance.md).
#pragma once

// One activation row for these kernels: per 16-block chunk 640 bytes, the 512 values in the
// format's order, then per lane its fp32 scale and its int32 offset term.
inline constexpr size_t row16_chunk_act = 640;

// Rows of 17..31 blocks (qwen2.5-0.5b's 896 columns: 28) end inside their second chunk, and a
// row-by-row decode pays a part-empty chunk for every row (one thread in L2, 896 columns Q4_0:
// 33 GB/s against 44 for 1024). Decode instead streams such a matrix as one sequence of full
// chunks across the row ends (row16_stream_tile; not Q8_0, whose stream ran slower from DRAM than
// its row-by-row tiles, see row16_q8_0_fmt), so the activation row is laid out over one
// period, the chunks until a row ends at a chunk's end again (lcm(nb, 16) / 16 of them): block j
// of chunk c is activation block (16c + j) mod nb. The tiles read the first ceil(nb / 16) chunks,
// which differ from a zero-padded layout only in the last one's lanes past the row end; the
// weights there unpack as zeros with scale 0, so those lanes add nothing. Longer rows keep the
// row-by-row tiles: streamed, rows of 44-200 blocks ran faster in L2 and L3 but at about half the
// rate from DRAM (4864 columns: 37 -> 19 GB/s, one thread). The loss came from the stream's
// branches at the row ends: a branch-free loop recovered it, but was no faster than row by row
// there and slower for rows of whole chunks (docs/performance.md 2026-12-03 15:04). 0: no period
// layout.
inline int64_t row16_period_chunks(int64_t nb) {
  if (nb <= 16 || nb >= 32) return 0;
  return nb / std::gcd<int64_t>(nb, 16);
}

inline int64_t row16_act_chunks(int64_t nb) {
  const int64_t period = row16_period_chunks(nb);
  return period != 0 ? period : (nb + 15) / 16;
}

inline size_t row16_act_bytes(int64_t cols) {
  return static_cast<size_t>(row16_act_chunks(cols / 32)) * row16_chunk_act;
}

// Horizontal sums of four fp32 vectors, each with _mm512_reduce_add_ps's pairings (halves, then
// quarters, then elements i, i + 2, then 0, 1), so a row sums to the same float whether decode
// (four rows a tile) or the prefill tiles (_mm512_reduce_add_ps) computed it; 14 instructions
// for 4 rows where _mm512_reduce_add_ps takes about 9 per row.
[[gnu::always_inline]] inline __m128 hsum4_ps(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab =
      _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xee));
  const __m512 cd =
      _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xee));
  // Row k's quarter sums in lane k.
  const __m512 q =
      _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xdd));
  const __m512 x = _mm512_add_ps(q, _mm512_permute_ps(q, 0x4e));  // elements 0 + 2, 1 + 3
  const __m512 y = _mm512_add_ps(x, _mm512_permute_ps(x, 0xb1));  // (0 + 2) + (1 + 3)
  return _mm512_castps512_ps128(
      _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), y));
}

// A tile's R x C accumulators summed into y0[c * ldy + r0 + r]: rows in fours where R allows.
template <int R, int C>
[[gnu::always_inline]] inline void store_tile(const __m512 (&facc)[R][C], float* y0, int64_t ldy,
                                              int64_t r0) {
  for (int c = 0; c < C; ++c) {
    int r = 0;
    for (; r + 4 <= R; r += 4)
      _mm_storeu_ps(y0 + c * ldy + r0 + r,
                    hsum4_ps(facc[r][c], facc[r + 1][c], facc[r + 2][c], facc[r + 3][c]));
    for (; r < R; ++r) y0[c * ldy + r0 + r] = _mm512_reduce_add_ps(facc[r][c]);
  }
}

inline int block_sum(const block_q8_0& b) {
  const __m256i ones = _mm256_set1_epi8(1);
  // the sum of the 32 values (1 x q summed by vpdpbusd)
  return hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, load256(b.qs)));
}

// Q4_0 / Q5_0 order: group g of a chunk is blocks 4g..4g+3; lane k of its first 64 bytes holds
// block 4g + k's values 0..15, of the next 64 its values 16..31. Lane order of the scales and
// offsets: position 4k + g is block 4g + k. From Q8_1 blocks (A = block_q8_1) the second lane
// array holds each block's s (fp32) instead of the int32 offset term.
template <class A = block_q8_0>
size_t row16_nib_fill(const uint8_t* a, int64_t cols, int offset, uint8_t* out) {
  const int64_t nb = cols / 32, chunks = row16_act_chunks(nb);
  const bool wrap = row16_period_chunks(nb) != 0;
  const size_t bytes = row16_act_bytes(cols);
  if (out == nullptr) return bytes;
  std::memset(out, 0, bytes);  // zero blocks pad a last chunk without a period layout
  const auto* y = reinterpret_cast<const A*>(a);
  for (int64_t c = 0; c < chunks; ++c) {
    uint8_t* ch = out + c * row16_chunk_act;
    for (int64_t j = 0; j < 16; ++j) {
      int64_t blk = 16 * c + j;
      if (blk >= nb && !wrap) break;
      blk %= nb;
      const int64_t g = j / 4, k = j % 4;
      std::memcpy(ch + g * 128 + k * 16, y[blk].qs, 16);
      std::memcpy(ch + g * 128 + 64 + k * 16, y[blk].qs + 16, 16);
      const int64_t lane = 4 * k + g;
      const float d = h2f(y[blk].d);
      std::memcpy(ch + 512 + 4 * lane, &d, 4);
      if constexpr (std::is_same_v<A, block_q8_1>) {
        const float s = h2f(y[blk].s);
        std::memcpy(ch + 576 + 4 * lane, &s, 4);
      } else {
        const int32_t corr = -offset * block_sum(y[blk]);
        std::memcpy(ch + 576 + 4 * lane, &corr, 4);
      }
    }
  }
  return bytes;
}
inline size_t row16_q4_0_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return row16_nib_fill(a, cols, 8, out);
}
inline size_t row16_q5_0_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return row16_nib_fill(a, cols, 16, out);
}

inline size_t row16_q8_0_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return row16_nib_fill(a, cols, 128, out);
}
inline size_t row16_q8_1_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return row16_nib_fill<block_q8_1>(a, cols, 0, out);
}

// The bytes [0, n) of p (n <= 64) in a zeroed register; the matrix may end right after them.
inline __m512i load_first(const uint8_t* p, int64_t n) {
  return _mm512_maskz_loadu_epi8(
      _bzhi_u64(~0ull, static_cast<unsigned>(std::clamp<int64_t>(n, 0, 64))), p);
}

// load_first, and the register kept: GCC otherwise folded the full loads of the nibble formats'
// chunks into the vpermt2w that use them, loading some lines twice and out of order (Q4_0's
// stream: 9-10 loads a chunk, about half split across lines). From DRAM that cost (one thread,
// 896 columns: Q4_0 stream 14-17 -> 22-30 GB/s; docs/performance.md 2026-12-05 11:50); in L2 it
// did not (both ~50).
inline __m512i load_once(const uint8_t* p, int64_t n) {
  __m512i v = load_first(p, n);
  asm("" : "+v"(v));
  return v;
}

// Lane k of acc[g] holds block 4g + k's dot in 4 dwords: their sums, block 4g + k at 4k + g.
inline __m512i reduce4x4(const __m512i acc[4]) {
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[0], acc[1]),
                                      _mm512_unpackhi_epi32(acc[0], acc[1]));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2], acc[3]),
                                      _mm512_unpackhi_epi32(acc[2], acc[3]));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
}

// A format: unpack<Full>(p, rem, q, scales, mins) turns a chunk (rem valid blocks when !Full)
// into 8 operand vectors and its 16 fp16 scales (and, where has_min, mins) in lane order;
// dot(q, chunk activation, ng) gives the 16 block products in lane order, offset included.
// In a last chunk (!Full) both skip the groups of 4 blocks from row16_groups(rem) on: unpack
// leaves their operands unset and their scales (and mins) zero, dot leaves their lanes zero.
// The nibble formats' chunk unpack (Q4_0 / Q4_1, and with Five Q5_0 / Q5_1): blocks of BB
// bytes, each group of 4 read by two loads at 0 and L1 (masked past the rem valid blocks when
// !Full), nibbles gathered by qidx, scales by sidx and, where Min, the mins as the words after
// them. Q4: the scales of groups 0 / 1 and 2 / 3 come from the first registers in pairs; Q5: per
// group, with the 32 fifth bits at byte QH of each block as byte masks that add 16. Q4_0, the
// hot one, keeps its own copy of the Q4 path (through this helper it measured 3-10 % slower in
// L2, noisy).
template <int BB, int L1, bool Five, int QH, bool Min, bool Full>
[[gnu::always_inline]] inline void nib_unpack(const uint8_t* p, int64_t rem, const int16_t* qidx,
                                              const int16_t* sidx, __m512i q[8], __m512i& scales,
                                              __m512i& mins) {
  const __m512i ix = _mm512_load_si512(qidx), si = _mm512_load_si512(sidx);
  const __m512i mi = _mm512_add_epi16(si, _mm512_set1_epi16(1));
  const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
  __m512i first[4];
  scales = mins = _mm512_setzero_si512();
  // Five: block k's qh (bytes BB k + QH.., from the second register, loaded L1 bytes into the
  // group, where past the first's 64) to the first two words of lane k; the byte shuffles
  // spread its bytes 0, 1 (values 0..15) or 2, 3 (16..31) over the lane's 8-byte halves and
  // five_bit picks bit j % 8 for byte j.
  alignas(64) static constexpr auto five_idx = [] {
    std::array<int16_t, 32> t{};
    for (int k = 0; k < 4; ++k) {
      const int at = BB * k + QH;
      const int w = at + 4 <= 64 ? at / 2 : 32 + (at - L1) / 2;
      t[8 * k] = static_cast<int16_t>(w), t[8 * k + 1] = static_cast<int16_t>(w + 1);
    }
    return t;
  }();
  const __m512i five_lo =
      _mm512_broadcast_i32x4(_mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const __m512i five_hi =
      _mm512_broadcast_i32x4(_mm_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m512i five_bit = _mm512_set1_epi64(0x8040201008040201ll);
  // The chunk is read by consecutive loads (masked to its valid bytes) and each group's two
  // registers are valignd of neighbours: overlapping unaligned loads, two per group, streamed
  // markedly slower (Q4_0 / Q8_0, docs/performance.md 2026-12-03).
  constexpr int nv = (16 * BB + 63) / 64;
  __m512i v[nv];
  const int64_t valid = Full ? 16 * BB : rem * BB;  // zeros past the rem blocks of a last chunk
  for (int k = 0; k < nv; ++k) v[k] = load_once(p + 64 * k, valid - 64 * k);
  const auto at = [&]<int O>() {
    if constexpr (O % 64 == 0)
      return v[O / 64];
    else
      return _mm512_alignr_epi32(v[O / 64 + 1], v[O / 64], (O % 64) / 4);
  };
  const auto full_pair = [&]<int G>(__m512i& l0, __m512i& l1) {
    l0 = at.template operator()<4 * BB * G>();
    l1 = at.template operator()<4 * BB * G + L1>();
  };
  for (int g = 0; g < 4; ++g) {
    __m512i l0, l1;
    if (g == 0) full_pair.template operator()<0>(l0, l1);
    if (g == 1) full_pair.template operator()<1>(l0, l1);
    if (g == 2) full_pair.template operator()<2>(l0, l1);
    if (g == 3) full_pair.template operator()<3>(l0, l1);
    first[g] = l0;
    if (!Full && 4 * g >= rem) continue;  // past a last chunk's blocks (dot skips them)
    const __m512i raw = _mm512_permutex2var_epi16(l0, ix, l1);
    q[g] = _mm512_and_si512(raw, low4);
    q[4 + g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    if constexpr (Five) {
      // Block k's 32 fifth bits to the first dword of lane k, each byte's bit picked by a
      // vpshufb of its bit's byte and a vptestmb (blocks past rem were loaded as zeros).
      const __m512i qh = _mm512_permutex2var_epi16(l0, _mm512_load_si512(five_idx.data()), l1);
      q[g] = _mm512_mask_add_epi8(
          q[g], _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, five_lo), five_bit), q[g], bit4);
      q[4 + g] = _mm512_mask_add_epi8(
          q[4 + g], _mm512_test_epi8_mask(_mm512_shuffle_epi8(qh, five_hi), five_bit), q[4 + g],
          bit4);
      const __mmask32 lanes = 0x1111u << g;
      scales = _mm512_mask_blend_epi16(lanes, scales, _mm512_permutex2var_epi16(l0, si, l1));
      if constexpr (Min)
        mins = _mm512_mask_blend_epi16(lanes, mins, _mm512_permutex2var_epi16(l0, mi, l1));
    }
  }
  if constexpr (!Five) {
    scales = _mm512_mask_blend_epi16(0xCCCC, _mm512_permutex2var_epi16(first[0], si, first[1]),
                                     _mm512_permutex2var_epi16(first[2], si, first[3]));
    if constexpr (Min)
      mins = _mm512_mask_blend_epi16(0xCCCC, _mm512_permutex2var_epi16(first[0], mi, first[1]),
                                     _mm512_permutex2var_epi16(first[2], mi, first[3]));
  }
}

struct row16_q4_0_fmt {
  static constexpr int64_t chunk_bytes = 16 * sizeof(block_q4_0);
  static constexpr bool stream_short_rows = true;  // row16_stream
  // A chunk from five consecutive loads v0..v4 (masked to its valid bytes): group g's words
  // 36g.. lie in (v_g, v_{g+1}) from word 4g on, so block k's nibble words (9k + 1 .. 9k + 8 of
  // the group) are at 4g + 9k + 1.. there; the scales (word 9k, to lane 4k + g) of groups 0 / 1
  // come from (v0, v1), of group 2 from (v2, v3), of group 3 from (v3, v4).
  alignas(64) static constexpr auto qidx5 = [] {
    std::array<std::array<int16_t, 32>, 4> t{};
    for (int g = 0; g < 4; ++g)
      for (int i = 0; i < 32; ++i) t[g][i] = static_cast<int16_t>(4 * g + 9 * (i / 8) + 1 + i % 8);
    return t;
  }();
  alignas(64) static constexpr auto sidx5 = [] {
    std::array<std::array<int16_t, 32>, 3> t{};
    for (int k = 0; k < 4; ++k) {
      t[0][4 * k] = static_cast<int16_t>(9 * k), t[0][4 * k + 1] = static_cast<int16_t>(36 + 9 * k);
      t[1][4 * k + 2] = static_cast<int16_t>(8 + 9 * k);
      t[2][4 * k + 3] = static_cast<int16_t>(12 + 9 * k);
    }
    return t;
  }();
  template <bool Full>
  [[gnu::always_inline]] static void unpack(const uint8_t* p, int64_t rem, __m512i q[8],
                                            __m512i& scales, __m512i& /*mins*/) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const int64_t valid = Full ? 288 : rem * 18;  // zeros past the rem blocks of a last chunk
    __m512i v[5];
    for (int k = 0; k < 5; ++k) v[k] = load_once(p + 64 * k, valid - 64 * k);
    for (int g = 0; g < 4; ++g) {
      if (!Full && 4 * g >= rem) break;  // past a last chunk's blocks (dot skips them)
      const __m512i raw =
          _mm512_permutex2var_epi16(v[g], _mm512_load_si512(qidx5[g].data()), v[g + 1]);
      q[g] = _mm512_and_si512(raw, low4);
      q[4 + g] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    }
    const __m512i a = _mm512_permutex2var_epi16(v[0], _mm512_load_si512(sidx5[0].data()), v[1]);
    const __m512i b = _mm512_permutex2var_epi16(v[2], _mm512_load_si512(sidx5[1].data()), v[3]);
    const __m512i c = _mm512_permutex2var_epi16(v[3], _mm512_load_si512(sidx5[2].data()), v[4]);
    scales = _mm512_mask_blend_epi16(0x8888, _mm512_mask_blend_epi16(0x4444, a, b), c);
  }
  static constexpr bool has_min = false;
  // The 16 block dots without the offset term; groups from ng on (a last chunk's empty ones, see
  // row16_groups) are zero without being computed.
  [[gnu::always_inline]] static __m512i raw_dot(const __m512i q[8], const uint8_t* ach,
                                                int ng = 4) {
    __m512i acc[4];
    for (int g = 0; g < 4; ++g) {
      if (g >= ng) {
        acc[g] = _mm512_setzero_si512();
        continue;
      }
      acc[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[g], _mm512_load_si512(ach + 128 * g));
      acc[g] = _mm512_dpbusd_epi32(acc[g], q[4 + g], _mm512_load_si512(ach + 128 * g + 64));
    }
    return reduce4x4(acc);
  }
  [[gnu::always_inline]] static __m512i dot(const __m512i q[8], const uint8_t* ach, int ng = 4) {
    return _mm512_add_epi32(raw_dot(q, ach, ng), _mm512_load_si512(ach + 576));
  }
};

struct row16_q4_1_fmt {
  static constexpr int64_t chunk_bytes = 16 * sizeof(block_q4_1);
  static constexpr bool stream_short_rows = true;  // row16_stream
  static constexpr bool has_min = true;
  // Nibble words of block k of a group: 10k + 2 .. 10k + 9; block 3's from the second register
  // (loaded 16 bytes further: words 24..31 there).
  alignas(64) static constexpr int16_t qidx[32] = {2,  3,  4,  5,  6,  7,  8,  9,  12, 13, 14,
                                                   15, 16, 17, 18, 19, 22, 23, 24, 25, 26, 27,
                                                   28, 29, 56, 57, 58, 59, 60, 61, 62, 63};
  // Scale word of block 4g + k (word 10k of group g's first register) at 4k + g, for g = 0 / 1
  // from the first / second register (groups 2, 3 reuse it); the min is the next word.
  alignas(64) static constexpr int16_t sidx[32] = {0,  32, 0,  32, 10, 42, 10, 42, 20, 52, 20,
                                                   52, 30, 62, 30, 62, 0,  0,  0,  0,  0,  0,
                                                   0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  template <bool Full>
  [[gnu::always_inline]] static void unpack(const uint8_t* p, int64_t rem, __m512i q[8],
                                            __m512i& scales, __m512i& mins) {
    nib_unpack<20, 16, false, 0, true, Full>(p, rem, qidx, sidx, q, scales, mins);
  }
  [[gnu::always_inline]] static __m512i dot(const __m512i q[8], const uint8_t* ach, int ng = 4) {
    return row16_q4_0_fmt::raw_dot(q, ach, ng);
  }
};

struct row16_q5_0_fmt {
  static constexpr int64_t chunk_bytes = 16 * sizeof(block_q5_0);
  static constexpr bool stream_short_rows = true;  // row16_stream
  // Nibble words of block k: 11k + 3 .. 11k + 10 (second register: words 12..43).
  alignas(64) static constexpr int16_t qidx[32] = {3,  4,  5,  6,  7,  8,  9,  10, 14, 15, 16,
                                                   17, 18, 19, 20, 21, 25, 26, 27, 28, 29, 30,
                                                   31, 52, 56, 57, 58, 59, 60, 61, 62, 63};
  // Scale word of block k (word 11k; block 3's is word 21 of the second register) at 4k + g.
  alignas(64) static constexpr int16_t sidx[32] = {0,  0,  0,  0,  11, 11, 11, 11, 22, 22, 22,
                                                   22, 53, 53, 53, 53, 0,  0,  0,  0,  0,  0,
                                                   0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  template <bool Full>
  [[gnu::always_inline]] static void unpack(const uint8_t* p, int64_t rem, __m512i q[8],
                                            __m512i& scales, __m512i& mins) {
    nib_unpack<22, 24, true, 2, false, Full>(p, rem, qidx, sidx, q, scales, mins);
  }
  static constexpr bool has_min = false;
  [[gnu::always_inline]] static __m512i dot(const __m512i q[8], const uint8_t* ach, int ng = 4) {
    return row16_q4_0_fmt::dot(q, ach, ng);
  }
};

struct row16_q5_1_fmt {
  static constexpr int64_t chunk_bytes = 16 * sizeof(block_q5_1);
  static constexpr bool stream_short_rows = true;  // row16_stream
  static constexpr bool has_min = true;
  // Nibble words of block k: 12k + 4 .. 12k + 11; blocks 2 and 3 from the second register
  // (loaded 32 bytes further: word w of the group is its word w - 16).
  alignas(64) static constexpr int16_t qidx[32] = {4,  5,  6,  7,  8,  9,  10, 11, 16, 17, 18,
                                                   19, 20, 21, 22, 23, 44, 45, 46, 47, 48, 49,
                                                   50, 51, 56, 57, 58, 59, 60, 61, 62, 63};
  // Scale word of block k (word 12k; block 3's is word 20 of the second register) at 4k + g; the
  // min is the next word.
  alignas(64) static constexpr int16_t sidx[32] = {0,  0,  0,  0,  12, 12, 12, 12, 24, 24, 24,
                                                   24, 52, 52, 52, 52, 0,  0,  0,  0,  0,  0,
                                                   0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  template <bool Full>
  [[gnu::always_inline]] static void unpack(const uint8_t* p, int64_t rem, __m512i q[8],
                                            __m512i& scales, __m512i& mins) {
    nib_unpack<24, 32, true, 4, true, Full>(p, rem, qidx, sidx, q, scales, mins);
  }
  [[gnu::always_inline]] static __m512i dot(const __m512i q[8], const uint8_t* ach, int ng = 4) {
    return row16_q4_0_fmt::raw_dot(q, ach, ng);
  }
};

struct row16_q8_0_fmt {
  static constexpr int64_t chunk_bytes = 16 * sizeof(block_q8_0);
  // Rows of 17..31 blocks row by row, not as one stream: from DRAM the stream ran slower
  // (896 columns, one thread 20-23 against 32-37 GB/s; qwen2.5-0.5b tg128 84-92 against 95-112
  // tok/s, docs/performance.md 2026-12-04 14:50).
  static constexpr bool stream_short_rows = false;
  // A group of 4 blocks is 136 bytes. Values 0..15 of block k (bytes 34k + 2 ..) to lane k from
  // registers at bytes 0 and 64; values 16..31 (bytes 34k + 18 ..) from registers at 8 and 72.
  alignas(64) static constexpr int16_t lo_idx[32] = {1,  2,  3,  4,  5,  6,  7,  8,  18, 19, 20,
                                                     21, 22, 23, 24, 25, 35, 36, 37, 38, 39, 40,
                                                     41, 42, 52, 53, 54, 55, 56, 57, 58, 59};
  alignas(64) static constexpr int16_t hi_idx[32] = {5,  6,  7,  8,  9,  10, 11, 12, 22, 23, 24,
                                                     25, 26, 27, 28, 29, 39, 40, 41, 42, 43, 44,
                                                     45, 46, 56, 57, 58, 59, 60, 61, 62, 63};
  // Scale word of block k (bytes 34k: words 0 and 17 of the first register, 2 and 19 of the
  // second) at 4k + g.
  alignas(64) static constexpr int16_t sidx[32] = {0,  0,  0,  0,  17, 17, 17, 17, 34, 34, 34,
                                                   34, 51, 51, 51, 51, 0,  0,  0,  0,  0,  0,
                                                   0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  template <bool Full>
  [[gnu::always_inline]] static void unpack(const uint8_t* p, int64_t rem, __m512i q[8],
                                            __m512i& scales, __m512i& /*mins*/) {
    const __m512i li = _mm512_load_si512(lo_idx), hi = _mm512_load_si512(hi_idx);
    const __m512i si = _mm512_load_si512(sidx);
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    scales = _mm512_setzero_si512();
    // Nine consecutive loads (masked to the chunk's valid bytes) instead of sixteen overlapping
    // ones; group g's four registers (at 136g, + 64, + 8, + 72 bytes) are valignd of neighbours,
    // group g starting 2g dwords into V[2g].
    const int64_t valid = Full ? 544 : rem * 34;
    __m512i v[9];
    for (int k = 0; k < 9; ++k) v[k] = load_first(p + 64 * k, valid - 64 * k);
    const auto group = [&]<int G>() {
      const __m512i a = G == 0 ? v[0] : _mm512_alignr_epi32(v[2 * G + 1], v[2 * G], 2 * G);
      const __m512i b = G == 0 ? v[1] : _mm512_alignr_epi32(v[2 * G + 2], v[2 * G + 1], 2 * G);
      const __m512i c = _mm512_alignr_epi32(v[2 * G + 1], v[2 * G], 2 * G + 2);
      const __m512i d = _mm512_alignr_epi32(v[2 * G + 2], v[2 * G + 1], 2 * G + 2);
      q[G] = _mm512_xor_si512(_mm512_permutex2var_epi16(a, li, b), flip);
      q[4 + G] = _mm512_xor_si512(_mm512_permutex2var_epi16(c, hi, d), flip);
      scales = _mm512_mask_blend_epi16(0x1111u << G, scales, _mm512_permutex2var_epi16(a, si, b));
    };
    group.template operator()<0>();
    // Past a last chunk's blocks: no operands (dot skips them), scales left zero.
    if (Full || rem > 4) group.template operator()<1>();
    if (Full || rem > 8) group.template operator()<2>();
    if (Full || rem > 12) group.template operator()<3>();
  }
  static constexpr bool has_min = false;
  [[gnu::always_inline]] static __m512i dot(const __m512i q[8], const uint8_t* ach, int ng = 4) {
    return row16_q4_0_fmt::dot(q, ach, ng);
  }
};

// The groups of 4 blocks a last chunk of `rem` blocks fills. The unpack and dot of the groups past
// it are skipped (their lanes stay zero, scales included): a row of 36 blocks (1152 columns,
// Gemma 3 1B) paid three chunks' work for 2.25 chunks of weights, one of 20 (640, 270M) two for
// 1.25.
inline int row16_groups(int64_t rem) {
  return static_cast<int>((rem + 3) / 4);
}

// R weight rows x C prepared activation rows (at act, act_stride bytes apart): each row's chunk
// is unpacked once and used for the C activations. The rows are read as R streams, each step's
// lines requested 8 KB ahead into L2 and 1 KB ahead into L1 (prefetch_lines<false>), as are the
// stream tile's.
// 8 KB rather than 2 (2026-12-06, tg128 alternating, faster in every round: qwen3-0.6b Q8_0
// 78-82.5 -> 82.5-83.4 tok/s, Q4_0 127-139 -> 141-145, llama-3.2-1b Q4_0 72-75 -> 72.7-76.7; one
// thread from DRAM, 1024 columns, Q8_0 29-30 -> 31.5-33.7 GB/s). No further request into L2:
// with the lead at 8 KB it only cost (decode's tokens alternated in one process, medians of 190
// tokens a run: qwen3-0.6b Q4_0 -0 to -6 %, Q8_0 -4 to -7 %, llama-3.2-1b Q4_0 -2 to -4 %; it
// had paid, +11-25 %, while the lead was 2 KB). 12 or 16 KB: Q8_0 2-3 % slower, Q4_0 even.
// Without any request the kernel ran at less than half the rate: the hardware prefetchers do
// little for these streams on the dev VM (docs/performance.md 2026-12-06 22:38).
template <class F, int R, int C>
void row16_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  const int64_t nb = g.cols / 32, full = nb / 16, rem = nb % 16;
  constexpr int lines = (F::chunk_bytes + 63) / 64;  // covers each step's bytes
  constexpr size_t ahead = 8192;
  __m512 facc[R][C];
  if constexpr (C > 1)  // decode's rows each start their own (below)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
  const auto step = [&]<bool Full>(int r, int64_t i) {
    {
      const uint8_t* p = g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes + i * F::chunk_bytes;
      // The tail's bytes too: with short rows (qwen2.5-0.5b: 28 blocks) it is a large part of
      // every row, and the rows ahead are the bytes prefetched.
      prefetch_lines<false>(
          p, Full ? lines : static_cast<int>((rem * (F::chunk_bytes / 16) + 63) / 64), ahead);
      __m512i q[8], sw, sm;
      F::template unpack<Full>(p, rem, q, sw, sm);
      const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(sw));
      __m512 mw = _mm512_setzero_ps();
      if constexpr (F::has_min) mw = _mm512_cvtph_ps(_mm512_castsi512_si256(sm));
      for (int c = 0; c < C; ++c) {
        const uint8_t* ach = act + c * act_stride + static_cast<size_t>(i) * row16_chunk_act;
        const __m512 d =
            _mm512_mul_ps(dw, _mm512_load_ps(reinterpret_cast<const float*>(ach + 512)));
        facc[r][c] = _mm512_fmadd_ps(
            _mm512_cvtepi32_ps(F::dot(q, ach, Full ? 4 : row16_groups(rem))), d, facc[r][c]);
        if constexpr (F::has_min)  // + m_w x s_a per block
          facc[r][c] = _mm512_fmadd_ps(
              mw, _mm512_load_ps(reinterpret_cast<const float*>(ach + 576)), facc[r][c]);
      }
    }
  };
  // Decode: row by row, one sequential stream. Unrolled, so that the R accumulators, the row
  // pointers and the constants stay in registers (GCC otherwise kept facc in memory and reloaded
  // the row stride every chunk): llama-3.2-1b Q4_0 tg64 54 -> 64. Rows of whole chunks get a path
  // without the partial step (one thread in L2, 1024 columns: Q4_0 42-43 -> 49-50 GB/s).
  // Each row's accumulator is zeroed where its row starts: zeroed all at once up front, GCC
  // cleared the array in memory with a `rep stos` every tile (3.4 % of a Q4_0 profile in L2;
  // without it, one thread in L2, 1024 columns: Q4_0 46.8 -> 53.2 GB/s, Q8_0 67.8 -> 74.1,
  // docs/performance.md 2026-12-07).
  if constexpr (C == 1) {
    if (rem == 0) {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        facc[r][0] = _mm512_setzero_ps();
        for (int64_t i = 0; i < full; ++i) step.template operator()<true>(r, i);
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        facc[r][0] = _mm512_setzero_ps();
        for (int64_t i = 0; i < full; ++i) step.template operator()<true>(r, i);
        step.template operator()<false>(r, full);
      }
    }
  } else {
    for (int64_t i = 0; i < full; ++i)
      for (int r = 0; r < R; ++r) step.template operator()<true>(r, i);
    if (rem != 0)
      for (int r = 0; r < R; ++r) step.template operator()<false>(r, full);
  }
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// Rows whose chunks straddle the row ends (row16_period_chunks): the blocks of `rows` contiguous
// rows from w as one stream of full chunks, each chunk unpacked once for C prepared activation
// rows (act, stride bytes apart; chunk i of the stream reads activation chunk i mod the period),
// its 16 block products added to the row they belong to and, in the chunk where a row ends, split
// by a lane mask between that row and the next. Finished rows are summed four at a time, into
// y[c * ldy + row]. Every (row, activation) pair sees the same operations in the same order for
// any C, so decode and batched decode give the same floats.
template <class F, int C>
void row16_stream_tile(const gemm_args& g, const uint8_t* w, int64_t rows, const uint8_t* act,
                       size_t stride, float* y) {
  const int64_t nb = g.cols / 32;
  constexpr int lines = (F::chunk_bytes + 63) / 64;
  // 8 KB ahead, as the rows tile (2 KB and a far request before: qwen2.5-0.5b Q4_0 decode 6-12 %
  // faster; 12 or 16 KB 1-3 % slower than 8).
  constexpr size_t ahead = 8192;
  // below[t]: the lanes of a chunk's blocks 0..t-1 (block j is lane 4 (j % 4) + j / 4).
  static constexpr auto below = [] {
    std::array<__mmask16, 17> t{};
    for (int n = 1; n <= 16; ++n)
      t[n] = static_cast<__mmask16>(t[n - 1] | (1u << (4 * ((n - 1) % 4) + (n - 1) / 4)));
    return t;
  }();
  const uint8_t* p = w;
  const uint8_t* a = act;
  const uint8_t* const a_end = act + row16_period_chunks(nb) * row16_chunk_act;
  int64_t blocks = rows * nb, left = nb, row = 0;  // left: the current row's blocks to come
  __m512 acc[C], done[C][4];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  int nd = 0;
  const auto step = [&]<bool Full>() {
    prefetch_lines<false>(
        p, Full ? lines : static_cast<int>((blocks * (F::chunk_bytes / 16) + 63) / 64), ahead);
    __m512i q[8], sw, sm;
    F::template unpack<Full>(p, blocks, q, sw, sm);
    const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(sw));
    __m512 mw = _mm512_setzero_ps();
    if constexpr (F::has_min) mw = _mm512_cvtph_ps(_mm512_castsi512_si256(sm));
    const bool ends = left <= 16;  // the row ends in this chunk; the next starts unless left == 16
    const __mmask16 m = ends ? below[left] : __mmask16{0xFFFF};
    for (int c = 0; c < C; ++c) {
      const uint8_t* ach = a + c * stride;
      const __m512 x = _mm512_cvtepi32_ps(F::dot(q, ach, Full ? 4 : row16_groups(blocks)));
      const __m512 d = _mm512_mul_ps(dw, _mm512_load_ps(reinterpret_cast<const float*>(ach + 512)));
      __m512 sa = _mm512_setzero_ps();
      if constexpr (F::has_min) sa = _mm512_load_ps(reinterpret_cast<const float*>(ach + 576));
      if (!ends) {
        acc[c] = _mm512_fmadd_ps(x, d, acc[c]);
        if constexpr (F::has_min) acc[c] = _mm512_fmadd_ps(mw, sa, acc[c]);  // + m_w x s_a
      } else {
        acc[c] = _mm512_mask3_fmadd_ps(x, d, acc[c], m);
        if constexpr (F::has_min) acc[c] = _mm512_mask3_fmadd_ps(mw, sa, acc[c], m);
        done[c][nd] = acc[c];
        const auto next = static_cast<__mmask16>(~m);
        acc[c] = _mm512_maskz_mul_ps(next, x, d);
        if constexpr (F::has_min) acc[c] = _mm512_mask3_fmadd_ps(mw, sa, acc[c], next);
      }
    }
    if (ends) {
      if (++nd == 4) {
        for (int c = 0; c < C; ++c)
          _mm_storeu_ps(y + c * g.ldy + row - 3,
                        hsum4_ps(done[c][0], done[c][1], done[c][2], done[c][3]));
        nd = 0;
      }
      ++row;
      left += nb;
    }
    left -= 16;
    p += F::chunk_bytes;
    a += row16_chunk_act;
    if (a == a_end) a = act;
    blocks -= 16;
  };
  while (blocks >= 16) step.template operator()<true>();
  if (blocks > 0) step.template operator()<false>();  // ends the last row (left == blocks)
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < nd; ++i) y[c * g.ldy + row - nd + i] = _mm512_reduce_add_ps(done[c][i]);
}

// The stream policy for stream_rows (matmul_x86-inl.h): contiguous rows of 17..31 blocks, for
// the formats with F::stream_short_rows (Q4_0 / Q4_1 even with it from DRAM, Q5_0 faster, Q8_0
// slower: qwen2.5-0.5b decode, docs/performance.md 2026-12-04 14:50).
template <class F>
struct row16_stream {
  template <int C>
  static constexpr auto tile = &row16_stream_tile<F, C>;
  static bool applies(const gemm_args& g) {
    const int64_t nb = g.cols / 32;
    return F::stream_short_rows && row16_period_chunks(nb) != 0 &&
           g.w_row_bytes * 16 == static_cast<size_t>(nb * F::chunk_bytes);
  }
  static int64_t period_rows(const gemm_args& g) { return 16 / std::gcd<int64_t>(g.cols / 32, 16); }
};

// Drivers shared with matmul_rowk-inl.h. T<R, C>::run(g, r0, act, act_stride, y0) is a tile of
// R weight rows from r0 x C activation rows at act (act_stride bytes apart), written to y0.
//
// Decode: the rows in order against each activation row, in the tile's layout: with Prepared,
// gemm_args::prep (made once per call by matmul_on from the backend's gemm_prep), else the
// converted rows themselves. Rows under EightBelow bytes (2 KB) go eight to a tile, still read one
// after another, so the constants, the call and the horizontal sums are paid once per tile: tg64
// qwen2.5-0.5b Q8_0 72 -> 80 with four, qwen3-0.6b Q4_0 (576-byte rows) 112 -> 130 with eight, and
// with eight for 1-2 KB rows too qwen3-0.6b Q8_0 70 -> 77, llama-3.2-1b Q4_0 59 -> 64; with rows
// of 2 KB and more the single-row tile was 2-4 % faster than four (llama-3.2-1b Q8_0). Q8_0 takes
// eight for rows under 4 KB (since 2026-12-05): GCC calls its row16 step out of line in the
// single-row tile, a call per chunk (forcing it inline made decode slower end to end), and
// llama-3.2-1b Q8_0 (2176-byte rows) went tg128 26-36 -> 40.5-44 tok/s (8 of 10 rounds; even in
// 2 while memory-bound); one thread, 3072 columns from DRAM 18.8-20.5 -> 27-27.6 GB/s. The same for
// Q6_K's 2520-byte rows cost qwen3-0.6b Q4_K_M 1-10 % (docs/performance.md, 2026-12-05 14:00).
template <template <int, int> class T, bool Prepared, size_t EightBelow = 2048>
void rows_matvec(const gemm_args& g) {
  for (int64_t c = 0; c < g.n; ++c) {
    const uint8_t* act = Prepared ? g.prep + static_cast<size_t>(c) * g.prep_row_bytes
                                  : g.a + static_cast<size_t>(c) * g.a_row_bytes;
    int64_t r = 0;
    if (g.w_row_bytes < EightBelow) {
      for (; r + 8 <= g.rows; r += 8) T<8, 1>::run(g, r, act, 0, g.y + c * g.ldy);
      for (; r + 4 <= g.rows; r += 4) T<4, 1>::run(g, r, act, 0, g.y + c * g.ldy);
    }
    for (; r < g.rows; ++r) T<1, 1>::run(g, r, act, 0, g.y + c * g.ldy);
  }
}

// Prefill and batched decode: 4 x 4 tiles, then 4 x 2 and 4 x 1 for the activation tail, then
// the row tail. Four rows a tile over two (gemm64, n 8 / 64, GOPS): Q4_1 234 -> 292 / 215 -> 330,
// Q5_K 219 -> 246 / 230 -> 290, Q3_K 256 -> 271 / 295 -> 333; Q4_0 at n 4 335 -> 417.
template <template <int, int> class T>
void rows_gemm(const gemm_args& g, const uint8_t* act, size_t stride) {
  constexpr int R = 4, C = 4;
  int64_t r = 0;
  for (; r + R <= g.rows; r += R) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C) T<R, C>::run(g, r, act + c * stride, stride, g.y + c * g.ldy);
    for (; c + 2 <= g.n; c += 2) T<R, 2>::run(g, r, act + c * stride, stride, g.y + c * g.ldy);
    for (; c < g.n; ++c) T<R, 1>::run(g, r, act + c * stride, stride, g.y + c * g.ldy);
  }
  for (; r < g.rows; ++r) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C) T<1, C>::run(g, r, act + c * stride, stride, g.y + c * g.ldy);
    for (; c < g.n; ++c) T<1, 1>::run(g, r, act + c * stride, stride, g.y + c * g.ldy);
  }
}

template <class F>
struct row16_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, const uint8_t* a, size_t s, float* y) {
      row16_tile<F, R, C>(g, r, a, s, y);
    }
  };
};
template <class F>
void row16_matvec(const gemm_args& g) {
  if (!stream_rows<row16_stream<F>>(g))
    rows_matvec<row16_t<F>::template t, true, std::is_same_v<F, row16_q8_0_fmt> ? 4096 : 2048>(g);
}
// The activations prepared once per call (gemm_args::prep).
template <class F>
void row16_gemm(const gemm_args& g) {
  if (!stream_rows<row16_stream<F>>(g))
    rows_gemm<row16_t<F>::template t>(g, g.prep, g.prep_row_bytes);
}
