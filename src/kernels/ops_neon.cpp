// NEON versions of the ops in ops.h (compiled with -march=armv8.2-a+dotprod+fp16 by CMake's
// *_neon.cpp rule; reached through find_ops() after the CPU check). Everything but neon_ops() is
// in an anonymous namespace, as in matmul_neon.cpp. Arithmetic is in f32 (f16 data is widened);
// tails use scalar code with the same operations. Attention blocks are attn_rows-inl.h's, 4 floats
// per register.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/ops.h"
#include "kernels/ops_backend.h"

namespace {

inline float h2f(uint16_t h) {
  __fp16 f;
  std::memcpy(&f, &h, 2);
  return static_cast<float>(f);
}
inline uint16_t f2h(float f) {
  const auto h = static_cast<__fp16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
inline float32x4_t load_h4(const uint16_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

// e^x for 4 floats: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a 16-bit head, so n * head is
// exact, and a tail), e^r by its degree-7 Taylor polynomial (truncation < 1e-8 relative), times
// 2^n assembled in the exponent field. Inputs are clamped so that 2^n stays a normal float.
inline float32x4_t exp4(float32x4_t x) {
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.3f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.4426950408889634f));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
  r = vfmsq_f32(r, n, vdupq_n_f32(1.4286068203094173e-6f));
  float32x4_t p = vdupq_n_f32(1.f / 5040.f);
  p = vfmaq_f32(vdupq_n_f32(1.f / 720.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 120.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 24.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f / 6.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.f), p, r);
  const int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  return vmulq_f32(p, vreinterpretq_f32_s32(e));
}

void n_rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  float32x4_t a0 = vdupq_n_f32(0.f), a1 = vdupq_n_f32(0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    a0 = vfmaq_f32(a0, v0, v0);
    a1 = vfmaq_f32(a1, v1, v1);
  }
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    a0 = vfmaq_f32(a0, v, v);
  }
  double ss = vaddvq_f32(vaddq_f32(a0, a1));
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  i = 0;
  if (w != nullptr) {
    for (; i + 4 <= n; i += 4)
      vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(w + i)));
    for (; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(x + i), scale));
    for (; i < n; ++i) y[i] = x[i] * scale;
  }
}

void n_softmax(float* x, int64_t n) {
  if (n <= 0) return;
  int64_t i = 0;
  float32x4_t mv = vdupq_n_f32(-INFINITY);
  for (; i + 4 <= n; i += 4) mv = vmaxq_f32(mv, vld1q_f32(x + i));
  float mx = vmaxvq_f32(mv);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const float32x4_t m4 = vdupq_n_f32(mx);
  float32x4_t sv = vdupq_n_f32(0.f);
  for (i = 0; i + 4 <= n; i += 4) {
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), m4));
    vst1q_f32(x + i, e);
    sv = vaddq_f32(sv, e);
  }
  double sum = vaddvq_f32(sv);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
  for (; i < n; ++i) x[i] *= inv;
}

