// Q6_K, Q3_K and Q2_K prefill over a task's x16 group-blocks expanded once into signed operands
// (the layout below), included by matmul_x16_256-inl.h inside the anonymous namespace in every x86
// build after the 256-bit Q6_K / Q3_K tiles, whose operand makers it shares. The AVX-512 build
// expands into the same layout and runs its own tile over it (matmul_x16_signed-inl.h, which
// says why: the offset becomes a per-row constant, no multiply spent on it); the 256-bit builds
// (AVX2, AVX-VNNI) run the tile here, one 16-row group at a time, both 8-row halves against each
// broadcast activation dword. AVX2 forms the products with vpmaddubsw: the unsigned activation
// (a + 128 <= 255) times a signed value (|q - offset| <= 32) sums two to at most 16320, no
// saturation. The same integers as the reference; the same floats as the unpacking tiles.
#pragma once

// A Q6_K or Q3_K x16 group-block made ready for the signed tiles.
struct alignas(64) x16_signed_wide {
  int8_t q[64][64];        // Operand(h, k, j) - offset at q[32 h + 4 k + j]
  int32_t scales[16][16];  // scale of sub-block s of the 16 rows, signed
  int32_t bias[16];        // 128 x sum_s scales[s] x (sum of sub-block s's q - offset), a row
  uint16_t d[16];
};
// Q2_K's expansion: x16_signed_wide's fields (offset 0), then its mins as the tiles' min term
// takes them.
struct alignas(64) x16_signed_min_wide {
  int8_t q[64][64];
  int32_t scales[16][16];
  int32_t bias[16];
  uint16_t d[16];
  int16_t mins[8][32];  // (min 2t, min 2t + 1) of each of the 16 rows, int16 pairs
  uint16_t dmin[16];
};

// Src's group-blocks into Wide ones (x16_signed_wide, or x16_signed_min_wide), 8 rows at a
// time. Operand(x, h, k, j, rh): the unsigned values of elements 128 h + 32 j + 4 k.. of rows
// 8 rh..; offset: what they exceed the reference's signed values by; scales(x, s, rh): sub-block
// s's signed scales of rows 8 rh..; tail(x, o): what else o holds.
template <class Wide, class Src, class Operand, class Scales, class Tail>
size_t x16_expand_signed_256(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out,
                             int offset, const Operand& operand, const Scales& scales,
                             const Tail& tail) {
  const int64_t blocks = rows / 16 * (cols / 256);
  const size_t bytes = static_cast<size_t>(blocks) * sizeof(Wide);
  if (out == nullptr) return bytes;
  const auto* x = reinterpret_cast<const Src*>(packed);
  auto* o = reinterpret_cast<Wide*>(out);
  const __m256i off = _mm256_set1_epi8(static_cast<char>(offset)), ones = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < blocks; ++b) {
    for (int rh = 0; rh < 2; ++rh) {
      __m256i bias = _mm256_setzero_si256();
      for (int s = 0; s < 16; ++s) {  // s = 8 h + 2 j + half: elements 128 h + 32 j + 16 half..
        const int h = s / 8, j = s / 2 % 4, half = s % 2;
        __m256i sum = _mm256_setzero_si256();
        for (int k = 4 * half; k < 4 * half + 4; ++k) {
          const __m256i v = _mm256_sub_epi8(operand(x[b], h, k, j, rh), off);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[b].q[32 * h + 4 * k + j] + 32 * rh), v);
          sum = dot_us(sum, ones, v);
        }
        const __m256i sc = scales(x[b], s, rh);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[b].scales[s] + 8 * rh), sc);
        bias = _mm256_add_epi32(bias, _mm256_mullo_epi32(sc, sum));
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o[b].bias + 8 * rh),
                          _mm256_slli_epi32(bias, 7));
    }
    std::memcpy(o[b].d, x[b].d, sizeof(o[b].d));
    tail(x[b], o[b]);
  }
  return bytes;
}

