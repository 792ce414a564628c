// AVX-512 decode kernel for Q4_0 in the file's own (rows) layout, included by matmul_x86-inl.h
// inside its anonymous namespace when UMA_VNNI is set.
//
// One row at a time, 16 consecutive blocks (288 contiguous bytes) per step, one block per dword
// lane where it matters: the per-block int32 dots are reduced to one vector of 16 lanes, so the
// fp32 work (convert, scale, fma) is one instruction per 16 blocks instead of one per 2 blocks as
// in nib_tile512. Per group of 4 blocks (72 bytes): two overlapping loads and one vpermt2w put
// each block's 16 nibble bytes in its own 128-bit lane; and/shift split the nibbles; two vpdpbusd
// against the activation laid out to match (lane k: block k's values 0..15, then 16..31). The 4
// groups' lanes are summed by in-lane unpacks into lane order 4k + g (block 4g + k), and the 16
// fp16 row scales are gathered from the same loads in that order, as are the prepared activation
// scales and offsets. Every block product is the exact int32 of the reference (Q4_0's offset of 8
// enters as -8 x the activation block's sum), scaled by d_w * d_a in fp32 (docs/performance.md).
#pragma once

// The activation rows for row16_q4_0, prepared once per task: per 16-block chunk, 512 bytes of
// values (4 groups x [lo lanes, hi lanes]), then per block in lane order its fp32 scale and its
// offset term; padded with zero blocks to whole chunks.
struct row16_act {
  const int8_t* qs = nullptr;
  const float* d = nullptr;
  const int32_t* corr = nullptr;
};

inline row16_act row16_prepare(const block_q8_0* y, int64_t nb, int offset) {
  const int64_t chunks = (nb + 15) / 16;
  const size_t vals = static_cast<size_t>(chunks) * 512, lanes = static_cast<size_t>(chunks) * 16;
  thread_local std::vector<uint8_t> b;
  b.assign(vals + lanes * 8 + 64, 0);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~63ull);
  auto* qs = reinterpret_cast<int8_t*>(base);
  auto* d = reinterpret_cast<float*>(base + vals);
  auto* corr = reinterpret_cast<int32_t*>(base + vals + lanes * 4);
  for (int64_t blk = 0; blk < nb; ++blk) {
    const int64_t c = blk / 16, g = (blk % 16) / 4, k = blk % 4;
    int8_t* dst = qs + c * 512 + g * 128 + k * 16;
    std::memcpy(dst, y[blk].qs, 16);
    std::memcpy(dst + 64, y[blk].qs + 16, 16);
    int sum = 0;
    for (int i = 0; i < 32; ++i) sum += y[blk].qs[i];
    const int64_t lane = c * 16 + 4 * k + g;
    d[lane] = h2f(y[blk].d);
    corr[lane] = -offset * sum;
  }
  return {qs, d, corr};
}

// Word indices (over two registers) placing the 8 nibble words of block k of a 72-byte group in
// lane k: words 9k + 1 .. 9k + 8 of the group, where the first register holds words 0..31 and the
// second (loaded 8 bytes further) words 4..35.
alignas(64) inline constexpr int16_t row16_qidx[32] = {1,  2,  3,  4,  5,  6,  7,  8,  10, 11, 12,
                                                       13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24,
                                                       25, 26, 28, 29, 30, 31, 60, 61, 62, 63};
// The scale word of block 4g + k (word 9k of group g's first register) at position 4k + g, for
// g = 0 / 1 from the first / second register (g = 2 / 3 reuse it on the other two groups).
alignas(64) inline constexpr int16_t row16_sidx[32] = {0,  32, 0,  32, 9,  41, 9, 41, 18, 50, 18,
                                                       50, 27, 59, 27, 59, 0,  0, 0,  0,  0,  0,
                                                       0,  0,  0,  0,  0,  0,  0, 0,  0,  0};

