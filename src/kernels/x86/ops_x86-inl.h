// x86 versions of the ops in ops.h (AVX2 + FMA + F16C), compiled once per target TU (ops_avx2.cpp,
// ops_avx512.cpp) inside an anonymous namespace, like matmul_x86-inl.h. Tails use scalar code
// with the same operations. exp() is a Cephes-style polynomial (relative error ~2e-7).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/ops_backend.h"
#include "util/cpu_features.h"

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

// Four sum-of-squares chains, 32 values a step: one chain waited on the fma latency (a 128-value
// head norm or a 1024-value row was latency-bound; 2-3 % of a qwen3 prefill).
void x_rms_norm(const float* x, const float* w, int64_t n, float eps, float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(x + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(x + i + 24), a3);
  }
  __m256 acc = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
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

// ref::gelu_mul's g / (1 + e^(-2u)) with exp8.
void x_gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  constexpr float k2 = 2.f * 0.7978845608028654f;
  int64_t i = 0;
  const __m256 one = _mm256_set1_ps(1.f), c = _mm256_set1_ps(0.044715f);
  const __m256 nk2 = _mm256_set1_ps(-k2);
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(c, g), g, one);  // 1 + 0.044715 g^2
    const __m256 e = exp8(_mm256_mul_ps(_mm256_mul_ps(nk2, g), inner));
    const __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(s, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.f + std::exp(-k2 * g * (1.f + 0.044715f * g * g))) * up[i];
  }
}

// cap tanh(x / cap) as cap (1 - 2 / (1 + e^(2x / cap))) with exp8 (its clamps give +-cap in the
// tails); near 0 the difference carries an absolute error of ~1e-7 cap.
void x_softcap(float* x, int64_t n, float cap) {
  int64_t i = 0;
  const __m256 c = _mm256_set1_ps(cap), k = _mm256_set1_ps(2.f / cap);
  const __m256 one = _mm256_set1_ps(1.f), two = _mm256_set1_ps(2.f);
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_mul_ps(_mm256_loadu_ps(x + i), k));
    const __m256 t = _mm256_sub_ps(one, _mm256_div_ps(two, _mm256_add_ps(one, e)));
    _mm256_storeu_ps(x + i, _mm256_mul_ps(c, t));
  }
  for (; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
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

// RoPE with precomputed angles, 8 rotation pairs per step within each head. neox: the halves
// [0, n_rot/2) and [n_rot/2, n_rot) are contiguous; normal: adjacent pairs, each cos / sin
// doubled across its pair and fmaddsub giving a*c - b*s in even lanes and b*c + a*s in odd ones.
void x_rope_with(float* x, int64_t n_heads, int64_t head_dim, const float* cos, const float* sin,
                 const uma::kernels::rope_params& p) {
  const int half = p.n_rot / 2;
  const bool neox = p.style == uma::kernels::rope_style::neox;
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  for (int64_t h = 0; h < n_heads; ++h) {
    float* v = x + h * head_dim;
    int i = 0;
    if (neox) {
      for (; i + 8 <= half; i += 8) {
        const __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + half);
        const __m256 c = _mm256_loadu_ps(cos + i), s = _mm256_loadu_ps(sin + i);
        _mm256_storeu_ps(v + i, _mm256_fmsub_ps(a, c, _mm256_mul_ps(b, s)));
        _mm256_storeu_ps(v + i + half, _mm256_fmadd_ps(a, s, _mm256_mul_ps(b, c)));
      }
    } else {
      for (; i + 4 <= half; i += 4) {
        const __m256 c =
            _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(cos + i)), dup);
        const __m256 s =
            _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(sin + i)), dup);
        const __m256 ab = _mm256_loadu_ps(v + 2 * i);
        const __m256 ba = _mm256_permute_ps(ab, 0xB1);
        _mm256_storeu_ps(v + 2 * i, _mm256_fmaddsub_ps(ab, c, _mm256_mul_ps(ba, s)));
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

// The scale of a Q8_0 block (its first two bytes, F16).
inline float q8_scale(const uint8_t* b) {
  uint16_t h;
  std::memcpy(&h, b, 2);
  return _cvtsh_ss(h);
}

