// Scalar references of the ops in ops.h: plain loops, double accumulators where a sum could lose
// precision. The SIMD versions are tested against these.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/ops.h"
#include "tensor/blocks.h"
#include "tensor/half.h"

namespace uma::kernels::ref {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * (w != nullptr ? w[i] : 1.f);
}

void rope_angles(int64_t pos, const rope_params& p, float* cos, float* sin) {
  for (int i = 0; i < p.n_rot / 2; ++i) {
    double theta = static_cast<double>(pos) * p.freq_scale *
                   std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_rot);
    if (p.freq_factors != nullptr) theta /= p.freq_factors[i];
    cos[i] = static_cast<float>(std::cos(theta));
    sin[i] = static_cast<float>(std::sin(theta));
  }
}

void rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
               const rope_params& p) {
  const int half = p.n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const float c = cos[i], s = sin[i];
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + h * head_dim;
      const int i0 = p.style == rope_style::normal ? 2 * i : i;
      const int i1 = p.style == rope_style::normal ? 2 * i + 1 : i + half;
      const float a = v[i0], b = v[i1];
      v[i0] = a * c - b * s;
      v[i1] = a * s + b * c;
    }
  }
}

void rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, const rope_params& p) {
  thread_local std::vector<float> cs;
  cs.resize(static_cast<size_t>(p.n_rot));
  ref::rope_angles(pos, p, cs.data(), cs.data() + p.n_rot / 2);
  ref::rope_with(x, n_heads, head_dim, cs.data(), cs.data() + p.n_rot / 2, p);
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float mx = x[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

// GELU's tanh form 0.5 g (1 + tanh(u)), u = sqrt(2 / pi) (g + 0.044715 g^3), written as
// g / (1 + e^(-2u)) (the same function: 1 + tanh(u) = 2 / (1 + e^(-2u))), which the SIMD
// backends evaluate with their exp like SiLU's and which keeps its precision for negative g,
// where 1 + tanh(u) cancels.
void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float k2 = 2.f * 0.7978845608028654f;  // 2 sqrt(2 / pi)
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-k2 * g * (1.f + 0.044715f * g * g))) * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

float dot_f32(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

float dot_f16(const float* a, const uint16_t* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * f16_to_f32(b[i]);
  return static_cast<float>(s);
}

void axpy_f16(float s, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * f16_to_f32(x[i]);
}

void add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void f16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

namespace {
// Value e of row j of a V array of the format (rows ld values apart).
float kv_value(kv_format f, const void* rows, int64_t ld, int64_t j, int64_t e) {
  const auto* row = static_cast<const uint8_t*>(rows) + j * kv_row_bytes(f, ld);
  if (f == kv_format::f16) {
    uint16_t h;
    std::memcpy(&h, row + e * 2, 2);
    return f16_to_f32(h);
  }
  const auto* b = reinterpret_cast<const block_q8_0*>(row) + e / 32;
  return static_cast<float>(b->qs[e % 32]) * f16_to_f32(b->d);
}

// x rounded to bf16, as a float.
float bf(float x) {
  return bf16_to_f32(attn_bf16_round(x));
}

// Score of query row i against key j: for F16 keys the float dot product in order (with BF16
// products, `qbf` given: per pair of dims the odd product, then the even one, as vdpbf16ps adds
// them); for Q8_0 keys (tiles, ops.h) per group of 32 the exact integer dot product with the
// quantized query, scaled and added in group order.
float score(const attn_block_args& a, const uint8_t* q8, const uint16_t* qbf, int64_t i,
            int64_t j) {
  const auto* tile =
      static_cast<const uint8_t*>(a.k) + j / kv_key_tile * kv_tile_bytes(a.kv, a.ldk);
  const int64_t slot = j % kv_key_tile;
  const auto key = [&](int64_t e) {
    uint16_t h;
    std::memcpy(&h, tile + (e * kv_key_tile + slot) * 2, 2);
    return f16_to_f32(h);
  };
  if (a.kv == kv_format::f16 && qbf != nullptr) {
    const uint16_t* q = qbf + i * a.d;
    float acc = 0.f;
    for (int64_t e = 0; e < a.d; e += 2) {
      acc += bf16_to_f32(q[e + 1]) * bf(key(e + 1));
      acc += bf16_to_f32(q[e]) * bf(key(e));
    }
    return acc;
  }
  if (a.kv == kv_format::f16) {
    const float* q = a.q + i * a.ldq;
    float acc = 0.f;
    for (int64_t e = 0; e < a.d; ++e) acc += q[e] * key(e);
    return acc;
  }
  const int64_t groups = a.d / 32;
  const uint8_t* qr = q8 + i * attn_q8_row_bytes(a.d);
  float acc = 0.f;
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* grp = tile + g * kv_q8_tile_group;
    int32_t isum = 0;
    for (int64_t e = 0; e < 32; ++e)
      isum += int32_t(static_cast<int8_t>(qr[g * 32 + e])) *
              (int32_t(grp[kv_q8_tile_value(e, slot)]) - 128);
    uint16_t h;
    std::memcpy(&h, grp + slot * 2, 2);
    float dq;
    std::memcpy(&dq, qr + a.d + g * 4, 4);
    acc = std::fma(f16_to_f32(h) * dq, static_cast<float>(isum), acc);
  }
  return acc;
}
}  // namespace

