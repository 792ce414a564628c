// AVX-512 kernels for the K formats (Q2_K .. Q6_K) in the file's own (rows) layout, decode and
// the prefill tile, included by matmul_x86-inl.h inside its anonymous namespace when UMA_VNNI is
// set (after matmul_row16-inl.h). One super-block per step, with no scalar work per block; an R x C
// tile unpacks each row's block once for C activation rows.
#pragma once

// Runs step(r, b) over R rows x nb super-blocks: block-major for the prefill tiles (each
// activation block loaded once for the R rows), row by row for decode (C == 1), so that the rows
// are read as one sequential stream. Decode's row index is a constant in each row's loop: with a
// runtime index GCC kept the R accumulators in memory, and every step waited on the store and
// reload of the one before (docs/performance.md, 2026-12-05 10:50).
// facc's rows are zeroed here, each where its row starts in decode (zeroed all at once up front,
// GCC cleared the whole array in memory with a `rep stos` every tile: 3.4 % of a Q4_0 row16
// profile in L2, docs/performance.md 2026-12-07).
template <int R, int C, class Step>
inline void tile_steps(int64_t nb, __m512 (&facc)[R][C], const Step& step) {
  if constexpr (C == 1) {
    [&]<int... Rs>(std::integer_sequence<int, Rs...>) {
      (
          [&] {
            facc[Rs][0] = _mm512_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) step(Rs, b);
          }(),
          ...);
    }
    (std::make_integer_sequence<int, R>{});
  } else {
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b)
      for (int r = 0; r < R; ++r) step(r, b);
  }
}

// Q4_K in the rows layout, four super-blocks (576 bytes) per step with no scalar work. The four
// blocks' first 16 bytes (d, dmin, the 12 packed scale bytes) load into the four 128-bit lanes of
// one register, where the scales and mins of all four decode at once (ggml's kmask steps as
// vector ops) and the eight fp16 scales convert in one go. Each zmm of nibbles covers two
// sub-blocks (low nibbles of qs 0..63 are sub-blocks 0 and 2, high ones 1 and 3, one per 256-bit
// half); one vpdpbusd each gives dwords of four products (|x| <= 4 x 31 x 128 < 2^15, Q5_K
// included), so vpackssdw packs two vectors into words losslessly and one vpmaddwd against
// the two sub-blocks' 6-bit scales as words (one vpshufb each from the block's lane, broadcast by
// one vshufi32x4) scales and pairs them: two packs, two vpmaddwd and an add give 16 dwords whose
// sum is the block's scaled integer dot product (since 2026-12-05 16:35; before, a transposing
// sum of the four vectors by unpacks and adds and one vpmulld: ~4 more ops a block, L2 3-5 %
// slower, docs/performance.md). The block's 16 dwords convert and multiply-add by d x the
// activation's d; the four blocks' min terms take one vpmaddwd of the 32 min words against the
// activation's 32 sub-block sums (prepared as words), one conversion and one multiply-add by
// each lane's dmin x d. A row's last nb % 4 blocks take the same step with fewer lanes. Before
// (one block a step, its scales decoded alone and applied per vector by vpmaddubsw and vpmaddwd
// against a vpshufb'd scale vector): ~13 multiplies and shuffles a block plus ~7 for the decode.
// On the Zen 5 dev VM the tile issues ~3.5 vector ops a cycle whatever their kind (bench_isa's
// isa/q4k_rows stages), so their count is what sets the speed.

