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
  // The body is inline asm: from intrinsics GCC hoisted the loop-invariant maddubs / madd out of
  // the loop and kept the accumulators in memory, so the probe timed adds and reloads.
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0, t0, t1;
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpmaddubsw %[s], %[u], %[t0]\n\t"
        "vpmaddwd %[one], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[a0], %[a0]\n\t"
        "vpmaddubsw %[s], %[u], %[t1]\n\t"
        "vpmaddwd %[one], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[a1], %[a1]\n\t"
        "vpmaddubsw %[s], %[u], %[t0]\n\t"
        "vpmaddwd %[one], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[a2], %[a2]\n\t"
        "vpmaddubsw %[s], %[u], %[t1]\n\t"
        "vpmaddwd %[one], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[a3], %[a3]\n\t"
        "vpmaddubsw %[s], %[u], %[t0]\n\t"
        "vpmaddwd %[one], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[a4], %[a4]\n\t"
        "vpmaddubsw %[s], %[u], %[t1]\n\t"
        "vpmaddwd %[one], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[a5], %[a5]\n\t"
        "vpmaddubsw %[s], %[u], %[t0]\n\t"
        "vpmaddwd %[one], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[a6], %[a6]\n\t"
        "vpmaddubsw %[s], %[u], %[t1]\n\t"
        "vpmaddwd %[one], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[a7], %[a7]"
        : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4), [a5] "+x"(a5),
          [a6] "+x"(a6), [a7] "+x"(a7), [t0] "=&x"(t0), [t1] "=&x"(t1)
        : [u] "x"(u), [s] "x"(s), [one] "x"(one));
  }
  __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), a2), a3);
  t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(t, a4), a5), a6), a7);
  volatile int sink = _mm256_extract_epi32(t, 0);
  (void)sink;
  return static_cast<uint64_t>(iters) * 8 * 32;
}

}  // namespace uma::kernels
