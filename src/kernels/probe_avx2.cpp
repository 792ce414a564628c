// AVX2 probe loops (see probe.h): 256-bit streaming reads and the maddubs/madd int8 MAC chain.
#include <immintrin.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_read_sum_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    const auto* v = reinterpret_cast<const __m256i*>(p + i);
    a0 = _mm256_add_epi64(a0, _mm256_add_epi64(_mm256_load_si256(v), _mm256_load_si256(v + 4)));
    a1 = _mm256_add_epi64(a1, _mm256_add_epi64(_mm256_load_si256(v + 1), _mm256_load_si256(v + 5)));
    a2 = _mm256_add_epi64(a2, _mm256_add_epi64(_mm256_load_si256(v + 2), _mm256_load_si256(v + 6)));
    a3 = _mm256_add_epi64(a3, _mm256_add_epi64(_mm256_load_si256(v + 3), _mm256_load_si256(v + 7)));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out), s);
  return out[0] + out[1] + out[2] + out[3];
}

uint64_t probe_int8_loop_avx2(int64_t iters) {
  // 8 independent chains of maddubs (u8 x s8 -> i16 pairs) + madd (-> i32) + add: 32 MACs each.
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (int64_t i = 0; i < iters; ++i) {
    for (auto& a : acc) {
      a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), one));
      __asm__ volatile("" : "+x"(a));
    }
  }
  __m256i t = acc[0];
  for (int k = 1; k < 8; ++k) t = _mm256_add_epi32(t, acc[k]);
  volatile int sink = _mm256_extract_epi32(t, 0);
  (void)sink;
  return static_cast<uint64_t>(iters) * 8 * 32;
}

}  // namespace uma::kernels
