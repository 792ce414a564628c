// x86 activation converters (f32 rows to the int8 block formats and f16), bit-identical to the
// scalar ones (same float operations, RNE rounding). Included by matmul_x86-inl.h inside its
// anonymous namespace, compiled per target with it.
#pragma once

inline float max_abs8(__m256 m) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 floats * id -> 32 int8 (round to nearest even), stored at dst; returns their sum.
inline int round_pack32(const float* x, float id, int8_t* dst) {
  const __m256 m = _mm256_set1_ps(id);
  __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), m));
  __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), m));
  __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), m));
  __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), m));
  const int sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
  i0 = _mm256_packs_epi32(i0, i1);
  i2 = _mm256_packs_epi32(i2, i3);
  i0 = _mm256_packs_epi16(i0, i2);
  i0 = _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), i0);
  return sum;
}

inline float block_amax32(const float* x) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
  for (int k = 8; k < 32; k += 8)
    m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
  return max_abs8(m);
}

void convert_q8_0(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_0*>(dst);
#if defined(__AVX512F__) && defined(__AVX512BW__)
  // The AVX-512 build: a block is two registers; int32 -> int8 by saturating vpmovsdb (the same
  // values as the packs). bench_matmul convert/avx512-vnni/q4_0: 26.7-27.9 -> 33.0-36.3 GB/s.
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float d =
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1))) / 127.f;
    const __m512 id = _mm512_set1_ps(d != 0.f ? 1.f / d : 0.f);
    y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs),
                     _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x0, id))));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + 16),
                     _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x1, id))));
  }
#else
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const float d = block_amax32(x) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    round_pack32(x, id, y[b].qs);
  }
#endif
}

void convert_q8_1(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_1*>(dst);
  for (int64_t b = 0; b < cols / 32; ++b, x += 32) {
    const float d = block_amax32(x) / 127.f;
    const float id = d != 0.f ? 1.f / d : 0.f;
    const int sum = round_pack32(x, id, y[b].qs);
    y[b].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    y[b].s = _cvtss_sh(static_cast<float>(sum) * d, _MM_FROUND_TO_NEAREST_INT);
  }
}

// Q8_K: one running |x| maximum over the 256 values, the first element that reaches it found by
// compares (it gives the scale its sign, as in the scalar code), and the 16 sums of 16 taken from
// the packed bytes by vpsadbw (bytes offset by 128). The element-by-element search and the sums
// made 16 at a time were two thirds of this conversion, itself 6 % of a Q4_K_M prefill.
#if defined(__AVX512F__) && defined(__AVX512BW__)
// The AVX-512 build: 16 floats per step, int32 -> int8 by one saturating vpmovsdb (the same
// values as the two packs), the first element at the maximum found by a compare mask, and the
// 16-value sums from the stored bytes by vpsadbw, 4 per 64 bytes. bench_matmul
// convert/avx512-vnni/q4_k (512 rows of 1024, one thread): 18.2-19.1 -> 26.5-28.5 GB/s.
void convert_q8_k(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_k*>(dst);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < cols / 256; ++b, x += 256) {
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < 256; k += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
    const float amax = _mm512_reduce_max_ps(m);
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(block_q8_k));
      continue;
    }
    const __m512 am = _mm512_set1_ps(amax);
    int first = 0;
    for (int k = 0; k < 256; k += 16) {
      const __mmask16 hit =
          _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + k)), am, _CMP_EQ_OQ);
      if (hit != 0) {
        first = k + __builtin_ctz(static_cast<unsigned>(hit));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    const __m512 is = _mm512_set1_ps(iscale);
    for (int k = 0; k < 256; k += 16)
      _mm_storeu_si128(
          reinterpret_cast<__m128i*>(y[b].qs + k),
          _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + k), is))));
    for (int k = 0; k < 256; k += 64) {
      // 8 sums of 8 (each + 8 x 128); pairs of adjacent qwords are the four 16s.
      const __m512i s = _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(y[b].qs + k), flip),
                                        _mm512_setzero_si512());
      const __m512i t = _mm512_add_epi64(s, _mm512_shuffle_epi32(s, _MM_PERM_BADC));
      const __m512i four =
          _mm512_sub_epi64(_mm512_maskz_compress_epi64(0x55, t), _mm512_set1_epi64(2048));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y[b].bsums + k / 16),
                       _mm512_cvtepi64_epi16(four));
    }
    y[b].d = 1.f / iscale;
  }
}
#else
void convert_q8_k(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<block_q8_k*>(dst);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < cols / 256; ++b, x += 256) {
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 256; k += 8)
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
    const float amax = max_abs8(m);
    if (amax == 0.f) {
      std::memset(&y[b], 0, sizeof(block_q8_k));
      continue;
    }
    const __m256 am = _mm256_set1_ps(amax);
    int first = 0;
    for (int k = 0; k < 256; k += 8) {
      const int hit = _mm256_movemask_ps(
          _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), am, _CMP_EQ_OQ));
      if (hit != 0) {
        first = k + __builtin_ctz(static_cast<unsigned>(hit));
        break;
      }
    }
    const float iscale = -127.f / x[first];
    // min(127, v): only -128 * -1 rounding could exceed, which packs already saturates at 127.
    for (int k = 0; k < 256; k += 32) {
      round_pack32(x + k, iscale, y[b].qs + k);
      // 4 sums of 8 (each + 8 x 128); lanes 0 and 2 of s + its 64-bit swap are the two 16s.
      const __m256i s =
          _mm256_sad_epu8(_mm256_xor_si256(load256(y[b].qs + k), flip), _mm256_setzero_si256());
      const __m256i t = _mm256_add_epi64(s, _mm256_shuffle_epi32(s, 0x4e));
      y[b].bsums[k / 16] = static_cast<int16_t>(_mm256_extract_epi64(t, 0) - 2048);
      y[b].bsums[k / 16 + 1] = static_cast<int16_t>(_mm256_extract_epi64(t, 2) - 2048);
    }
    y[b].d = 1.f / iscale;
  }
}
#endif

void convert_f16(const float* x, void* dst, int64_t cols) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < cols; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