// facc += the 16 (or, with Full false, the first `rem`) blocks at p against chunk `a`.
template <bool Full>
inline void row16_q4_0_chunk(const uint8_t* p, int64_t rem, const int8_t* aq, const float* ad,
                             const int32_t* ac, __m512& facc) {
  const __m512i qidx = _mm512_load_si512(row16_qidx), low4 = _mm512_set1_epi8(0x0F);
  __m512i first[4], acc[4];
  for (int g = 0; g < 4; ++g) {
    __m512i l0, l1;
    if constexpr (Full) {
      l0 = _mm512_loadu_si512(p + 72 * g);
      l1 = _mm512_loadu_si512(p + 72 * g + 8);
    } else {  // only the bytes of the rem blocks (the matrix may end right after them)
      const int64_t n0 = std::clamp<int64_t>(rem * 18 - 72 * g, 0, 64);
      const int64_t n1 = std::clamp<int64_t>(rem * 18 - 72 * g - 8, 0, 64);
      l0 = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(n0)), p + 72 * g);
      l1 = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(n1)), p + 72 * g + 8);
    }
    first[g] = l0;
    const __m512i raw = _mm512_permutex2var_epi16(l0, qidx, l1);
    const __m512i lo = _mm512_and_si512(raw, low4);
    const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    acc[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_load_si512(aq + 128 * g));
    acc[g] = _mm512_dpbusd_epi32(acc[g], hi, _mm512_load_si512(aq + 128 * g + 64));
  }
  // Lane k of acc[g] holds block 4g + k's dot in 4 dwords: sum them into dword g of lane k.
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[0], acc[1]),
                                      _mm512_unpackhi_epi32(acc[0], acc[1]));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2], acc[3]),
                                      _mm512_unpackhi_epi32(acc[2], acc[3]));
  __m512i dot = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
  dot = _mm512_add_epi32(dot, _mm512_load_si512(ac));
  const __m512i sidx = _mm512_load_si512(row16_sidx);
  const __m512i s01 = _mm512_permutex2var_epi16(first[0], sidx, first[1]);
  const __m512i s23 = _mm512_permutex2var_epi16(first[2], sidx, first[3]);
  const __m512i sc = _mm512_mask_blend_epi16(0xCCCC, s01, s23);
  const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(sc)), _mm512_load_ps(ad));
  facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, facc);
}

inline void row16_q4_0_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 32, full = nb / 16, rem = nb % 16;
  constexpr int64_t chunk_bytes = 16 * sizeof(block_q4_0);
  // Rows are read as one stream; its lines ~2 KB ahead (the hardware prefetcher does the rest).
  constexpr int64_t ahead = 2048;
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    const row16_act a = row16_prepare(y, nb, 8);
    for (int64_t r = 0; r < g.rows; ++r) {
      const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
      __m512 facc = _mm512_setzero_ps();
      int64_t i = 0;
      for (; i < full; ++i) {
        const uint8_t* p = row + i * chunk_bytes;
        for (int l = 0; l < 5; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(p + ahead + 64 * l), _MM_HINT_T0);
        row16_q4_0_chunk<true>(p, 16, a.qs + i * 512, a.d + i * 16, a.corr + i * 16, facc);
      }
      if (rem != 0)
        row16_q4_0_chunk<false>(row + i * chunk_bytes, rem, a.qs + i * 512, a.d + i * 16,
                                a.corr + i * 16, facc);
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q4_K decode in the rows layout, one super-block (144 bytes) per step with no scalar work: the
// 12 packed scale bytes decode in one xmm register (ggml's kmask steps as vector ops), each zmm of
// nibbles covers two sub-blocks (low nibbles of qs 0..63 are sub-blocks 0 and 2, high ones 1 and
// 3), vpdpbusd gives exact int32 partial dots (< 2^15) and vpdpwssd against (scale, 0) dwords
// applies the 6-bit scales and sums them, and the min term is one more vpdpwssd of the 8 mins
// against the activation's prepared sub-block sums. d and dmin convert together.

// Q8_K activation per super-block, prepared once per task: the 256 values in the order of the
// four nibble vectors, then 16 dwords (zero, then the 8 sub-block sums), the scale, padding.
struct rowk4_act_block {
  int8_t qs[256];
  int32_t sums[16];
  float d;
  float pad[15];
};
static_assert(sizeof(rowk4_act_block) % 64 == 0);

inline const rowk4_act_block* rowk4_prepare(const block_q8_k* y, int64_t nb) {
  thread_local std::vector<rowk4_act_block> buf;
  if (buf.size() < static_cast<size_t>(nb) + 1) buf.resize(static_cast<size_t>(nb) + 1);
  auto* out = reinterpret_cast<rowk4_act_block*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) &
                                                 ~uintptr_t{63});
  // Nibble vector v (0..3) half h holds sub-block 4 (v / 2) + 2h + v % 2.
  for (int64_t b = 0; b < nb; ++b) {
    for (int v = 0; v < 4; ++v)
      for (int h = 0; h < 2; ++h)
        std::memcpy(out[b].qs + 64 * v + 32 * h, y[b].qs + 32 * (4 * (v / 2) + 2 * h + v % 2), 32);
    for (int s = 0; s < 8; ++s) {
      out[b].sums[s] = 0;
      out[b].sums[8 + s] = y[b].bsums[2 * s] + y[b].bsums[2 * s + 1];
    }
    out[b].d = y[b].d;
  }
  return out;
}