// The activation for rowk4_tile, prepared once per call (gemm_prep) or task (decode): per
// super-block its 256 values in the order of the four nibble vectors (rowk4_act_block), then for
// nb rounded up to 4 blocks (zero past nb) the 8 sub-block sums as int16 and the scale d twice.
struct rowk4_act_block {
  int8_t qs[256];
};
struct rowk4_act_view {
  const rowk4_act_block* blocks;
  const int16_t* sums;  // 8 a block
  const float* d;       // 2 a block
};
inline size_t rowk4_groups_blocks(int64_t nb) {
  return static_cast<size_t>((nb + 3) / 4 * 4);
}
// Byte offsets of the sums and the scales in a prepared row.
inline size_t rowk4_sums_at(int64_t nb) {
  return static_cast<size_t>(nb) * sizeof(rowk4_act_block);
}
inline size_t rowk4_d_at(int64_t nb) {
  return rowk4_sums_at(nb) + 8 * sizeof(int16_t) * rowk4_groups_blocks(nb);
}
inline rowk4_act_view rowk4_view(const uint8_t* act, int64_t nb) {
  return {reinterpret_cast<const rowk4_act_block*>(act),
          reinterpret_cast<const int16_t*>(act + rowk4_sums_at(nb)),
          reinterpret_cast<const float*>(act + rowk4_d_at(nb))};
}

inline size_t rowk4_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 256;
  const size_t nb4 = rowk4_groups_blocks(nb);
  const size_t bytes = (rowk4_d_at(nb) + nb4 * 2 * sizeof(float) + 63) / 64 * 64;
  if (out == nullptr) return bytes;
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  auto* o = reinterpret_cast<rowk4_act_block*>(out);
  auto* sums = reinterpret_cast<int16_t*>(out + rowk4_sums_at(nb));
  auto* d = reinterpret_cast<float*>(out + rowk4_d_at(nb));
  // Nibble vector k (0..3) half h holds sub-block 4 (k / 2) + 2h + k % 2.
  for (int64_t b = 0; b < nb; ++b) {
    for (int k = 0; k < 4; ++k)
      for (int h = 0; h < 2; ++h)
        std::memcpy(o[b].qs + 64 * k + 32 * h, y[b].qs + 32 * (4 * (k / 2) + 2 * h + k % 2), 32);
    for (int s = 0; s < 8; ++s)
      sums[8 * b + s] = static_cast<int16_t>(y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
    d[2 * b] = d[2 * b + 1] = y[b].d;
  }
  for (size_t b = static_cast<size_t>(nb); b < nb4; ++b) {
    std::fill_n(sums + 8 * b, 8, int16_t{0});
    std::fill_n(d + 2 * b, 2, 0.0f);
  }
  return bytes;
}

// k4_scales_vec in each 128-bit lane of v (the 12 packed bytes at the start of the lane): scales
// 0..7 in bytes 0..7, mins 0..7 in bytes 8..15.
inline __m512i k4_scales_lanes(__m512i v) {
  const __m512i m1 = _mm512_set1_epi8(0x3f), m2 = _mm512_set1_epi8(0x0f),
                m3 = _mm512_set1_epi8(0x03);
  const __m512i low = _mm512_and_si512(v, m1);
  const __m512i top = _mm512_and_si512(_mm512_srli_epi32(v, 6), m3);
  const __m512i u2 = _mm512_shuffle_epi32(v, _MM_PERM_CCCC);
  const __m512i nib = _mm512_and_si512(_mm512_srlv_epi32(u2, _mm512_set4_epi32(0, 0, 4, 0)), m2);
  const __m512i high = _mm512_or_si512(nib, _mm512_slli_epi32(top, 4));
  return _mm512_unpacklo_epi32(low, high);
}

// 128-bit lane i (0..3) of v in every lane.
[[gnu::always_inline]] inline __m512i lane_to_all(__m512i v, int i) {
  switch (i) {
    case 0:
      return _mm512_shuffle_i32x4(v, v, 0x00);
    case 1:
      return _mm512_shuffle_i32x4(v, v, 0x55);
    case 2:
      return _mm512_shuffle_i32x4(v, v, 0xaa);
    default:
      return _mm512_shuffle_i32x4(v, v, 0xff);
  }
}