void n_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const float32x4_t one = vdupq_n_f32(1.f);
  for (; i + 4 <= n; i += 4) {
    const float32x4_t g = vld1q_f32(gate + i);
    const float32x4_t s = vdivq_f32(g, vaddq_f32(one, exp4(vnegq_f32(g))));
    vst1q_f32(out + i, vmulq_f32(s, vld1q_f32(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

// ref::gelu_mul's g / (1 + e^(-2u)) with exp4.
void n_gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float k2 = 2.f * 0.7978845608028654f;
  int64_t i = 0;
  const float32x4_t one = vdupq_n_f32(1.f);
  for (; i + 4 <= n; i += 4) {
    const float32x4_t g = vld1q_f32(gate + i);
    const float32x4_t inner = vfmaq_f32(one, vmulq_n_f32(g, 0.044715f), g);  // 1 + 0.044715 g^2
    const float32x4_t e = exp4(vmulq_f32(vmulq_n_f32(g, -k2), inner));
    const float32x4_t s = vdivq_f32(g, vaddq_f32(one, e));
    vst1q_f32(out + i, vmulq_f32(s, vld1q_f32(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-k2 * g * (1.f + 0.044715f * g * g))) * up[i];
  }
}

// cap tanh(x / cap) as cap (1 - 2 / (1 + e^(2x / cap))) with exp4 (x86's x_softcap).
void n_softcap(float* x, int64_t n, float cap) {
  int64_t i = 0;
  const float32x4_t one = vdupq_n_f32(1.f), two = vdupq_n_f32(2.f);
  for (; i + 4 <= n; i += 4) {
    const float32x4_t e = exp4(vmulq_n_f32(vld1q_f32(x + i), 2.f / cap));
    const float32x4_t t = vsubq_f32(one, vdivq_f32(two, vaddq_f32(one, e)));
    vst1q_f32(x + i, vmulq_n_f32(t, cap));
  }
  for (; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

float n_dot_f32(const float* a, const float* b, int64_t n) {
  float32x4_t acc[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k)
      acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), vld1q_f32(b + i + 4 * k));
  for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), vld1q_f32(b + i));
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float n_dot_f16(const float* a, const uint16_t* b, int64_t n) {
  float32x4_t acc[4] = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f), vdupq_n_f32(0.f)};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 4; ++k)
      acc[k] = vfmaq_f32(acc[k], vld1q_f32(a + i + 4 * k), load_h4(b + i + 4 * k));
  for (; i + 4 <= n; i += 4) acc[0] = vfmaq_f32(acc[0], vld1q_f32(a + i), load_h4(b + i));
  float s = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
  for (; i < n; ++i) s += a[i] * h2f(b[i]);
  return s;
}

void n_axpy_f16(float s, const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), load_h4(x + i), s));
  for (; i < n; ++i) y[i] += s * h2f(x[i]);
}

// RoPE with precomputed angles, 4 rotation pairs per step within each head: neox rotates the
// contiguous halves, normal de-interleaves adjacent pairs with vld2q / vst2q.
void n_rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
                 const uma::kernels::rope_params& p) {
  const int half = p.n_rot / 2;
  const bool neox = p.style == uma::kernels::rope_style::neox;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    int i = 0;
    for (; i + 4 <= half; i += 4) {
      const float32x4_t c = vld1q_f32(cos + i), s = vld1q_f32(sin + i);
      if (neox) {
        const float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
        vst1q_f32(v + i, vfmsq_f32(vmulq_f32(a, c), b, s));
        vst1q_f32(v + i + half, vfmaq_f32(vmulq_f32(b, c), a, s));
      } else {
        const float32x4x2_t ab = vld2q_f32(v + 2 * i);
        float32x4x2_t out;
        out.val[0] = vfmsq_f32(vmulq_f32(ab.val[0], c), ab.val[1], s);
        out.val[1] = vfmaq_f32(vmulq_f32(ab.val[1], c), ab.val[0], s);
        vst2q_f32(v + 2 * i, out);
      }
    }
    for (; i < half; ++i) {
      const int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
      const float a = v[i0], b = v[i1];
      v[i0] = a * cos[i] - b * sin[i];
      v[i1] = a * sin[i] + b * cos[i];
    }
  }
}

void n_add(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vld1q_f32(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

void n_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vcvt_high_f16_f32(vcvt_f16_f32(vld1q_f32(x + i)), vld1q_f32(x + i + 4));
    vst1q_u16(y + i, vreinterpretq_u16_f16(h));
  }
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) y[i] = f2h(x[i]);
}

void n_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, load_h4(x + i));
  for (; i < n; ++i) y[i] = h2f(x[i]);
}

