// AVX-VNNI probe loop (see probe.h): independent VEX vpdpbusd chains on ymm registers.
#include <immintrin.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_int8_loop_avxvnni(int64_t iters) {
  // 12 independent chains, 32 MACs each; inline asm for the reason given in probe_avx512.cpp
  // (GCC keeps an accumulator array in memory). "{vex}" forces the AVX-VNNI encoding.
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "%{vex%} vpdpbusd %[s], %[u], %[a0]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a1]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a2]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a3]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a4]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a5]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a6]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a7]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a8]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a9]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a10]\n\t"
        "%{vex%} vpdpbusd %[s], %[u], %[a11]"
        : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4), [a5] "+x"(a5),
          [a6] "+x"(a6), [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9), [a10] "+x"(a10),
          [a11] "+x"(a11)
        : [u] "x"(u), [s] "x"(s));
  }
  __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), a2), a3);
  t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(t, a4), a5), a6);
  t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(t, a7), a8), a9);
  t = _mm256_add_epi32(_mm256_add_epi32(t, a10), a11);
  volatile int sink = _mm256_extract_epi32(t, 0);
  (void)sink;
  return static_cast<uint64_t>(iters) * 12 * 32;
}

}  // namespace uma::kernels