// The vector types of the attention blocks (attn_rows-inl.h): 8 floats (AVX2) or 16 (AVX-512).
struct vec8 {
  using t = __m256;
  static constexpr int w = 8;
  static t zero() { return _mm256_setzero_ps(); }
  static t set1(float x) { return _mm256_set1_ps(x); }
  static t load(const float* p) { return _mm256_loadu_ps(p); }
  static t loadh(const uint16_t* p) { return load_h8(p); }
  // Values i .. i + 8 of a Q8_0 block (34 bytes: F16 scale, 32 int8), q * d (exact).
  static t loadq8(const uint8_t* b, int64_t i) {
    const __m256 q = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b + 2 + i))));
    return _mm256_mul_ps(q, _mm256_set1_ps(q8_scale(b)));
  }
  static void store(float* p, t v) { _mm256_storeu_ps(p, v); }
  static t fma(t a, t b, t c) { return _mm256_fmadd_ps(a, b, c); }
  static t mul(t a, t b) { return _mm256_mul_ps(a, b); }
  // F16 key tiles: up to 8 score vectors a pass (2 vectors a tile); value passes of up to 8
  // accumulators (16 spilled two of them in prefill: 4 rows x 4 vectors).
  static constexpr int ftile_regs = 8, pv_regs = 8;
  // e^x of one float (no libm call in the middle of the vector code; exp8 clamps, so e^-inf reads
  // ~1e-38, which only ever multiplies zeros: a fresh row's o and row_sum).
  static float exp1(float x) { return _mm256_cvtss_f32(exp8(_mm256_set1_ps(x))); }
  static float exp_sum(float* p, int64_t n, float mx) {
    int64_t t = 0;
    __m256 acc = _mm256_setzero_ps();
    for (; t + 8 <= n; t += 8) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + t), _mm256_set1_ps(mx)));
      _mm256_storeu_ps(p + t, e);
      acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum8(acc);
    return exp_tail(p + t, n - t, mx, sum);
  }
  // The last n < 8 values of exp_sum: e^(p[i] - mx) by one exp8 (each lane as exp1 computes it),
  // added to sum one by one in order. (One exp1 each was a chain of up to 7 exps per row; with
  // the rows' softmax in series, prefill attention waited on them.)
  static float exp_tail(float* p, int64_t n, float mx, float sum) {
    if (n <= 0) return sum;
    alignas(32) float v[8] = {};
    for (int64_t i = 0; i < n; ++i) v[i] = p[i] - mx;
    _mm256_store_ps(v, exp8(_mm256_load_ps(v)));
    for (int64_t i = 0; i < n; ++i) sum += (p[i] = v[i]);
    return sum;
  }
  // max(mx, p[0..n)): four-lane partial maxima instead of one chain of n dependent maxss (a row's
  // max over a 64-key block was 8 % of prefill attention). Max is exact, so the order is free; a
  // NaN score is skipped, as std::max(mx, x) skips it.
  static float max_of(const float* p, int64_t n, float mx) {
    int64_t i = 0;
    if (n >= 8) {
      __m256 acc = _mm256_set1_ps(mx);
      for (; i + 8 <= n; i += 8) acc = _mm256_max_ps(_mm256_loadu_ps(p + i), acc);
      __m128 m = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
      m = _mm_max_ps(m, _mm_movehl_ps(m, m));
      m = _mm_max_ss(m, _mm_movehdup_ps(m));
      mx = _mm_cvtss_f32(m);
    }
    for (; i < n; ++i) mx = std::max(mx, p[i]);
    return mx;
  }
  // Attention's requests for the next K/V block (next_lines in attn_rows-inl.h): into L2 only.
  // Into L1 (prefetcht0) each request held one of L1's few miss buffers until its line came
  // from DRAM, and the loads queued behind them: on the Zen 4 dev VM decode attention from DRAM
  // ran 20-45 % slower so (bench_attention, 1 and 2 threads), qwen3-0.6b decode after 8192
  // tokens 1.23x slower a token (docs/performance.md, 2026-12-07 08:05).
  static void prefetch(const char* p) { _mm_prefetch(p, _MM_HINT_T1); }
  // Q8_0 key tiles: 8 keys a vector. Without VNNI the unsigned key bytes 0 / 2 and 1 / 3 of each
  // lane are split into 16-bit halves and `vpmaddwd` multiplies them with the query's bytes as
  // 16-bit pairs, summing in 32 bits (`vpmaddubsw` would saturate its 16-bit pair sums of up to
  // 2 x 255 x 127).
  using ti = __m256i;
  struct kq {
    __m256i even, odd;
  };
  static constexpr int tile_regs = 4;
  static kq keys4(const uint8_t* p) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return {_mm256_and_si256(x, _mm256_set1_epi16(0xff)), _mm256_srli_epi16(x, 8)};
  }
  static ti dot4(ti acc, const kq& k, int32_t q4) {
    const auto pair = [](int32_t lo, int32_t hi) {
      return static_cast<int32_t>(static_cast<uint16_t>(static_cast<int8_t>(lo)) |
                                  static_cast<uint32_t>(static_cast<int8_t>(hi)) << 16);
    };
    const __m256i q02 = _mm256_set1_epi32(pair(q4, q4 >> 16));
    const __m256i q13 = _mm256_set1_epi32(pair(q4 >> 8, q4 >> 24));
    return _mm256_add_epi32(
        acc, _mm256_add_epi32(_mm256_madd_epi16(k.even, q02), _mm256_madd_epi16(k.odd, q13)));
  }
  static ti istart(int32_t bias) { return _mm256_set1_epi32(-bias); }
  static t icvt(ti x) { return _mm256_cvtepi32_ps(x); }
};
#if defined(__AVX512F__)
// GCC 12's 512-bit reduce and half-conversion intrinsics read an intentionally undefined register
// (a false positive of -Wmaybe-uninitialized).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// exp8 on 16 floats: the same operations lane by lane, so the same results.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