// Bytes 0..7: the 8 six-bit scales, 8..15: the 8 mins (k4_scales without leaving the register).
inline __m128i rowk4_scales(const uint8_t* packed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));  // u0 u1 u2 (+4)
  const __m128i m1 = _mm_set1_epi8(0x3f), m2 = _mm_set1_epi8(0x0f), m3 = _mm_set1_epi8(0x03);
  const __m128i low = _mm_and_si128(v, m1);                     // scales 0-3, mins 0-3
  const __m128i top = _mm_and_si128(_mm_srli_epi32(v, 6), m3);  // their bits 6-7
  const __m128i u2 = _mm_shuffle_epi32(v, 0xaa);                // u2 in every dword
  const __m128i nib = _mm_and_si128(_mm_srlv_epi32(u2, _mm_setr_epi32(0, 4, 0, 0)), m2);
  const __m128i high = _mm_or_si128(nib, _mm_slli_epi32(top, 4));  // scales 4-7, mins 4-7
  return _mm_unpacklo_epi32(low, high);
}

inline void rowk4_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  // Dword lanes of the scale vector for nibble vector v: half h takes sub-block 4 (v / 2) + 2h + v
  // % 2.
  __m512i pick[4];
  for (int v = 0; v < 4; ++v)
    pick[v] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(4 * (v / 2) + v % 2)),
                                 _mm256_set1_epi32(4 * (v / 2) + 2 + v % 2), 1);
  for (int64_t c = 0; c < g.n; ++c) {
    const rowk4_act_block* a = rowk4_prepare(
        reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c) * g.a_row_bytes), nb);
    for (int64_t r = 0; r < g.rows; ++r) {
      const auto* x =
          reinterpret_cast<const block_q4_k*>(g.w + static_cast<size_t>(r) * g.w_row_bytes);
      __m512 facc = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const auto* xb = reinterpret_cast<const char*>(x + b);
        for (int l = 0; l < 3; ++l) _mm_prefetch(xb + 2048 + 64 * l, _MM_HINT_T0);
        const __m512i s32 = _mm512_cvtepu8_epi32(rowk4_scales(x[b].scales));
        const __m512i l0 = _mm512_loadu_si512(x[b].qs), l1 = _mm512_loadu_si512(x[b].qs + 64);
        const __m512i q[4] = {
            _mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_srli_epi16(l0, 4), low4),
            _mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_srli_epi16(l1, 4), low4)};
        __m512i isum = _mm512_setzero_si512();
        for (int v = 0; v < 4; ++v) {
          const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[v],
                                                _mm512_load_si512(a[b].qs + 64 * v));
          isum = _mm512_dpwssd_epi32(isum, p, _mm512_permutexvar_epi32(pick[v], s32));
        }
        const __m512i mins =
            _mm512_dpwssd_epi32(_mm512_setzero_si512(), s32, _mm512_load_si512(a[b].sums));
        uint32_t dd;
        std::memcpy(&dd, &x[b].d, 4);
        const __m128 dm =
            _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd))), _mm_set1_ps(a[b].d));
        facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_broadcastss_ps(dm), facc);
        facc = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins),
                                _mm512_broadcastss_ps(_mm_movehdup_ps(dm)), facc);
      }
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q8_0 decode in the rows layout, 16 blocks (544 bytes) per step as row16_q4_0: per pair of
// blocks two overlapping loads and one vpermt2w put each block's 32 values in one 256-bit half,
// an xor makes them unsigned (w + 128, the dot starts at -128 x the activation block sum), one
// vpdpbusd; the 8 pairs' halves reduce in-lane to 16 block dots, and the 16 fp16 scales are
// gathered from the same loads, both in lane order 4m + j (block 8 (m / 2) + 2j + m % 2).

inline int64_t row16_q8_lane_block(int64_t pos) {
  const int64_t m = pos / 4, j = pos % 4;
  return (m / 2) * 8 + 2 * j + m % 2;
}

