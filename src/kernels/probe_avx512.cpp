// AVX-512 VNNI probe loop (see probe.h): independent vpdpbusd chains on zmm registers.
#include <immintrin.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_int8_loop_avx512(int64_t iters) {
  // 12 independent vpdpbusd chains with the accumulators in registers. The body is inline asm:
  // with intrinsics on an accumulator array GCC kept the chains in memory (a store and a reload
  // around every vpdpbusd), and the probe read 2.5x below what the matmul kernels reach.
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
          a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "vpdpbusd %[s], %[u], %[a0]\n\t"
        "vpdpbusd %[s], %[u], %[a1]\n\t"
        "vpdpbusd %[s], %[u], %[a2]\n\t"
        "vpdpbusd %[s], %[u], %[a3]\n\t"
        "vpdpbusd %[s], %[u], %[a4]\n\t"
        "vpdpbusd %[s], %[u], %[a5]\n\t"
        "vpdpbusd %[s], %[u], %[a6]\n\t"
        "vpdpbusd %[s], %[u], %[a7]\n\t"
        "vpdpbusd %[s], %[u], %[a8]\n\t"
        "vpdpbusd %[s], %[u], %[a9]\n\t"
        "vpdpbusd %[s], %[u], %[a10]\n\t"
        "vpdpbusd %[s], %[u], %[a11]"
        : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5),
          [a6] "+v"(a6), [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9), [a10] "+v"(a10),
          [a11] "+v"(a11)
        : [u] "v"(u), [s] "v"(s));
  }
  __m512i t = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), a2), a3);
  t = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(t, a4), a5), a6);
  t = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(t, a7), a8), a9);
  t = _mm512_add_epi32(_mm512_add_epi32(t, a10), a11);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, t);
  volatile int sink = out[0];
  (void)sink;
  return static_cast<uint64_t>(iters) * 12 * 64;
}

}  // namespace uma::kernels