void attn_block(const attn_block_args& a) {
  std::vector<uint8_t> own;
  const auto* q8 = static_cast<const uint8_t*>(a.q8);
  if (a.kv == kv_format::q8_0 && q8 == nullptr) {
    own.resize(static_cast<size_t>(a.m * attn_q8_row_bytes(a.d)));
    attn_quantize_queries(a.q, a.m, a.ldq, a.d, own.data());
    q8 = own.data();
  }
  const bool bf16 = attn_bf16_call(a);
  std::vector<uint16_t> own_bf;
  const uint16_t* qbf = a.qbf;
  if (bf16 && a.kv == kv_format::f16 && qbf == nullptr) {
    own_bf.resize(static_cast<size_t>(a.m * a.d));
    attn_bf16_queries(a.q, a.m, a.ldq, a.d, own_bf.data());
    qbf = own_bf.data();
  }
  if (!bf16) qbf = nullptr;
  for (int64_t i = 0; i < a.m; ++i) {
    const int64_t lo = a.lo[i], hi = a.hi[i];
    if (hi <= lo) continue;
    float* s = a.scratch;  // scores of this row
    float mx = a.row_max[i];
    for (int64_t j = lo; j < hi; ++j) {
      s[j] = score(a, q8, qbf, i, j);
      mx = std::max(mx, s[j]);
    }
    const float corr = std::exp(a.row_max[i] - mx);  // 0 for the first block (max was -inf)
    float* o = a.o + i * a.ldo;
    for (int64_t e = 0; e < a.dv; ++e) o[e] *= corr;
    float sum = 0.f;
    for (int64_t j = lo; j < hi; ++j) {
      const float p = std::exp(s[j] - mx);
      sum += p;
      s[j] = p;
      if (!bf16)
        for (int64_t e = 0; e < a.dv; ++e) o[e] += p * kv_value(a.kv, a.v, a.ldv, j, e);
    }
    // BF16: the keys in pairs (2t, 2t + 1) from the block's first, the odd one's product first
    // (a key outside [lo, hi) adds nothing: its weight is 0).
    for (int64_t t = lo / 2; bf16 && t < (hi + 1) / 2; ++t) {
      for (int64_t e = 0; e < a.dv; ++e) {
        for (const int64_t j : {2 * t + 1, 2 * t})
          if (j >= lo && j < hi) o[e] += bf(s[j]) * bf(kv_value(a.kv, a.v, a.ldv, j, e));
      }
    }
    a.row_sum[i] = a.row_sum[i] * corr + sum;
    a.row_max[i] = mx;
  }
}

}  // namespace uma::kernels::ref
