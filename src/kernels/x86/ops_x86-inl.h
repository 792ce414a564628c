// x86 versions of the ops in ops.h (AVX2 + FMA + F16C), compiled once per target TU (ops_avx2.cpp,
// ops_avx512.cpp) inside an anonymous namespace, like matmul_x86-inl.h. Tails use scalar code
// with the same operations. exp() is a Cephes-style polynomial (relative error ~2e-7).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ops_backend.h"

namespace {

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x for 8 floats: 2^n * p(r), x = n ln2 + r, |r| <= ln2 / 2.
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

void x_rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = _mm256_fmadd_ps(v, v, acc);
  }
  double ss = hsum8(acc);
  for (; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = 1.f / std::sqrt(static_cast<float>(ss / static_cast<double>(n)) + eps);
  const __m256 s = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), s);
    if (w != nullptr) v = _mm256_mul_ps(v, _mm256_loadu_ps(w + i));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) y[i] = x[i] * scale * (w != nullptr ? w[i] : 1.f);
}

void x_softmax(float* x, int64_t n) {
  if (n <= 0) return;
  int64_t i = 0;
  __m256 mv = _mm256_set1_ps(-INFINITY);
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  float mx = hmax8(mv);
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  const __m256 m8 = _mm256_set1_ps(mx);
  __m256 sv = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m8));
    _mm256_storeu_ps(x + i, e);
    sv = _mm256_add_ps(sv, e);
  }
  double sum = hsum8(sv);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const auto inv = static_cast<float>(1.0 / sum);
  const __m256 iv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
  for (; i < n; ++i) x[i] *= inv;
}

void x_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.f);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-g)) * up[i];
  }
}

float x_dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8)
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline __m256 load_h8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float x_dot_f16(const float* a, const uint16_t* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_h8(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_h8(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_h8(b + i), acc0);
  float s = hsum8(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * _cvtsh_ss(b[i]);
  return s;
}

void x_axpy_f16(float s, const uint16_t* x, float* y, int64_t n) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(sv, load_h8(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * _cvtsh_ss(x[i]);
}

void x_add(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] += x[i];
}

void x_f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void x_f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_h8(x + i));
  for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

// o[0 .. 8W) = o * corr + sum_j p[j] * v[j][0 .. 8W): W accumulators stay in registers over keys.
template <int W>
inline void pv_pass(float* o, __m256 corr, const float* p, const float* v, int64_t ldv, int64_t n) {
  __m256 acc[W];
  for (int l = 0; l < W; ++l) acc[l] = _mm256_mul_ps(_mm256_loadu_ps(o + 8 * l), corr);
  for (int64_t j = 0; j < n; ++j) {
    const __m256 pj = _mm256_set1_ps(p[j]);
    const float* vr = v + j * ldv;
    for (int l = 0; l < W; ++l) acc[l] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + 8 * l), acc[l]);
  }
  for (int l = 0; l < W; ++l) _mm256_storeu_ps(o + 8 * l, acc[l]);
}

