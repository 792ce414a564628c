// AVX2 kernels for Q4_0 and Q5_0 in the file's own (rows) layout, decode and the prefill tile,
// included by matmul_x86-inl.h inside its anonymous namespace without UMA_VNNI (the 256-bit
// counterpart of matmul_row16-inl.h's Q4_0 / Q5_0).
//
// 8 consecutive blocks of a row (144 / 176 contiguous bytes) per step. Per group of 2 blocks, one
// load of each block's 16 nibble bytes into its own 128-bit lane; and / shift split the nibbles;
// two vpmaddubsw against the activation laid out to match (lane k: block 2g + k's values 0..15,
// then 16..31), one vpaddw and one vpmaddwd give 4 dwords per block. Three vphaddd fold the 4
// groups into one dword per block (position p: block 2 (p % 4) + p / 4), so the offset term, the
// int to float conversion and the scaling are one instruction each per 8 blocks and (row,
// activation) pair, where the legacy tile spends them per block. The 8 fp16 row scales are gathered
// in the same order; the activation scales and offset terms (-8 / -16 x the block's sum) are
// prepared once per activation row. Q5_0 adds 16 where the block's qh bit is set (byte masks built
// per group from the two blocks' qh words). Every block product is the exact int32 of the
// reference. A row's last blocks that do not fill a step go one at a time through 128-bit lanes,
// read in place; rows of 9..31 blocks are instead streamed across the row ends
// (row8_period_chunks).
#pragma once

// One activation row: per 8-block chunk 320 bytes, the 256 values in the kernel's order, then per
// position its fp32 scale and int32 offset term.
inline constexpr size_t row8_chunk_act = 320;

// Rows of 9..31 blocks that are not whole chunks (qwen2.5-0.5b's 896 columns: 28 blocks) decode
// as one stream of full chunks across the row ends (row8_stream_tile), as the AVX-512 kernels do
// (row16_period_chunks): the activation row is laid out over one period of lcm(nb, 8) / 8 chunks,
// block j of chunk c being activation block (8c + j) mod nb. The tiles read the first nb / 8
// chunks and the tail blocks' positions of the next, which are the row's own blocks. 0: no period
// layout.
inline int64_t row8_period_chunks(int64_t nb) {
  if (nb <= 8 || nb >= 32 || nb % 8 == 0) return 0;
  return nb / std::gcd<int64_t>(nb, 8);
}

inline size_t row8_act_bytes(int64_t cols) {
  const int64_t nb = cols / 32, period = row8_period_chunks(nb);
  return static_cast<size_t>(period != 0 ? period : (nb + 7) / 8) * row8_chunk_act;
}

template <int Offset>
size_t row8_prep(const uint8_t* a, int64_t cols, uint8_t* out) {
  const int64_t nb = cols / 32;
  const bool wrap = row8_period_chunks(nb) != 0;
  const size_t bytes = row8_act_bytes(cols);
  if (out == nullptr) return bytes;
  std::memset(out, 0, bytes);  // zero blocks pad a last chunk without a period layout
  const auto* y = reinterpret_cast<const block_q8_0*>(a);
  const auto chunks = static_cast<int64_t>(bytes / row8_chunk_act);
  for (int64_t c = 0; c < chunks; ++c) {
    uint8_t* ch = out + c * row8_chunk_act;
    for (int64_t j = 0; j < 8; ++j) {
      int64_t blk = 8 * c + j;
      if (blk >= nb && !wrap) break;
      blk %= nb;
      const int64_t g = j / 2, k = j % 2;
      std::memcpy(ch + 64 * g + 16 * k, y[blk].qs, 16);
      std::memcpy(ch + 64 * g + 32 + 16 * k, y[blk].qs + 16, 16);
      const int64_t pos = 4 * k + g;
      const float d = h2f(y[blk].d);
      int32_t sum = 0;
      for (int8_t v : y[blk].qs) sum += v;
      const int32_t corr = -Offset * sum;
      std::memcpy(ch + 256 + 4 * pos, &d, 4);
      std::memcpy(ch + 288 + 4 * pos, &corr, 4);
    }
  }
  return bytes;
}