struct vec16 : vec8 {  // exp1, max_of and prefetch as vec8's
  // vec8's exp_sum to the bit (the same exps, added to the same 8 partial sums in the same order:
  // each 16 as its low then its high 8), 16 exps per step.
  static float exp_sum(float* p, int64_t n, float mx) {
    int64_t t = 0;
    __m256 acc = _mm256_setzero_ps();
    for (; t + 16 <= n; t += 16) {
      const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(p + t), _mm512_set1_ps(mx)));
      _mm512_storeu_ps(p + t, e);
      acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
      acc = _mm256_add_ps(acc, _mm512_extractf32x8_ps(e, 1));
    }
    for (; t + 8 <= n; t += 8) {
      const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + t), _mm256_set1_ps(mx)));
      _mm256_storeu_ps(p + t, e);
      acc = _mm256_add_ps(acc, e);
    }
    return exp_tail(p + t, n - t, mx, hsum8(acc));
  }
  using t = __m512;
  static constexpr int w = 16;
  static t zero() { return _mm512_setzero_ps(); }
  static t set1(float x) { return _mm512_set1_ps(x); }
  static t load(const float* p) { return _mm512_loadu_ps(p); }
  static t loadh(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static t loadq8(const uint8_t* b, int64_t i) {
    const __m512 q = _mm512_cvtepi32_ps(
        _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + i))));
    return _mm512_mul_ps(q, _mm512_set1_ps(q8_scale(b)));
  }
  static void store(float* p, t v) { _mm512_storeu_ps(p, v); }
  static t fma(t a, t b, t c) { return _mm512_fmadd_ps(a, b, c); }
  static t mul(t a, t b) { return _mm512_mul_ps(a, b); }
  // F16 key tiles: up to 16 score vectors a pass (two chains per score, even and odd values, so
  // that a pass of one row kept 8 in flight, read 5 % slower in prefill and 0-4 % in decode).
  static constexpr int ftile_regs = 16, pv_regs = 16;
  // Q8_0 key tiles: 16 keys a vector, `vpdpbusd` (unsigned key bytes x the query's signed ones).
  using ti = __m512i;
  using kq = __m512i;
  static constexpr int tile_regs = 8;
  static kq keys4(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static ti dot4(ti acc, kq k, int32_t q4) {
    return _mm512_dpbusd_epi32(acc, k, _mm512_set1_epi32(q4));
  }
  static ti istart(int32_t bias) { return _mm512_set1_epi32(-bias); }
  static t icvt(ti x) { return _mm512_cvtepi32_ps(x); }
};
using vec_decode = vec16;
#else
using vec_decode = vec8;
#endif

