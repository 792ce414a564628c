// AVX-512 VNNI probe loop (see probe.h): independent vpdpbusd chains on zmm registers.
#include <immintrin.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_int8_loop_avx512(int64_t iters) {
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  __m512i acc[12];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (int64_t i = 0; i < iters; ++i) {
    for (auto& a : acc) {
      a = _mm512_dpbusd_epi32(a, u, s);
      __asm__ volatile("" : "+v"(a));
    }
  }
  __m512i t = acc[0];
  for (int k = 1; k < 12; ++k) t = _mm512_add_epi32(t, acc[k]);
  alignas(64) int32_t out[16];
  _mm512_store_si512(out, t);
  volatile int sink = out[0];
  (void)sink;
  return static_cast<uint64_t>(iters) * 12 * 64;
}

}  // namespace uma::kernels