// Activation for row16_q8_0: per 16-block chunk its 512 values in order, then per block in lane
// order its fp32 scale and offset term (-128 x sum); zero blocks pad the last chunk.
inline row16_act row16_q8_prepare(const block_q8_0* y, int64_t nb) {
  const int64_t chunks = (nb + 15) / 16;
  const size_t vals = static_cast<size_t>(chunks) * 512, lanes = static_cast<size_t>(chunks) * 16;
  thread_local std::vector<uint8_t> b;
  b.assign(vals + lanes * 8 + 64, 0);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~63ull);
  auto* qs = reinterpret_cast<int8_t*>(base);
  auto* d = reinterpret_cast<float*>(base + vals);
  auto* corr = reinterpret_cast<int32_t*>(base + vals + lanes * 4);
  for (int64_t blk = 0; blk < nb; ++blk) std::memcpy(qs + 32 * blk, y[blk].qs, 32);
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t pos = 0; pos < 16; ++pos) {
      const int64_t blk = c * 16 + row16_q8_lane_block(pos);
      if (blk >= nb) continue;
      int sum = 0;
      for (int i = 0; i < 32; ++i) sum += y[blk].qs[i];
      d[c * 16 + pos] = h2f(y[blk].d);
      corr[c * 16 + pos] = -128 * sum;
    }
  return {qs, d, corr};
}

// Words of a 68-byte block pair over two registers (the second loaded 4 bytes further): block 0's
// values are words 1..16, block 1's words 18..33.
alignas(64) inline constexpr int16_t row16_q8_qidx[32] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 62, 63};
// Scale words of block 2g + h (words 0 and 17 of pair g's first register) at its lane-order
// position 4 (2 (g / 4) + h) + g % 4; permute q takes pairs 2q and 2q + 1 (its four positions).
struct row16_q8_scale_tables {
  alignas(64) int16_t idx[4][32] = {};
  uint32_t mask[4] = {};
  constexpr row16_q8_scale_tables() {
    for (int g = 0; g < 8; ++g)
      for (int h = 0; h < 2; ++h) {
        const int pos = 4 * (2 * (g / 4) + h) + g % 4, q = g / 2;
        idx[q][pos] = static_cast<int16_t>(32 * (g % 2) + 17 * h);
        mask[q] |= 1u << pos;
      }
  }
};
inline constexpr row16_q8_scale_tables row16_q8_scales{};

template <bool Full>
inline void row16_q8_0_chunk(const uint8_t* p, int64_t rem, const int8_t* aq, const float* ad,
                             const int32_t* ac, __m512& facc) {
  const __m512i qidx = _mm512_load_si512(row16_q8_qidx);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i first[8], acc[8];
  for (int g = 0; g < 8; ++g) {
    __m512i l0, l1;
    if constexpr (Full) {
      l0 = _mm512_loadu_si512(p + 68 * g);
      l1 = _mm512_loadu_si512(p + 68 * g + 4);
    } else {
      const int64_t n0 = std::clamp<int64_t>(rem * 34 - 68 * g, 0, 64);
      const int64_t n1 = std::clamp<int64_t>(rem * 34 - 68 * g - 4, 0, 64);
      l0 = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(n0)), p + 68 * g);
      l1 = _mm512_maskz_loadu_epi8(_bzhi_u64(~0ull, static_cast<unsigned>(n1)), p + 68 * g + 4);
    }
    first[g] = l0;
    const __m512i w = _mm512_xor_si512(_mm512_permutex2var_epi16(l0, qidx, l1), flip);
    acc[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, _mm512_load_si512(aq + 64 * g));
  }
  // acc[g] half h: block 2g + h in 8 dwords. Pairwise in-lane sums, then 128-bit lane pairs.
  __m512i t[4], u[2];
  for (int i = 0; i < 4; ++i)
    t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2 * i], acc[2 * i + 1]),
                            _mm512_unpackhi_epi32(acc[2 * i], acc[2 * i + 1]));
  for (int i = 0; i < 2; ++i)
    u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t[2 * i], t[2 * i + 1]),
                            _mm512_unpackhi_epi64(t[2 * i], t[2 * i + 1]));
  __m512i dot = _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88),
                                 _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
  dot = _mm512_add_epi32(dot, _mm512_load_si512(ac));
  __m512i sc = _mm512_setzero_si512();
  for (int q = 0; q < 4; ++q)
    sc = _mm512_mask_blend_epi16(
        row16_q8_scales.mask[q], sc,
        _mm512_permutex2var_epi16(first[2 * q], _mm512_load_si512(row16_q8_scales.idx[q]),
                                  first[2 * q + 1]));
  const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(sc)), _mm512_load_ps(ad));
  facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, facc);
}

