// NEON probe loops (see probe.h): 128-bit streaming reads and independent sdot chains (the
// Armv8.2 dot-product instruction the NEON matmul kernels use).
#include <arm_neon.h>

#include "kernels/probe.h"

namespace uma::kernels {

uint64_t probe_read_sum_neon(const uint8_t* p, size_t n) {
  uint64x2_t a0 = vdupq_n_u64(0), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 256) {
    for (size_t j = 0; j < 256; j += 128) {
      const uint8x16x4_t u = vld1q_u8_x4(p + i + j);
      const uint8x16x4_t v = vld1q_u8_x4(p + i + j + 64);
      a0 = vaddq_u64(a0, vaddq_u64(vreinterpretq_u64_u8(u.val[0]), vreinterpretq_u64_u8(v.val[0])));
      a1 = vaddq_u64(a1, vaddq_u64(vreinterpretq_u64_u8(u.val[1]), vreinterpretq_u64_u8(v.val[1])));
      a2 = vaddq_u64(a2, vaddq_u64(vreinterpretq_u64_u8(u.val[2]), vreinterpretq_u64_u8(v.val[2])));
      a3 = vaddq_u64(a3, vaddq_u64(vreinterpretq_u64_u8(u.val[3]), vreinterpretq_u64_u8(v.val[3])));
    }
  }
  const uint64x2_t s = vaddq_u64(vaddq_u64(a0, a1), vaddq_u64(a2, a3));
  return vgetq_lane_u64(s, 0) + vgetq_lane_u64(s, 1);
}

uint64_t probe_int8_loop_neon(int64_t iters) {
  // 12 independent chains of sdot (16 MACs each) with the accumulators in registers: inline asm,
  // as on x86, where intrinsics on an accumulator array were kept in memory by GCC.
  const int8x16_t u = vdupq_n_s8(3), s = vdupq_n_s8(-2);
  int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
            a8 = a0, a9 = a0, a10 = a0, a11 = a0;
  for (int64_t i = 0; i < iters; ++i) {
    __asm__ volatile(
        "sdot %[a0].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a1].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a2].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a3].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a4].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a5].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a6].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a7].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a8].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a9].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a10].4s, %[u].16b, %[s].16b\n\t"
        "sdot %[a11].4s, %[u].16b, %[s].16b"
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
  return static_cast<uint64_t>(iters) * 12 * 16;
}

}  // namespace uma::kernels