inline size_t x16_expand_q6_k_signed_256(const uint8_t* packed, int64_t rows, int64_t cols,
                                         uint8_t* out) {
  using src = uma::kernels::x16_block_q6_k;
  return x16_expand_signed_256<x16_signed_wide, src>(
      packed, rows, cols, out, 32,
      [](const src& x, int h, int k, int j, int rh) { return q6_k_quarter_256(x, h, j, k, rh); },
      [](const src& x, int s, int rh) {
        const __m256i sc = load256(x.scales[s / 4] + 32 * rh);
        return _mm256_srai_epi32(_mm256_slli_epi32(sc, 24 - 8 * (s % 4)), 24);  // signed byte
      },
      [](const src&, x16_signed_wide&) {});
}

inline size_t x16_expand_q3_k_signed_256(const uint8_t* packed, int64_t rows, int64_t cols,
                                         uint8_t* out) {
  using src = uma::kernels::x16_block_q3_k;
  return x16_expand_signed_256<x16_signed_wide, src>(
      packed, rows, cols, out, 4,
      [](const src& x, int h, int k, int j, int rh) { return q3_k_quarter_256(x, h, k, j, rh); },
      [](const src& x, int s, int rh) {
        const __m256i four =
            q3_k_scales4_256(load256(x.scales[0] + 32 * rh), load256(x.scales[1] + 32 * rh),
                             load256(x.scales[2] + 32 * rh), s / 4);
        return _mm256_sub_epi32(_mm256_shuffle_epi8(four, dword_byte_256(s % 4)),
                                _mm256_set1_epi32(32));
      },
      [](const src&, x16_signed_wide&) {});
}

// Q2_K: values 0..3 (no offset), 4-bit scales (low nibbles) and mins (high nibbles).
inline size_t x16_expand_q2_k_signed_256(const uint8_t* packed, int64_t rows, int64_t cols,
                                         uint8_t* out) {
  using src = uma::kernels::x16_block_q2_k;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  return x16_expand_signed_256<x16_signed_min_wide, src>(
      packed, rows, cols, out, 0,
      [](const src& x, int h, int k, int j, int rh) { return q3_k_quarter_256(x, h, k, j, rh); },
      [&](const src& x, int s, int rh) {
        const __m256i sc = _mm256_and_si256(load256(x.scales[s / 4] + 32 * rh), low4);
        return _mm256_shuffle_epi8(sc, dword_byte_256(s % 4));
      },
      [&](const src& x, x16_signed_min_wide& o) {
        for (int t = 0; t < 8; ++t)
          for (int rh = 0; rh < 2; ++rh) {
            const __m256i mn =
                _mm256_and_si256(_mm256_srli_epi16(load256(x.scales[t / 2] + 32 * rh), 4), low4);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(o.mins[t] + 16 * rh),
                                _mm256_shuffle_epi8(mn, dword_byte_pair_256((2 * t) % 4)));
          }
        std::memcpy(o.dmin, x.dmin, sizeof(o.dmin));
      });
}