inline void row16_q8_0_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 32, full = nb / 16, rem = nb % 16;
  constexpr int64_t chunk_bytes = 16 * sizeof(block_q8_0);
  constexpr int64_t ahead = 2048;
  for (int64_t c = 0; c < g.n; ++c) {
    const row16_act a = row16_q8_prepare(
        reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c) * g.a_row_bytes), nb);
    for (int64_t r = 0; r < g.rows; ++r) {
      const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
      __m512 facc = _mm512_setzero_ps();
      int64_t i = 0;
      for (; i < full; ++i) {
        const uint8_t* p = row + i * chunk_bytes;
        for (int l = 0; l < 9; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(p + ahead + 64 * l), _MM_HINT_T0);
        row16_q8_0_chunk<true>(p, 16, a.qs + i * 512, a.d + i * 16, a.corr + i * 16, facc);
      }
      if (rem != 0)
        row16_q8_0_chunk<false>(row + i * chunk_bytes, rem, a.qs + i * 512, a.d + i * 16,
                                a.corr + i * 16, facc);
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q6_K decode in the rows layout, one super-block (210 bytes) per step. Per 128-element half, one
// zmm of ql and the 32 qh bytes broadcast to both 256-bit halves give two vectors of 64 values
// 0..63 in element order (variable word shifts place each half's 2-bit pair at bits 4..5), so the
// Q8_K activation is used as it is. Each 128-bit lane of a vpdpbusd result is one 16-element group
// (partial sums < 2^15), and vpdpwssd against (scale, 0) dwords applies the int8 group scales;
// the -32 offset is 32 x sum of scale x the activation's 16-element sums (one vpmaddwd).
inline void rowq6k_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  __m512i pick[4];  // lane i of vector k: group 4k + i's scale in every dword
  for (int k = 0; k < 4; ++k)
    pick[k] = _mm512_set_epi32(4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 3, 4 * k + 2, 4 * k + 2,
                               4 * k + 2, 4 * k + 2, 4 * k + 1, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                               4 * k, 4 * k, 4 * k, 4 * k);
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_k*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    for (int64_t r = 0; r < g.rows; ++r) {
      const auto* x =
          reinterpret_cast<const block_q6_k*>(g.w + static_cast<size_t>(r) * g.w_row_bytes);
      __m512 facc = _mm512_setzero_ps();
      for (int64_t b = 0; b < nb; ++b) {
        const auto* xb = reinterpret_cast<const char*>(x + b);
        for (int l = 0; l < 4; ++l) _mm_prefetch(xb + 2048 + 64 * l, _MM_HINT_T0);
        const __m256i sc16 = _mm256_cvtepi8_epi16(load128(x[b].scales));
        const __m512i s32 = _mm512_cvtepu16_epi32(sc16);
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; ++h) {
          const __m512i l = _mm512_loadu_si512(x[b].ql + 64 * h);
          const __m512i hb = _mm512_broadcast_i64x4(load256(x[b].qh + 32 * h));
          const __m512i wa = _mm512_or_si512(_mm512_and_si512(l, low4),
                                             _mm512_and_si512(_mm512_sllv_epi16(hb, shl), bits45));
          const __m512i wb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                             _mm512_and_si512(_mm512_srlv_epi16(hb, shr), bits45));
          const __m512i pa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wa,
                                                 _mm512_loadu_si512(y[b].qs + 128 * h));
          const __m512i pb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wb,
                                                 _mm512_loadu_si512(y[b].qs + 128 * h + 64));
          isum = _mm512_dpwssd_epi32(isum, pa, _mm512_permutexvar_epi32(pick[2 * h], s32));
          isum = _mm512_dpwssd_epi32(isum, pb, _mm512_permutexvar_epi32(pick[2 * h + 1], s32));
        }
        const __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, load256(y[b].bsums)), 5);
        isum = _mm512_sub_epi32(isum, _mm512_zextsi256_si512(off));
        facc =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(h2f(x[b].d) * y[b].d), facc);
      }
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Q5_0 decode in the rows layout: row16_q4_0 with 22-byte blocks (a group of 4 is 88 bytes, read
// by loads at 0 and 24) and each block's 32 fifth bits as byte masks: the 16-bit halves of the 4
// blocks' qh, joined in scalar registers (free next to the vector work), add 16 to the low and
// high nibble bytes they select. Values 0..31, offset 16; the activation layout is Q4_0's. A
// partial last chunk runs on a zero-padded copy of its blocks.

// Nibble words of block k of a group: 11k + 3 .. 11k + 10 (second register: words 12..43).
alignas(64) inline constexpr int16_t row16_q5_qidx[32] = {
    3,  4,  5,  6,  7,  8,  9,  10, 14, 15, 16, 17, 18, 19, 20, 21,
    25, 26, 27, 28, 29, 30, 31, 52, 56, 57, 58, 59, 60, 61, 62, 63};
// Scale word of block k (word 11k; block 3's is word 21 of the second register) at 4k + g.
alignas(64) inline constexpr int16_t row16_q5_sidx[32] = {
    0, 0, 0, 0, 11, 11, 11, 11, 22, 22, 22, 22, 53, 53, 53, 53,
    0, 0, 0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};

inline void row16_q5_0_chunk(const uint8_t* p, const int8_t* aq, const float* ad, const int32_t* ac,
                             __m512& facc) {
  const __m512i qidx = _mm512_load_si512(row16_q5_qidx), sidx = _mm512_load_si512(row16_q5_sidx);
  const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
  __m512i acc[4], sc = _mm512_setzero_si512();
  for (int g = 0; g < 4; ++g) {
    const uint8_t* pg = p + 88 * g;
    const __m512i l0 = _mm512_loadu_si512(pg), l1 = _mm512_loadu_si512(pg + 24);
    const __m512i raw = _mm512_permutex2var_epi16(l0, qidx, l1);
    uint64_t mlo = 0, mhi = 0;
    for (int k = 0; k < 4; ++k) {
      uint16_t a, b;
      std::memcpy(&a, pg + 22 * k + 2, 2);
      std::memcpy(&b, pg + 22 * k + 4, 2);
      mlo |= static_cast<uint64_t>(a) << (16 * k);
      mhi |= static_cast<uint64_t>(b) << (16 * k);
    }
    __m512i lo = _mm512_and_si512(raw, low4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
    lo = _mm512_mask_add_epi8(lo, mlo, lo, bit4);
    hi = _mm512_mask_add_epi8(hi, mhi, hi, bit4);
    acc[g] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_load_si512(aq + 128 * g));
    acc[g] = _mm512_dpbusd_epi32(acc[g], hi, _mm512_load_si512(aq + 128 * g + 64));
    sc = _mm512_mask_blend_epi16(0x1111u << g, sc, _mm512_permutex2var_epi16(l0, sidx, l1));
  }
  const __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[0], acc[1]),
                                      _mm512_unpackhi_epi32(acc[0], acc[1]));
  const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[2], acc[3]),
                                      _mm512_unpackhi_epi32(acc[2], acc[3]));
  __m512i dot = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
  dot = _mm512_add_epi32(dot, _mm512_load_si512(ac));
  const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(sc)), _mm512_load_ps(ad));
  facc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, facc);
}