inline int hsum4_i32(__m128i s) {
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

inline int16_t load_i16(const uint8_t* p) {
  int16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// A format: unpack(p, lo, hi) turns a chunk of 8 blocks into per group (2 blocks, one per lane)
// the values 0..15 and 16..31; scales(p) gathers the 8 fp16 scales in position order.
struct row8_q4_0_fmt {
  using block = block_q4_0;
  static constexpr int offset = 8;
  static void unpack(const uint8_t* p, __m256i lo[4], __m256i hi[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int q = 0; q < 4; ++q) {
      const __m256i v = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(p + 36 * q + 20),
                                            reinterpret_cast<const __m128i*>(p + 36 * q + 2));
      lo[q] = _mm256_and_si256(v, low4);
      hi[q] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
  }
  // Block t of a chunk alone (the row's last, partial chunk): its values 0..15 and 16..31.
  static void unpack_one(const uint8_t* p, int t, __m128i& lo, __m128i& hi) {
    const __m128i v = load128(p + 18 * t + 2), low4 = _mm_set1_epi8(0x0F);
    lo = _mm_and_si128(v, low4);
    hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
  }
  static __m256 scales(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_setr_epi16(load_i16(p), load_i16(p + 36), load_i16(p + 72),
                                          load_i16(p + 108), load_i16(p + 18), load_i16(p + 54),
                                          load_i16(p + 90), load_i16(p + 126)));
  }
};

struct row8_q5_0_fmt {
  using block = block_q5_0;
  static constexpr int offset = 16;
  static void unpack(const uint8_t* p, __m256i lo[4], __m256i hi[4]) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    const __m256i bits = _mm256_set1_epi64x(0x8040201008040201LL);
    // byte j of each lane <- byte j / 8 of the lane's qh word (values 0..15), 2 + j / 8 (16..31)
    const __m256i pick_lo = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0, 0x0101010101010101LL);
    const __m256i pick_hi = _mm256_setr_epi64x(0x0202020202020202LL, 0x0303030303030303LL,
                                               0x0202020202020202LL, 0x0303030303030303LL);
    for (int q = 0; q < 4; ++q) {
      const uint8_t* pg = p + 44 * q;
      const __m256i v = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(pg + 28),
                                            reinterpret_cast<const __m128i*>(pg + 6));
      uint32_t qa, qb;
      std::memcpy(&qa, pg + 2, 4);
      std::memcpy(&qb, pg + 24, 4);
      const __m256i qh =
          _mm256_setr_epi32(static_cast<int>(qa), 0, 0, 0, static_cast<int>(qb), 0, 0, 0);
      const auto fifth = [&](__m256i pick) {
        const __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(qh, pick), bits);
        return _mm256_and_si256(_mm256_cmpeq_epi8(b, bits), bit4);
      };
      lo[q] = _mm256_or_si256(_mm256_and_si256(v, low4), fifth(pick_lo));
      hi[q] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), low4), fifth(pick_hi));
    }
  }
  static void unpack_one(const uint8_t* p, int t, __m128i& lo, __m128i& hi) {
    const uint8_t* pb = p + 22 * t;
    const __m128i v = load128(pb + 6), low4 = _mm_set1_epi8(0x0F), bit4 = _mm_set1_epi8(0x10);
    const __m128i bits = _mm_set1_epi64x(0x8040201008040201LL);
    uint32_t qh32;
    std::memcpy(&qh32, pb + 2, 4);
    const __m128i qh = _mm_cvtsi32_si128(static_cast<int>(qh32));
    const auto fifth = [&](__m128i pick) {
      const __m128i b = _mm_and_si128(_mm_shuffle_epi8(qh, pick), bits);
      return _mm_and_si128(_mm_cmpeq_epi8(b, bits), bit4);
    };
    lo = _mm_or_si128(_mm_and_si128(v, low4), fifth(_mm_set_epi64x(0x0101010101010101LL, 0)));
    hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 4), low4),
                      fifth(_mm_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL)));
  }
  static __m256 scales(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_setr_epi16(load_i16(p), load_i16(p + 44), load_i16(p + 88),
                                          load_i16(p + 132), load_i16(p + 22), load_i16(p + 66),
                                          load_i16(p + 110), load_i16(p + 154)));
  }
};

// A chunk's 8 block products against its prepared activation chunk, offset terms included, in
// position order.
[[gnu::always_inline]] inline __m256i row8_chunk_dot(const __m256i lo[4], const __m256i hi[4],
                                                     const uint8_t* ach) {
  __m256i s[4];
#if UMA_AVXVNNI
  for (int q = 0; q < 4; ++q)
    s[q] = _mm256_dpbusd_avx_epi32(
        _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), lo[q], load256(ach + 64 * q)), hi[q],
        load256(ach + 64 * q + 32));