#include "kernels/attn_rows-inl.h"
#if defined(__AVX512BF16__)
#include "kernels/x86/attn_bf16-inl.h"

// BF16 products for this call (attn_block_args::bf16): where the CPU has them and the shape is
// the 16-float vectors' (else the scalar reference, which follows the flag).
bool bf16_attention(const uma::kernels::attn_block_args& a) {
  static const bool has = uma::cpu().avx512_bf16;
  if (!has || !uma::kernels::attn_bf16_call(a)) return false;
  int64_t khi = 0;
  for (int64_t i = 0; i < a.m; ++i)  // rows with an empty range read nothing
    if (a.hi[i] > a.lo[i]) khi = std::max<int64_t>(khi, a.hi[i]);
  if (a.nk > 64 || a.d % 16 != 0 || a.dv % 16 != 0 || khi == 0) {
    uma::kernels::ref::attn_block(a);
    return true;
  }
  prefetch_next_block<vec16>(a);
  const bool spread = spread_prefetch(a);
  if (a.kv == uma::kernels::kv_format::q8_0) {
    uma::kernels::attn_block_args b = a;
    thread_local std::vector<uint8_t> own;
    if (b.q8 == nullptr) {
      own.resize(static_cast<size_t>(a.m * uma::kernels::attn_q8_row_bytes(a.d)));
      uma::kernels::attn_quantize_queries(a.q, a.m, a.ldq, a.d, own.data());
      b.q8 = own.data();
    }
    attn_bf16<vec16>(b,
                     kv_rows<vec16, kv_src::q8>{static_cast<const uint8_t*>(a.v),
                                                uma::kernels::kv_row_bytes(a.kv, a.ldv)},
                     key_tiles<kv_src::q8>{static_cast<const uint8_t*>(a.k),
                                           uma::kernels::kv_tile_bytes(a.kv, a.ldk)},
                     khi, spread);
  } else {
    attn_bf16<vec16>(a, kv_rows<vec16, kv_src::half>{static_cast<const uint16_t*>(a.v), a.ldv},
                     key_tiles<kv_src::half>{static_cast<const uint16_t*>(a.k),
                                             uma::kernels::kv_key_tile * a.ldk},
                     khi, spread);
  }
  return true;
}
#endif

// Flash-attention block (see ops.h and attn_rows-inl.h): 16 floats per register where d and dv
// allow, else 8; other shapes go to the scalar reference.
void x_attn_block(const uma::kernels::attn_block_args& a) {
#if defined(__AVX512BF16__)
  if (a.bf16 && bf16_attention(a)) return;
#endif
  const int64_t unit = a.kv == uma::kernels::kv_format::q8_0 ? 32 : 8;
  if (a.nk > 64 || a.d % unit != 0 || a.dv % unit != 0) {
    uma::kernels::ref::attn_block(a);
    return;
  }
  if (a.d % vec_decode::w == 0 && a.dv % vec_decode::w == 0)
    attn_rows<vec_decode>(a);
  else  // on AVX-512 never a Q8_0 cache here (its widths are multiples of 32)
    attn_rows<vec8, std::is_same_v<vec_decode, vec8>>(a);
}

uma::kernels::ops_backend x_ops(const char* name) {
  uma::kernels::ops_backend o;
  o.name = name;
  o.rms_norm = x_rms_norm;
  o.rope_with = x_rope_with;
  o.softmax = x_softmax;
  o.silu_mul = x_silu_mul;
  o.gelu_mul = x_gelu_mul;
  o.softcap = x_softcap;
  o.dot_f32 = x_dot_f32;
  o.dot_f16 = x_dot_f16;
  o.axpy_f16 = x_axpy_f16;
  o.add = x_add;
  o.f32_to_f16_row = x_f32_to_f16;
  o.f16_to_f32_row = x_f16_to_f32;
  o.attn_block = x_attn_block;
#if defined(__AVX512BF16__)
  o.attn_bf16 = uma::cpu().avx512_bf16;
#endif
  return o;
}

}  // namespace