// vpshufb indices that turn a 128-bit lane of scale bytes into the words vpmaddwd needs after
// vpackssdw(v[k], v[k + 1]): word w of lane j gets byte byte_of(j, w), zero-extended (words 0-3
// of a lane hold v[k]'s dwords, 4-7 v[k + 1]'s). Built from constants, so it folds to one load.
template <class ByteOf>
[[gnu::always_inline]] inline __m512i word_picks(ByteOf byte_of) {
  alignas(64) int16_t t[32];
  for (int n = 0; n < 32; ++n)
    t[n] = static_cast<int16_t>(0x8000u | static_cast<unsigned>(byte_of(n / 8, n % 8)));
  return _mm512_load_si512(t);
}

// Q5_K (Five) is Q4_K with a fifth bit per weight: qh[l] bit s belongs to element l of
// sub-block s. The 32 qh bytes broadcast to both 256-bit halves line up with the nibble vectors'
// bytes, so per vector one word shift moving that vector's sub-block bit of each half to bit 4
// and one vpternlogd (or its 16) complete the 5-bit values (since 2026-12-05; vptestmb + a masked
// vpaddb before, which compete with vpdpbusd on Zen 5: bench_isa).
//
// R weight rows from r0 x C prepared activation rows (act, act_stride bytes apart). Every
// (row, activation) pair sees the same operations in the same order for any R and C.
template <int R, int C, bool Five = false>
void rowk4_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  using block = std::conditional_t<Five, block_q5_k, block_q4_k>;
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), sixteen = _mm512_set1_epi8(16);
  // Per nibble vector k: its sub-blocks' qh bits (sb in the low half, sb + 2 in the high one) to
  // bit 4 by a word shift, left for k < 2 (sb 0, 1), right for k >= 2 (sb 4, 5); a byte's bit 4
  // comes from the same byte.
  __m512i fifth[4];
  for (int k = 0; k < 4; ++k) {
    const int sb = 4 * (k / 2) + k % 2;
    fifth[k] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(std::abs(sb - 4))),
                                  _mm256_set1_epi16(static_cast<int16_t>(std::abs(sb + 2 - 4))), 1);
  }
  // vpshufb indices into a block's decoded scale bytes (scales 0..7, mins 0..7, in every 128-bit
  // lane), as words: vpackssdw(v[k], v[k + 1]) holds in words 0-3 of lane j vector k's dwords
  // (sub-block 4 (k / 2) + 2 (j / 2)), in words 4-7 vector k + 1's (that sub-block + 1); k0 is
  // 4 (k / 2). pick_min makes the lane's 8 mins words.
  const auto sub_block = [](int k0) {
    return [k0](int j, int w) { return k0 + (w >= 4 ? 1 : 0) + 2 * (j / 2); };
  };
  const __m512i pick_w01 = word_picks(sub_block(0)), pick_w23 = word_picks(sub_block(4));
  const __m512i pick_min = _mm512_set4_epi32(static_cast<int>(0x800f800e), 0x800d800c,
                                             static_cast<int>(0x800b800a), 0x80098008);
  // dwords 0, 4, 8, 12 (each lane's d, dmin) to the bottom; dmin of lane i to lane i's dwords
  const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i dmins = _mm512_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7, 7, 7);
  __m512 facc[R][C];
  if constexpr (C > 1)  // decode's rows each start their own (below)
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c) facc[r][c] = _mm512_setzero_ps();
  rowk4_act_view av[C];
  for (int c = 0; c < C; ++c) av[c] = rowk4_view(act + c * act_stride, nb);

  const auto step = [&]<int G>(int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    // Non-temporal only (the far one measured even here, see prefetch_lines), 8 KB ahead: at 2 KB
    // the stream ran at ~2 KB per memory latency (one thread from DRAM, 1024 columns: Q4_K
    // 20.5-23.7 -> 24-27.9 GB/s, two threads 39-48.5 -> 46-49.4; qwen3-0.6b Q4_K_M zero-copy tg128
    // 103-110 -> 108-126.5 tok/s, faster in 8 of 10 alternating rounds; 16 KB no better;
    // docs/performance.md 2026-12-06 10:21).
    prefetch_lines<false>(reinterpret_cast<const char*>(x),
                          static_cast<int>((G * sizeof(block) + 63) / 64), 8192);
    __m512i raw = _mm512_zextsi128_si512(load128(x));
    if constexpr (G > 1) raw = _mm512_inserti32x4(raw, load128(x + 1), 1);
    if constexpr (G > 2) raw = _mm512_inserti32x4(raw, load128(x + 2), 2);
    if constexpr (G > 3) raw = _mm512_inserti32x4(raw, load128(x + 3), 3);
    const __m512i sb = k4_scales_lanes(_mm512_bsrli_epi128(raw, 4));
    // [d0 dmin0 d1 dmin1 .. d3 dmin3]
    const __m512 dm = _mm512_castps256_ps512(
        _mm256_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi32(firsts, raw))));
    const __m512i mins = _mm512_shuffle_epi8(sb, pick_min);
    __m512 dd[C];  // [d0 da0, dmin0 da0, .. d3 da3, dmin3 da3]
    for (int c = 0; c < C; ++c) {
      dd[c] = _mm512_mul_ps(dm, _mm512_castps256_ps512(_mm256_loadu_ps(av[c].d + 2 * b)));
      const __m512i m = _mm512_madd_epi16(mins, _mm512_loadu_si512(av[c].sums + 8 * b));
      facc[r][c] =
          _mm512_fnmadd_ps(_mm512_cvtepi32_ps(m), _mm512_permutexvar_ps(dmins, dd[c]), facc[r][c]);
    }
    for (int i = 0; i < G; ++i) {
      const __m512i l0 = _mm512_loadu_si512(x[i].qs), l1 = _mm512_loadu_si512(x[i].qs + 64);
      __m512i q[4] = {_mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_srli_epi16(l0, 4), low4),
                      _mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_srli_epi16(l1, 4), low4)};
      if constexpr (Five) {
        const __m512i qh = _mm512_broadcast_i64x4(load256(x[i].qh));
        for (int k = 0; k < 4; ++k) {
          const __m512i h =
              k < 2 ? _mm512_sllv_epi16(qh, fifth[k]) : _mm512_srlv_epi16(qh, fifth[k]);
          q[k] = _mm512_ternarylogic_epi32(q[k], h, sixteen, 0xF8);  // q | (h & 16)
        }
      }
      const __m512i lane = lane_to_all(sb, i);
      const __m512i s01 = _mm512_shuffle_epi8(lane, pick_w01),
                    s23 = _mm512_shuffle_epi8(lane, pick_w23);
      for (int c = 0; c < C; ++c) {
        const rowk4_act_block& a = av[c].blocks[b + i];
        __m512i v[4];
        for (int k = 0; k < 4; ++k)
          v[k] =
              _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[k], _mm512_loadu_si512(a.qs + 64 * k));
        const __m512i z = _mm512_add_epi32(_mm512_madd_epi16(_mm512_packs_epi32(v[0], v[1]), s01),
                                           _mm512_madd_epi16(_mm512_packs_epi32(v[2], v[3]), s23));
        facc[r][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(z),
                            _mm512_permutexvar_ps(_mm512_set1_epi32(2 * i), dd[c]), facc[r][c]);
      }
    }
  };
  const int64_t full = nb / 4 * 4;
  const auto tail = [&](int r) {
    switch (nb - full) {
      case 1:
        step.template operator()<1>(r, full);
        break;
      case 2:
        step.template operator()<2>(r, full);
        break;
      case 3:
        step.template operator()<3>(r, full);
        break;
      default:
        break;
    }
  };
  if constexpr (C == 1) {  // row by row: the rows read as one sequential stream
    for (int r = 0; r < R; ++r) {
      facc[r][0] = _mm512_setzero_ps();  // here rather than up front: see tile_steps
      for (int64_t b = 0; b < full; b += 4) step.template operator()<4>(r, b);
      tail(r);
    }
  } else {  // block-major: each activation group loaded once for the R rows
    for (int64_t b = 0; b < full; b += 4)
      for (int r = 0; r < R; ++r) step.template operator()<4>(r, b);
    for (int r = 0; r < R; ++r) tail(r);
  }
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// The 16 int8 group scales of a super-block (group g in byte g) as the words vpmaddwd needs after
// vpackssdw(v[k], v[k + 1]), k = 0 (s01) and 2 (s23): in lane j, words 0-3 group 4k + j's scale,
// words 4-7 group 4k + 4 + j's, sign-extended (one vpmovsxbw, two vpermw).
struct scale_word_pair {
  __m512i s01, s23;
  __m256i words;  // the 16 scales as words, in group order
};
[[gnu::always_inline]] inline scale_word_pair scale_words(__m128i s8) {
  alignas(64) static constexpr auto idx = [] {
    std::array<std::array<int16_t, 32>, 2> t{};
    for (int h = 0; h < 2; ++h)
      for (int n = 0; n < 32; ++n) t[h][n] = static_cast<int16_t>(8 * h + n / 8 + 4 * (n % 8 / 4));
    return t;
  }();
  const __m256i words = _mm256_cvtepi8_epi16(s8);
  const __m512i w = _mm512_castsi256_si512(words);
  return {_mm512_permutexvar_epi16(_mm512_load_si512(idx[0].data()), w),
          _mm512_permutexvar_epi16(_mm512_load_si512(idx[1].data()), w), words};
}