#else
  const __m256i ones = _mm256_set1_epi16(1);
  for (int q = 0; q < 4; ++q)  // values < 32: the word sums stay below 2^15
    s[q] =
        _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo[q], load256(ach + 64 * q)),
                                           _mm256_maddubs_epi16(hi[q], load256(ach + 64 * q + 32))),
                          ones);
#endif
  return _mm256_add_epi32(
      _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3])),
      load256(ach + 288));
}

// Block t of the chunk at p alone (a row's or a stream's last blocks), read in place, against
// its activation chunk: the scaled product.
template <class F>
[[gnu::always_inline]] inline float row8_one(const uint8_t* p, int t, const uint8_t* ach) {
  const int pos = 4 * (t % 2) + t / 2, off = 64 * (t / 2) + 16 * (t % 2);
  __m128i lo, hi;
  F::unpack_one(p, t, lo, hi);
  const float dw = h2f(static_cast<uint16_t>(load_i16(p + sizeof(typename F::block) * t)));
#if UMA_AVXVNNI
  const __m128i s =
      _mm_dpbusd_avx_epi32(_mm_dpbusd_avx_epi32(_mm_setzero_si128(), lo, load128(ach + off)), hi,
                           load128(ach + off + 32));
#else
  const __m128i s = _mm_madd_epi16(_mm_add_epi16(_mm_maddubs_epi16(lo, load128(ach + off)),
                                                 _mm_maddubs_epi16(hi, load128(ach + off + 32))),
                                   _mm_set1_epi16(1));
#endif
  int32_t corr;
  float da;
  std::memcpy(&corr, ach + 288 + 4 * pos, 4);
  std::memcpy(&da, ach + 256 + 4 * pos, 4);
  return static_cast<float>(hsum4_i32(s) + corr) * (dw * da);
}

// R weight rows from r0 x C prepared activation rows (act, act_stride bytes apart), written to
// y0[c * ldy + r0 + r].
template <class F, int R, int C>
void row8_tile(const gemm_args& g, int64_t r0, const uint8_t* act, size_t act_stride, float* y0) {
  constexpr int64_t chunk = 8 * sizeof(typename F::block);
  constexpr int lines = static_cast<int>((chunk + 63) / 64);
  const int64_t nb = g.cols / 32, full = nb / 8, rem = nb % 8;
  __m256 facc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) facc[r][c] = _mm256_setzero_ps();
  for (int64_t i = 0; i < full; ++i) {
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes + i * chunk;
      // 8 KB ahead, not 2 (2026-12-06, this Zen 5 through the 256-bit backends: qwen3-0.6b Q4_0
      // tg64 avx2-vnni 96.5-123.5 -> 132.3-143.2 tok/s, avx2 111.6-117.1 -> 128.4-132.7, 3 of 3
      // alternating rounds each; Q8_0 even; docs/performance.md 2026-12-06 10:21).
      prefetch_lines_nta(p, lines, 8192);
      __m256i lo[4], hi[4];
      F::unpack(p, lo, hi);
      const __m256 dw = F::scales(p);
      for (int c = 0; c < C; ++c) {
        const uint8_t* ach = act + c * act_stride + static_cast<size_t>(i) * row8_chunk_act;
        const __m256 d =
            _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(ach + 256)));
        facc[r][c] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(row8_chunk_dot(lo, hi, ach)), d, facc[r][c]);
      }
    }
  }
  // The last rem blocks one at a time, in place (no copy per row; the row may end the mapping).
  float tacc[R][C] = {};
  for (int t = 0; t < rem; ++t)
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes + full * chunk;
      for (int c = 0; c < C; ++c)
        tacc[r][c] +=
            row8_one<F>(p, t, act + c * act_stride + static_cast<size_t>(full) * row8_chunk_act);
    }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y0[c * g.ldy + r0 + r] = hsum(facc[r][c]) + tacc[r][c];
}