// C activation rows against group gi: for each 16-element sub-block, both 8-row halves' 4
// operand vectors loaded once and used C times, each activation dword (+ 128, made on the stack a
// super-block at a time) broadcast once for both halves. The int32 and float sums of the
// super-block live in stack arrays (AVX2 has 16 registers: the 2 x C products take 8 of them).
template <int C, class B>
void x16_signed_tile_256(const gemm_args& g, int64_t gi, int64_t c0) {
  const int64_t nb = g.cols / 256;
  const B* x = reinterpret_cast<const B*>(g.w) + gi * nb;
  const block_q8_k* y[C];
  activation_rows(g, c0, y);
  alignas(32) uint8_t a[C][256];
  alignas(32) int32_t sumi[2][C][8];
  alignas(32) float acc[2][C][8] = {};
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    const B& xb = x[b];
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < 8; ++i)
        _mm256_store_si256(reinterpret_cast<__m256i*>(a[c] + 32 * i),
                           _mm256_xor_si256(load256(y[c][b].qs + 32 * i), flip));
    for (int rh = 0; rh < 2; ++rh)
      for (int c = 0; c < C; ++c)
        _mm256_store_si256(reinterpret_cast<__m256i*>(sumi[rh][c]), _mm256_setzero_si256());
    for (int s = 0; s < 16; ++s) {  // elements 128 h + 32 j + 16 half .. + 15
      const int h = s / 8, j = s / 2 % 4, half = s % 2;
      __m256i d[2][C];
      for (int rh = 0; rh < 2; ++rh)
        for (int c = 0; c < C; ++c) d[rh][c] = _mm256_setzero_si256();
      for (int k = 4 * half; k < 4 * half + 4; ++k) {
        const __m256i v0 = load256(xb.q[32 * h + 4 * k + j]);
        const __m256i v1 = load256(xb.q[32 * h + 4 * k + j] + 32);
        for (int c = 0; c < C; ++c) {
          const __m256i u = _mm256_set1_epi32(
              load_i32(reinterpret_cast<const int8_t*>(a[c] + 128 * h + 32 * j + 4 * k)));
          d[0][c] = dot_us(d[0][c], u, v0);
          d[1][c] = dot_us(d[1][c], u, v1);
        }
      }
      for (int rh = 0; rh < 2; ++rh) {
        const __m256i sc = load256(xb.scales[s] + 8 * rh);
        for (int c = 0; c < C; ++c) {
          auto* p = reinterpret_cast<__m256i*>(sumi[rh][c]);
          _mm256_store_si256(
              p, _mm256_add_epi32(_mm256_load_si256(p), _mm256_mullo_epi32(d[rh][c], sc)));
        }
      }
    }
    for (int rh = 0; rh < 2; ++rh) {
      const __m256i bias = load256(xb.bias + 8 * rh);
      const __m256 dx = _mm256_cvtph_ps(load128(xb.d + 8 * rh));
      for (int c = 0; c < C; ++c) {
        const __m256i dot = _mm256_sub_epi32(
            _mm256_load_si256(reinterpret_cast<const __m256i*>(sumi[rh][c])), bias);
        const __m256 yd = _mm256_set1_ps(y[c][b].d);
        __m256 f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(yd, dx),
                                   _mm256_load_ps(acc[rh][c]));
        if constexpr (std::is_same_v<B, x16_signed_min_wide>) {  // - dmin sum_s min_s bsum_s
          __m256i summs = _mm256_setzero_si256();
          for (int t = 0; t < 8; ++t) {
            int32_t bp;
            std::memcpy(&bp, y[c][b].bsums + 2 * t, 4);
            summs = pair_dot_256(summs, load256(xb.mins[t] + 16 * rh), &bp);
          }
          const __m256 dm = _mm256_cvtph_ps(load128(xb.dmin + 8 * rh));
          f = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summs), _mm256_mul_ps(yd, dm), f);
        }
        _mm256_store_ps(acc[rh][c], f);
      }
    }
  }
  for (int rh = 0; rh < 2; ++rh)
    for (int c = 0; c < C; ++c)
      _mm256_storeu_ps(g.y + (c0 + c) * g.ldy + gi * 16 + 8 * rh, _mm256_load_ps(acc[rh][c]));
}

// Over a task's expanded group-blocks (x16_expand_signed_256, or the AVX-512 build's expansion:
// the same bytes); B: x16_signed_wide, or x16_signed_min_wide for Q2_K.
template <class B = x16_signed_wide>
void x16_gemm_signed_256(const gemm_args& g) {
  for (int64_t gi = 0; gi < g.rows / 16; ++gi) {
    int64_t c = 0;
    for (; c + 4 <= g.n; c += 4) x16_signed_tile_256<4, B>(g, gi, c);
    for (; c < g.n; ++c) x16_signed_tile_256<1, B>(g, gi, c);
  }
}