// Prepares Q8_K activation rows as Block (qs, the format's own fields, d, zeroed pad): fill(out,
// in) writes the format's fields of one block.
template <class Block, class Fill>
size_t q8k_blocks_prep(const uint8_t* a, int64_t cols, uint8_t* out, Fill fill) {
  const int64_t nb = cols / 256;
  const size_t bytes = static_cast<size_t>(nb) * sizeof(Block);
  if (out == nullptr) return bytes;
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  auto* o = reinterpret_cast<Block*>(out);
  for (int64_t b = 0; b < nb; ++b) {
    std::memcpy(o[b].qs, y[b].qs, 256);
    fill(o[b], y[b]);
    o[b].d = y[b].d;
    std::memset(o[b].pad, 0, sizeof(o[b].pad));
  }
  return bytes;
}

// Q6_K in the rows layout, one super-block (210 bytes) per step. Per 128-element half, one
// zmm of ql and the 32 qh bytes broadcast to both 256-bit halves give two vectors of 64 values
// 0..63 in element order (variable word shifts place each half's 2-bit pair at bits 4..5), so
// lane j of vector k is the 16-element group 4k + j. One vpdpbusd a vector gives dwords of four
// products of the unsigned values (|x| <= 4 x 63 x 128 < 2^15), which vpackssdw packs into words
// losslessly; one vpmaddwd against the int8 group scales as words (scale_words) scales and pairs
// them, as Q4_K's and Q2_K's tiles. The -32 offset comes off as 32 x sum(scale x group sum): one
// ymm vpmaddwd of the 16 scales against the activation's 16 group sums (Q8_K's bsums, kept as
// they are), a shift and a subtract (q6k_scaled_dots). Since 2026-12-07; before, a transposing sum
// by unpacks and adds, the offset as a prepared vector in that order (vpsubd) and a vpmulld:
// one thread, 1024 columns, Zen 4, L2 31.2-32.7 -> 33.8-35.0 GB/s, from memory even, two / four
// activation rows 102-104 / 115-119 -> 112-117 / 134-136 GOPS (docs/performance.md). The offset
// folded into vpdpbusd's starting dwords (Q3_K's scheme) ran slower from memory here.
struct rowq6k_act_block {
  int8_t qs[256];
  int16_t bsums[16];  // the sums of the 16-element groups, in order
  float d;
  uint8_t pad[28];
};
static_assert(sizeof(rowq6k_act_block) % 64 == 0);

