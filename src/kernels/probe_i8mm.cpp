// The smmla MAC loop (see probe.h): the int8 peak of the neon-i8mm kernels (matmul_i8mm.cpp),
// whose prefill multiplies by smmla (32 multiply-adds an instruction) rather than sdot (16).
#include <arm_neon.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_int8_loop_i8mm(int64_t iters) {
  // 12 independent smmla chains with the accumulators in registers (inline asm, as the sdot loop).
  const int8x16_t u = vdupq_n_s8(3), s = vdupq_n_s8(-2);
  int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
            a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "smmla %[a0].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a1].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a2].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a3].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a4].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a5].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a6].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a7].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a8].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a9].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a10].4s, %[u].16b, %[s].16b\n\t"
        "smmla %[a11].4s, %[u].16b, %[s].16b"
        : [a0] "+w"(a0), [a1] "+w"(a1), [a2] "+w"(a2), [a3] "+w"(a3), [a4] "+w"(a4), [a5] "+w"(a5),
          [a6] "+w"(a6), [a7] "+w"(a7), [a8] "+w"(a8), [a9] "+w"(a9), [a10] "+w"(a10),
          [a11] "+w"(a11)
        : [u] "w"(u), [s] "w"(s));
  }
  int32x4_t t = vaddq_s32(vaddq_s32(vaddq_s32(a0, a1), vaddq_s32(a2, a3)),
                          vaddq_s32(vaddq_s32(a4, a5), vaddq_s32(a6, a7)));
  t = vaddq_s32(t, vaddq_s32(vaddq_s32(a8, a9), vaddq_s32(a10, a11)));
  volatile int sink = vgetq_lane_s32(t, 0);
  (void)sink;
  return static_cast<uint64_t>(iters) * 12 * 32;
}

}  // namespace uma::kernels
