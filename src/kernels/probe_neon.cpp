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
  // 12 independent chains of sdot (16 MACs each).
  const int8x16_t a = vdupq_n_s8(3), b = vdupq_n_s8(-2);
  int32x4_t acc[12];
  for (auto& x : acc) x = vdupq_n_s32(0);
  for (int64_t i = 0; i < iters; ++i) {
    for (auto& x : acc) {
      x = vdotq_s32(x, a, b);
      __asm__ volatile("" : "+w"(x));
    }
  }
  int32x4_t t = acc[0];
  for (int k = 1; k < 12; ++k) t = vaddq_s32(t, acc[k]);
  volatile int sink = vgetq_lane_s32(t, 0);
  (void)sink;
  return static_cast<uint64_t>(iters) * 12 * 16;
}

}  // namespace uma::kernels