inline size_t rowq6k_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return q8k_blocks_prep<rowq6k_act_block>(a, cols, out,
                                           [](rowq6k_act_block& o, const block_q8_k& y) {
                                             std::memcpy(o.bsums, y.bsums, sizeof(o.bsums));
                                           });
}

// One activation block's dot with Q6_K's four vectors w[0..3] less 32 x the group sums, scaled by
// the group scales (sw: as pairs of words, and in group order): 16 dwords whose
// sum is the block's scaled integer dot product.
[[gnu::always_inline]] inline __m512i q6k_scaled_dots(const __m512i w[4], const rowq6k_act_block& a,
                                                      const scale_word_pair& sw) {
  __m512i v[4];
  for (int k = 0; k < 4; ++k)
    v[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_load_si512(a.qs + 64 * k));
  const __m512i z = _mm512_add_epi32(_mm512_madd_epi16(_mm512_packs_epi32(v[0], v[1]), sw.s01),
                                     _mm512_madd_epi16(_mm512_packs_epi32(v[2], v[3]), sw.s23));
  const __m256i m = _mm256_madd_epi16(sw.words, load256(a.bsums));
  return _mm512_sub_epi32(z, _mm512_zextsi256_si512(_mm256_slli_epi32(m, 5)));
}

template <int R, int C>
void rowq6k_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  const int64_t nb = g.cols / 256;
  const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
  const __m512i shl = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shr = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  __m512 facc[R][C];  // zeroed by tile_steps
  const auto step = [&](int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block_q6_k*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    const auto* xb = reinterpret_cast<const char*>(x);
    prefetch_lines<false>(xb, 4, 8192);  // as Q4_K's tile: see prefetch_lines
    const scale_word_pair sw = scale_words(load128(x->scales));
    __m512i w[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i l = _mm512_loadu_si512(x->ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4(load256(x->qh + 32 * h));
      w[2 * h] = _mm512_or_si512(_mm512_and_si512(l, low4),
                                 _mm512_and_si512(_mm512_sllv_epi16(hb, shl), bits45));
      w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), low4),
                                     _mm512_and_si512(_mm512_srlv_epi16(hb, shr), bits45));
    }
    const float d = h2f(x->d);
    for (int c = 0; c < C; ++c) {
      const auto* a = reinterpret_cast<const rowq6k_act_block*>(act + c * act_stride) + b;
      facc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q6k_scaled_dots(w, *a, sw)),
                                   _mm512_set1_ps(d * a->d), facc[r][c]);
    }
  };
  tile_steps<R, C>(nb, facc, step);
  store_tile<R, C>(facc, y0, g.ldy, r0);
}

