// AVX2 kernel for Q4_0 in the file's own (rows) layout, decode and the prefill tile, included by
// matmul_x86-inl.h inside its anonymous namespace without UMA_VNNI (the 256-bit counterpart of
// matmul_row16-inl.h's Q4_0).
//
// 8 consecutive blocks of a row (144 contiguous bytes) per step. Per group of 2 blocks, one load
// of each block's 16 nibble bytes into its own 128-bit lane; and / shift split the nibbles; two
// vpmaddubsw against the activation laid out to match (lane k: block 2g + k's values 0..15, then
// 16..31), one vpaddw and one vpmaddwd give 4 dwords per block. Three vphaddd fold the 4 groups
// into one dword per block (position p: block 2 (p % 4) + p / 4), so the offset term, the int to
// float conversion and the scaling are one instruction each per 8 blocks and (row, activation)
// pair, where the legacy tile spends them per block. The 8 fp16 row scales are gathered in the
// same order; the activation scales and offset terms (-8 x the block's sum) are prepared once per
// activation row. Every block product is the exact int32 of the reference.
#pragma once

// One activation row: per 8-block chunk 320 bytes, the 256 values in the kernel's order, then per
// position its fp32 scale and int32 offset term; zero blocks pad the last chunk.
inline constexpr size_t row8_chunk_act = 320;

inline size_t row8_act_bytes(int64_t cols) {
  return static_cast<size_t>((cols / 32 + 7) / 8) * row8_chunk_act;
}

inline size_t row8_q4_0_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 32;
  const size_t bytes = row8_act_bytes(cols);
  if (out == nullptr) return bytes;
  std::memset(out, 0, bytes);
  const auto* y = reinterpret_cast<const block_q8_0*>(a);
  for (int64_t blk = 0; blk < nb; ++blk) {
    const int64_t c = blk / 8, g = (blk % 8) / 2, k = blk % 2;
    uint8_t* ch = out + c * row8_chunk_act;
    std::memcpy(ch + 64 * g + 16 * k, y[blk].qs, 16);
    std::memcpy(ch + 64 * g + 32 + 16 * k, y[blk].qs + 16, 16);
    const int64_t pos = 4 * k + g;
    const float d = h2f(y[blk].d);
    int32_t sum = 0;
    for (int8_t v : y[blk].qs) sum += v;
    const int32_t corr = -8 * sum;
    std::memcpy(ch + 256 + 4 * pos, &d, 4);
    std::memcpy(ch + 288 + 4 * pos, &corr, 4);
  }
  return bytes;
}

inline int16_t load_i16(const uint8_t* p) {
  int16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// R weight rows from r0 x C prepared activation rows (act, act_stride bytes apart), written to
// y0[c * ldy + r0 + r].
template <int R, int C>
void row8_q4_0_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride,
                    float* y0) {
  constexpr int64_t chunk = 8 * sizeof(block_q4_0);
  const int64_t nb = g.cols / 32, full = nb / 8, rem = nb % 8;
  const __m256i low4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  __m256 facc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) facc[r][c] = _mm256_setzero_ps();
  const auto step = [&]<bool Full>(int64_t i) {
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes + i * chunk;
      alignas(32) uint8_t tail[chunk];
      if constexpr (Full) {
        for (int l = 0; l < 3; ++l)
          _mm_prefetch(reinterpret_cast<const char*>(p + 2048 + 64 * l), _MM_HINT_T0);
      } else {  // a zero-padded copy of the rem blocks
        std::memset(tail, 0, sizeof(tail));
        std::memcpy(tail, p, static_cast<size_t>(rem) * sizeof(block_q4_0));
        p = tail;
      }
      __m256i lo[4], hi[4];
      for (int q = 0; q < 4; ++q) {
        const __m256i v = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 36 * q + 20),
                                              reinterpret_cast<const __m128i*>(p + 36 * q + 2));
        lo[q] = _mm256_and_si256(v, low4);
        hi[q] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
      }
      const __m256 dw = _mm256_cvtph_ps(
          _mm_setr_epi16(load_i16(p), load_i16(p + 36), load_i16(p + 72), load_i16(p + 108),
                         load_i16(p + 18), load_i16(p + 54), load_i16(p + 90), load_i16(p + 126)));
      for (int c = 0; c < C; ++c) {
        const uint8_t* ach = act + c * act_stride + static_cast<size_t>(i) * row8_chunk_act;
        __m256i s[4];
        for (int q = 0; q < 4; ++q)  // nibbles < 16: the word sums stay below 2^15
          s[q] = _mm256_madd_epi16(
              _mm256_add_epi16(_mm256_maddubs_epi16(lo[q], load256(ach + 64 * q)),
                               _mm256_maddubs_epi16(hi[q], load256(ach + 64 * q + 32))),
              ones);
        const __m256i t = _mm256_add_epi32(
            _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3])),
            load256(ach + 288));
        const __m256 d =
            _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(ach + 256)));
        facc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), d, facc[r][c]);
      }
    }
  };
  for (int64_t i = 0; i < full; ++i) step.template operator()<true>(i);
  if (rem != 0) step.template operator()<false>(full);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y0[c * g.ldy + r0 + r] = hsum(facc[r][c]);
}

// Decode: one row at a time against each prepared activation row (gemm_args::prep).
inline void row8_q4_0_matvec(const gemm_args& g) {
  for (int64_t c = 0; c < g.n; ++c) {
    const uint8_t* act = g.prep + static_cast<size_t>(c) * g.prep_row_bytes;
    for (int64_t r = 0; r < g.rows; ++r) row8_q4_0_tile<1, 1>(g, r, act, 0, g.y + c * g.ldy);
  }
}

// Prefill: 1 x 4 tiles (16 vector registers), then the activation tail.
inline void row8_q4_0_gemm(const gemm_args& g) {
  constexpr int C = 4;
  const size_t stride = g.prep_row_bytes;
  for (int64_t r = 0; r < g.rows; ++r) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C)
      row8_q4_0_tile<1, C>(g, r, g.prep + c * stride, stride, g.y + c * g.ldy);
    for (; c < g.n; ++c) row8_q4_0_tile<1, 1>(g, r, g.prep + c * stride, stride, g.y + c * g.ldy);
  }
}