// Flash-attention block (see ops.h): K and V rows are widened to f32 once into scratch, then
// every query row takes its scores four keys at a time and accumulates its output in registers,
// 64 output values per pass over the keys. Shapes the vector code does not cover (d or dv not a
// multiple of 8) go to the scalar reference.
void x_attn_block_f16(const uma::kernels::attn_block_args& a) {
  if (a.d % 8 != 0 || a.dv % 8 != 0 || a.nk > 64) {
    uma::kernels::ref::attn_block_f16(a);
    return;
  }
  int64_t klo = a.nk, khi = 0;  // keys any row sees
  for (int64_t i = 0; i < a.m; ++i)
    if (a.hi[i] > a.lo[i])
      klo = std::min<int64_t>(klo, a.lo[i]), khi = std::max<int64_t>(khi, a.hi[i]);
  if (khi <= klo) return;
  float* kf = a.scratch;               // nk x d
  float* vf = a.scratch + a.nk * a.d;  // nk x dv
  for (int64_t j = klo; j < khi; ++j) {
    x_f16_to_f32(a.k + j * a.ldk, kf + j * a.d, a.d);
    x_f16_to_f32(a.v + j * a.ldv, vf + j * a.dv, a.dv);
  }
  alignas(32) float s[64];
  for (int64_t i = 0; i < a.m; ++i) {
    const int64_t lo = a.lo[i], hi = a.hi[i];
    if (hi <= lo) continue;
    const float* q = a.q + i * a.ldq;
    float mx = a.row_max[i];
    int64_t j = lo;
    // Eight keys at a time: eight independent FMA chains keep both FMA ports busy.
    for (; j + 8 <= hi; j += 8) {
      const float* k0 = kf + j * a.d;
      __m256 c[8];
      for (auto& v : c) v = _mm256_setzero_ps();
      for (int64_t e = 0; e < a.d; e += 8) {
        const __m256 qv = _mm256_loadu_ps(q + e);
        for (int u = 0; u < 8; ++u)
          c[u] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + u * a.d + e), c[u]);
      }
      for (int u = 0; u < 8; ++u) s[j - lo + u] = hsum8(c[u]);
    }
    for (; j + 4 <= hi; j += 4) {
      const float* k0 = kf + j * a.d;
      __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
      for (int64_t e = 0; e < a.d; e += 8) {
        const __m256 qv = _mm256_loadu_ps(q + e);
        c0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + e), c0);
        c1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + a.d + e), c1);
        c2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 2 * a.d + e), c2);
        c3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + 3 * a.d + e), c3);
      }
      s[j - lo] = hsum8(c0), s[j - lo + 1] = hsum8(c1);
      s[j - lo + 2] = hsum8(c2), s[j - lo + 3] = hsum8(c3);
    }
    for (; j < hi; ++j) s[j - lo] = x_dot_f32(q, kf + j * a.d, a.d);
    const int64_t n = hi - lo;  // <= nk <= 64
    for (int64_t t = 0; t < n; ++t) mx = std::max(mx, s[t]);
    const float corr = std::exp(a.row_max[i] - mx);
    int64_t t = 0;
    __m256 sum8 = _mm256_setzero_ps();
    for (; t + 8 <= n; t += 8) {
      const __m256 p = exp8(_mm256_sub_ps(_mm256_load_ps(s + t), _mm256_set1_ps(mx)));
      _mm256_store_ps(s + t, p);
      sum8 = _mm256_add_ps(sum8, p);
    }
    float sum = hsum8(sum8);
    for (; t < n; ++t) sum += (s[t] = std::exp(s[t] - mx));
    float* o = a.o + i * a.ldo;
    const __m256 cv = _mm256_set1_ps(corr);
    int64_t e0 = 0;
    for (; e0 + 64 <= a.dv; e0 += 64) pv_pass<8>(o + e0, cv, s, vf + lo * a.dv + e0, a.dv, n);
    for (; e0 + 8 <= a.dv; e0 += 8) pv_pass<1>(o + e0, cv, s, vf + lo * a.dv + e0, a.dv, n);
    a.row_sum[i] = a.row_sum[i] * corr + sum;
    a.row_max[i] = mx;
  }
}

uma::kernels::ops_backend x_ops(const char* name) {
  uma::kernels::ops_backend o;
  o.name = name;
  o.rms_norm = x_rms_norm;
  o.softmax = x_softmax;
  o.silu_mul = x_silu_mul;
  o.dot_f32 = x_dot_f32;
  o.dot_f16 = x_dot_f16;
  o.axpy_f16 = x_axpy_f16;
  o.add = x_add;
  o.f32_to_f16_row = x_f32_to_f16;
  o.f16_to_f32_row = x_f16_to_f32;
  o.attn_block_f16 = x_attn_block_f16;
  return o;
}

}  // namespace