// The vector type of the attention blocks (attn_rows-inl.h).
struct vec4 {
  using t = float32x4_t;
  static constexpr int w = 4;
  static t zero() { return vdupq_n_f32(0.f); }
  static t set1(float x) { return vdupq_n_f32(x); }
  static t load(const float* p) { return vld1q_f32(p); }
  static t loadh(const uint16_t* p) { return load_h4(p); }
  // Values i .. i + 4 of a Q8_0 block (34 bytes: F16 scale, 32 int8), q * d (exact).
  static t loadq8(const uint8_t* b, int64_t i) {
    int32_t four;
    std::memcpy(&four, b + 2 + i, 4);
    const int16x8_t q16 = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    uint16_t h;
    std::memcpy(&h, b, 2);
    return vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q16))), h2f(h));
  }
  static void store(float* p, t v) { vst1q_f32(p, v); }
  static t fma(t a, t b, t c) { return vfmaq_f32(c, a, b); }
  static t mul(t a, t b) { return vmulq_f32(a, b); }
  // F16 key tiles: up to 16 score vectors a pass (4 vectors a tile).
  static constexpr int ftile_regs = 16, pv_regs = 16;
  // e^x of one float with exp4 (clamped: e^-inf reads ~1e-38, which only multiplies zeros).
  static float exp1(float x) { return vgetq_lane_f32(exp4(vdupq_n_f32(x)), 0); }
  static float exp_sum(float* p, int64_t n, float mx) {
    int64_t i = 0;
    float32x4_t acc = vdupq_n_f32(0.f);
    for (; i + 4 <= n; i += 4) {
      const float32x4_t e = exp4(vsubq_f32(vld1q_f32(p + i), vdupq_n_f32(mx)));
      vst1q_f32(p + i, e);
      acc = vaddq_f32(acc, e);
    }
    float sum = vaddvq_f32(acc);
    if (i < n) {  // the last 1-3 by one exp4 (each lane as exp1's), added in order
      float v[4] = {};
      for (int64_t j = i; j < n; ++j) v[j - i] = p[j] - mx;
      vst1q_f32(v, exp4(vld1q_f32(v)));
      for (int64_t j = i; j < n; ++j) sum += (p[j] = v[j - i]);
    }
    return sum;
  }
  // max(mx, p[0..n)) in four lanes (maxNum: a NaN score is skipped, as std::max(mx, x) does).
  static float max_of(const float* p, int64_t n, float mx) {
    int64_t i = 0;
    if (n >= 4) {
      float32x4_t acc = vdupq_n_f32(mx);
      for (; i + 4 <= n; i += 4) acc = vmaxnmq_f32(acc, vld1q_f32(p + i));
      mx = vmaxnmvq_f32(acc);
    }
    for (; i < n; ++i) mx = std::max(mx, p[i]);
    return mx;
  }
  static void prefetch(const char* p) { __builtin_prefetch(p, 0, 3); }
  // Q8_0 key tiles: 4 keys a vector; the unsigned key bytes less 128 (xor 0x80) by `sdot`, so a
  // group starts from zero.
  using ti = int32x4_t;
  using kq = int8x16_t;
  static constexpr int tile_regs = 16;
  static kq keys4(const uint8_t* p) {
    return vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x80)));
  }
  static ti dot4(ti acc, kq k, int32_t q4) {
    return vdotq_s32(acc, k, vreinterpretq_s8_s32(vdupq_n_s32(q4)));
  }
  static ti istart(int32_t) { return vdupq_n_s32(0); }
  static t icvt(ti x) { return vcvtq_f32_s32(x); }
};

#include "kernels/attn_rows-inl.h"

// Flash-attention block (see ops.h and attn_rows-inl.h); shapes the vector code does not cover
// go to the scalar reference.
void n_attn_block(const uma::kernels::attn_block_args& a) {
  const int64_t unit = a.kv == uma::kernels::kv_format::q8_0 ? 32 : 4;
  if (a.nk > 64 || a.d % unit != 0 || a.dv % unit != 0) {
    uma::kernels::ref::attn_block(a);
    return;
  }
  attn_rows<vec4>(a);
}

}  // namespace

namespace uma::kernels {

const ops_backend& neon_ops() {
  static const ops_backend b = [] {
    ops_backend o;
    o.name = "neon";
    o.rms_norm = n_rms_norm;
    o.rope_with = n_rope_with;
    o.softmax = n_softmax;
    o.silu_mul = n_silu_mul;
    o.gelu_mul = n_gelu_mul;
    o.softcap = n_softcap;
    o.dot_f32 = n_dot_f32;
    o.dot_f16 = n_dot_f16;
    o.axpy_f16 = n_axpy_f16;
    o.add = n_add;
    o.f32_to_f16_row = n_f32_to_f16;
    o.f16_to_f32_row = n_f16_to_f32;
    o.attn_block = n_attn_block;
    return o;
  }();
  return b;
}

}  // namespace uma::kernels