// The activation for Q3_K's tile: each vpdpbusd starts from -4 x the sum of the four values each
// of its dwords takes, so its dwords hold the exact sums of (q - 4) x a, four products each
// (|x| <= 4 x 4 x 128 < 2^15), which vpackssdw packs into words losslessly for the scales'
// vpmaddwd (q3k_scaled_dots). Q6_K's scheme (the offset from the group sums after the
// vpmaddwd) ran 4 % slower here (L2 14.8-14.9 against 15.5 GB/s, two activation rows 97 against
// 100-102 GOPS); this one for Q6_K (|x| <= 4 x 32 x 128) ran 15-30 % slower from memory (one
// thread, 1024 columns, 21.3-22.4 -> 14.7-18.7 GB/s; qwen3-0.6b Q6_K tg128 69-86 -> 61-63 tok/s:
// four more loads a block and activation row; docs/performance.md 2026-12-07).
struct rowq3k_act_block {
  int8_t qs[256];
  int32_t offset[64];  // -4 x the sum of qs[4m .. 4m + 3] at m: vpdpbusd's starting dwords
  float d;
  uint8_t pad[60];
};
static_assert(sizeof(rowq3k_act_block) % 64 == 0);

inline size_t rowq3k_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  return q8k_blocks_prep<rowq3k_act_block>(
      a, cols, out, [](rowq3k_act_block& o, const block_q8_k& y) {
        for (int m = 0; m < 64; ++m)
          o.offset[m] = -4 * (y.qs[4 * m] + y.qs[4 * m + 1] + y.qs[4 * m + 2] + y.qs[4 * m + 3]);
      });
}