inline void row16_q5_0_matvec(const gemm_args& g) {
  const int64_t nb = g.cols / 32, full = nb / 16, rem = nb % 16;
  constexpr int64_t chunk_bytes = 16 * sizeof(block_q5_0);
  constexpr int64_t ahead = 2048;
  for (int64_t c = 0; c < g.n; ++c) {
    const auto* y =
        reinterpret_cast<const block_q8_0*>(g.a + static_cast<size_t>(c) * g.a_row_bytes);
    const row16_act a = row16_prepare(y, nb, 16);
    for (int64_t r = 0; r < g.rows; ++r) {
      const uint8_t* row = g.w + static_cast<size_t>(r) * g.w_row_bytes;
      __m512 facc = _mm512_setzero_ps();
      int64_t i = 0;
      for (; i < full; ++i) {
        const uint8_t* p = row + i * chunk_bytes;
        for (int l = 0; l < 6; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(p + ahead + 64 * l), _MM_HINT_T0);
        row16_q5_0_chunk(p, a.qs + i * 512, a.d + i * 16, a.corr + i * 16, facc);
      }
      if (rem != 0) {
        alignas(64) uint8_t tail[chunk_bytes + 64] = {};
        std::memcpy(tail, row + i * chunk_bytes, static_cast<size_t>(rem) * sizeof(block_q5_0));
        row16_q5_0_chunk(tail, a.qs + i * 512, a.d + i * 16, a.corr + i * 16, facc);
      }
      g.y[c * g.ldy + r] = _mm512_reduce_add_ps(facc);
    }
  }
}