// Rows that end inside a chunk (row8_period_chunks): the blocks of `rows` contiguous rows from w
// as one stream of full chunks, each unpacked once for C prepared activation rows (act, stride
// bytes apart; chunk i of the stream reads activation chunk i mod the period); in the chunk where
// a row ends its products are split between that row and the next by a lane mask. A stream that
// ends inside a chunk takes its last blocks one at a time. Every (row, activation) pair sees the
// same operations for any C: decode and batches give the same floats. Into y[c * ldy + row].
template <class F, int C>
void row8_stream_tile(const gemm_args& g, const uint8_t* w, int64_t rows, const uint8_t* act,
                      size_t stride, float* y) {
  constexpr int64_t chunk = 8 * sizeof(typename F::block);
  constexpr int lines = static_cast<int>((chunk + 63) / 64);
  const int64_t nb = g.cols / 32;
  const uint8_t* const a_end = act + row8_period_chunks(nb) * row8_chunk_act;
  // below[t]: all ones in the positions of blocks 0..t-1 (position p holds block 2 (p % 4) + p /
  // 4).
  alignas(32) static constexpr auto below = [] {
    std::array<std::array<int32_t, 8>, 9> t{};
    for (int n = 0; n <= 8; ++n)
      for (int q = 0; q < 8; ++q) t[n][q] = 2 * (q % 4) + q / 4 < n ? -1 : 0;
    return t;
  }();
  const uint8_t* p = w;
  const uint8_t* a = act;
  int64_t blocks = rows * nb, left = nb, row = 0;  // left: the current row's blocks to come
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (; blocks >= 8; blocks -= 8) {
    prefetch_lines_nta(p, lines, 2048);
    __m256i lo[4], hi[4];
    F::unpack(p, lo, hi);
    const __m256 dw = F::scales(p);
    const bool ends = left <= 8;  // the row ends in this chunk; the next starts unless left == 8
    const __m256 m = _mm256_castsi256_ps(load256(below[ends ? left : 8].data()));
    for (int c = 0; c < C; ++c) {
      const uint8_t* ach = a + c * stride;
      const __m256 x = _mm256_cvtepi32_ps(row8_chunk_dot(lo, hi, ach));
      const __m256 d = _mm256_mul_ps(dw, _mm256_load_ps(reinterpret_cast<const float*>(ach + 256)));
      if (!ends) {
        acc[c] = _mm256_fmadd_ps(x, d, acc[c]);
      } else {
        y[c * g.ldy + row] = hsum(_mm256_fmadd_ps(x, _mm256_and_ps(d, m), acc[c]));
        acc[c] = _mm256_mul_ps(x, _mm256_andnot_ps(m, d));
      }
    }
    if (ends) ++row, left += nb;
    left -= 8;
    p += chunk;
    a += row8_chunk_act;
    if (a == a_end) a = act;
  }
  if (blocks == 0) return;
  float tacc[C] = {};  // the last row's last blocks
  for (int t = 0; t < blocks; ++t)
    for (int c = 0; c < C; ++c) tacc[c] += row8_one<F>(p, t, a + c * stride);
  for (int c = 0; c < C; ++c) y[c * g.ldy + row] = hsum(acc[c]) + tacc[c];
}

// The stream policy for stream_rows (matmul_x86-inl.h): contiguous rows of 9..31 blocks.
template <class F>
struct row8_stream {
  template <int C>
  static constexpr auto tile = &row8_stream_tile<F, C>;
  static bool applies(const gemm_args& g) {
    const int64_t nb = g.cols / 32;
    return row8_period_chunks(nb) != 0 &&
           g.w_row_bytes == static_cast<size_t>(nb) * sizeof(typename F::block);
  }
  static int64_t period_rows(const gemm_args& g) { return 8 / std::gcd<int64_t>(g.cols / 32, 8); }
};

// Decode: one row at a time against each prepared activation row (gemm_args::prep).
template <class F>
void row8_matvec(const gemm_args& g) {
  if (stream_rows<row8_stream<F>>(g)) return;
  for (int64_t c = 0; c < g.n; ++c) {
    const uint8_t* act = g.prep + static_cast<size_t>(c) * g.prep_row_bytes;
    for (int64_t r = 0; r < g.rows; ++r) row8_tile<F, 1, 1>(g, r, act, 0, g.y + c * g.ldy);
  }
}

// Prefill: 1 x 4 tiles (16 vector registers), then the activation tail.
template <class F>
void row8_gemm(const gemm_args& g) {
  if (stream_rows<row8_stream<F>>(g)) return;
  constexpr int C = 4;
  const size_t stride = g.prep_row_bytes;
  for (int64_t r = 0; r < g.rows; ++r) {
    int64_t c = 0;
    for (; c + C <= g.n; c += C)
      row8_tile<F, 1, C>(g, r, g.prep + c * stride, stride, g.y + c * g.ldy);
    for (; c < g.n; ++c) row8_tile<F, 1, 1>(g, r, g.prep + c * stride, stride, g.y + c * g.ldy);
  }
}