// One activation block's dot with four vectors of unsigned weights w[0..3] (byte p of w[k]
// against qs[64k + p], lane j of w[k] group 4k + j) less the offset, scaled by the group scales:
// 16 dwords whose sum is the block's scaled integer dot product.
[[gnu::always_inline]] inline __m512i q3k_scaled_dots(const __m512i w[4], const rowq3k_act_block& a,
                                                      const scale_word_pair& sw) {
  __m512i v[4];
  for (int k = 0; k < 4; ++k)
    v[k] = _mm512_dpbusd_epi32(_mm512_load_si512(a.offset + 16 * k), w[k],
                               _mm512_load_si512(a.qs + 64 * k));
  return _mm512_add_epi32(_mm512_madd_epi16(_mm512_packs_epi32(v[0], v[1]), sw.s01),
                          _mm512_madd_epi16(_mm512_packs_epi32(v[2], v[3]), sw.s23));
}

// Q2_K and Q3_K in the rows layout, one super-block (84 / 110 bytes) per step, built like Q6_K's
// tile. Per 128-element half c, the 32 quant bytes qs[32c..] broadcast to both 256-bit halves
// give, by variable word shifts of 0 | 2 and 4 | 6 bits and a mask of 3, two vectors of 64 values
// in element order (element 32j + l of the half is bits 2j..2j+1 of qs[32c + l]), so the Q8_K
// activation is used as it is (Q2_K), or as rowq3k_prep lays it out (Q3_K: the -4 offset in
// vpdpbusd's starting dwords). Q3_K adds 4 where the element's hmask bit (4c + j of hmask[l]) is
// set; its 16 six-bit scales decode in one xmm (q3k_scales_i8). Q2_K's scales and mins are the
// nibbles of its 16 scale bytes; the min term is dmin x sum(min x 16-element sum). Each 128-bit
// lane of a vpdpbusd is one 16-element group. Both scale by two vpackssdw and two vpmaddwd against
// the scales as words, as Q4_K's tile: Q2_K since 2026-12-05 16:35 (L2 +5-10 %), Q3_K since
// 2026-12-07 (q3k_scaled_dots; before, Q6_K's transposing sum, a vpsubd and a vpmulld: one
// thread, 1024 columns, Zen 4, L2 14.2-14.3 -> 15.3-15.5 GB/s, from memory 13.5-13.8 ->
// 14.2-14.9, two activation rows 89-90 -> 100-102 GOPS; docs/performance.md).
template <int R, int C, bool Three>
void rowq23k_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride,
                  float* y0) {
  using block = std::conditional_t<Three, block_q3_k, block_q2_k>;
  constexpr int lines = static_cast<int>((sizeof(block) + 63) / 64);
  const int64_t nb = g.cols / 256;
  const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
  const __m512i shift_a = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i shift_b = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
  // Q2_K: vpackssdw(v[k], v[k + 1]) holds in words 0-3 of lane j group 4k + j's dword sums, in
  // words 4-7 group 4k + 4 + j's (the sums fit: 4 x 3 x 128); these vpshufb indices pick those
  // groups' scale bytes as words from the 16 scales broadcast to every lane.
  const auto group = [](int k) { return [k](int j, int w) { return 4 * k + 4 * (w / 4) + j; }; };
  const __m512i q2k_pick01 = word_picks(group(0)), q2k_pick23 = word_picks(group(2));
  // Lane i of vector k is group 4k + i; vector k's hmask bits are bit j0 of each hmask byte (low
  // 256-bit half) and j0 + 1 (high half), j0 = 2k, moved to bit 2 by a word shift (left by 2, 1
  // for k = 0, else right by j0 - 2, j0 - 1; a byte's bit 2 comes from the same byte).
  __m512i hshift[4];
  for (int k = 0; k < 4; ++k) {
    const int j0 = 2 * k;
    hshift[k] = _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(std::abs(j0 - 2))),
                                   _mm256_set1_epi16(static_cast<int16_t>(std::abs(j0 - 1))), 1);
  }
  __m512 facc[R][C];  // zeroed by tile_steps
  const auto step = [&](int r, int64_t b) {
    const auto* x =
        reinterpret_cast<const block*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes) + b;
    const auto* xb = reinterpret_cast<const char*>(x);
    prefetch_lines<false>(xb, lines, 8192);  // as Q4_K's tile: see prefetch_lines
    __m512i w[4];
    for (int h = 0; h < 2; ++h) {
      const __m512i q = _mm512_broadcast_i64x4(load256(x->qs + 32 * h));
      w[2 * h] = _mm512_and_si512(_mm512_srlv_epi16(q, shift_a), three);
      w[2 * h + 1] = _mm512_and_si512(_mm512_srlv_epi16(q, shift_b), three);
    }
    __m256i mn16;
    scale_word_pair sw;  // Q3_K: the scales as words for vpackssdw(v[0], v[1]) / (v[2], v[3])
    __m512i s01, s23;    // Q2_K: the same from its 4-bit scales
    if constexpr (Three) {
      const __m512i hm = _mm512_broadcast_i64x4(load256(x->hmask));
      for (int k = 0; k < 4; ++k) {  // + 4 where the bit is set (w < 4: an or)
        const __m512i h =
            k == 0 ? _mm512_sllv_epi16(hm, hshift[k]) : _mm512_srlv_epi16(hm, hshift[k]);
        w[k] = _mm512_ternarylogic_epi32(w[k], h, four, 0xF8);  // w | (h & 4)
      }
      sw = scale_words(q3k_scales_i8(x->scales));
    } else {
      const __m128i raw = load128(x->scales), low4 = _mm_set1_epi8(0x0f);
      const __m128i s8 = _mm_and_si128(raw, low4);
      const __m512i all = _mm512_broadcast_i32x4(s8);
      s01 = _mm512_shuffle_epi8(all, q2k_pick01);
      s23 = _mm512_shuffle_epi8(all, q2k_pick23);
      mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), low4));
    }
    const float d = h2f(x->d);
    for (int c = 0; c < C; ++c) {
      if constexpr (Three) {
        const auto* a = reinterpret_cast<const rowq3k_act_block*>(act + c * act_stride) + b;
        facc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q3k_scaled_dots(w, *a, sw)),
                                     _mm512_set1_ps(d * a->d), facc[r][c]);
      } else {
        const auto* y = reinterpret_cast<const block_q8_k*>(act + c * act_stride) + b;
        __m512i v[4];
        for (int k = 0; k < 4; ++k)
          v[k] =
              _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[k], _mm512_loadu_si512(y->qs + 64 * k));
        const __m512i isum =
            _mm512_add_epi32(_mm512_madd_epi16(_mm512_packs_epi32(v[0], v[1]), s01),
                             _mm512_madd_epi16(_mm512_packs_epi32(v[2], v[3]), s23));
        const __m256i mins = _mm256_madd_epi16(mn16, load256(y->bsums));
        facc[r][c] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * y->d), facc[r][c]);
        facc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(mins)),
                                      _mm512_set1_ps(h2f(x->dmin) * y->d), facc[r][c]);
      }
    }
  };
  tile_steps<R, C>(nb, facc, step);
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
  rows_matvec<rowq3k_t, true>(g);
}
inline void rowq2k_gemm(const gemm_args& g) {
  rows_gemm<rowq2k_t>(g, g.a, g.a_row_bytes);
}
inline void rowq3k_gemm(const gemm_args& g) {
  rows_gemm<rowq3k_t>(g, g.prep, g.prep_row_bytes);
}
inline void rowk4_matvec(const gemm_args& g) {
  rows_matvec<rowk4_t, true>(g);
}
inline void rowq6k_matvec(const gemm_args& g) {
  rows_matvec<rowq6k_t, true>(g);
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
  rows_gemm<rowq6k_t>(g, g.prep, g.prep_row_bytes);
}
