// Scalar reference dot products of one weight row with one converted activation row, for every
// weight format matmul supports. Integer products per block, one float multiply per block, as
// ggml's generic vec_dot code does; everything else (SIMD) is tested against these.
#include <cstring>

#include "kernels/backend.h"
#include "kernels/ref/scalar.h"
#include "tensor/blocks.h"
#include "tensor/half.h"

namespace uma::kernels::ref {

namespace {

float dot_f32(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const float*>(w);
  const auto* y = reinterpret_cast<const float*>(a);
  double s = 0;
  for (int64_t i = 0; i < cols; ++i) s += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(s);
}

float dot_f16(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const uint16_t*>(w);
  const auto* y = reinterpret_cast<const uint16_t*>(a);
  double s = 0;
  for (int64_t i = 0; i < cols; ++i) s += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
  return static_cast<float>(s);
}

float dot_bf16(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const uint16_t*>(w);
  const auto* y = reinterpret_cast<const uint16_t*>(a);
  double s = 0;
  for (int64_t i = 0; i < cols; ++i)
    s += static_cast<double>(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
  return static_cast<float>(s);
}

float dot_q8_0(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q8_0*>(w);
  const auto* y = reinterpret_cast<const block_q8_0*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk32; ++b) {
    int sumi = 0;
    for (int j = 0; j < qk32; ++j) sumi += x[b].qs[j] * y[b].qs[j];
    s += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return s;
}

float dot_q4_0(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q4_0*>(w);
  const auto* y = reinterpret_cast<const block_q8_0*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk32; ++b) {
    int sumi = 0;
    for (int j = 0; j < qk32 / 2; ++j) {
      sumi += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j];
      sumi += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return s;
}

float dot_q4_1(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q4_1*>(w);
  const auto* y = reinterpret_cast<const block_q8_1*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk32; ++b) {
    int sumi = 0;
    for (int j = 0; j < qk32 / 2; ++j) {
      sumi += (x[b].qs[j] & 0xF) * y[b].qs[j];
      sumi += (x[b].qs[j] >> 4) * y[b].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) +
         f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  return s;
}

float dot_q5_0(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q5_0*>(w);
  const auto* y = reinterpret_cast<const block_q8_0*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk32; ++b) {
    uint32_t qh;
    std::memcpy(&qh, x[b].qh, 4);
    int sumi = 0;
    for (int j = 0; j < qk32 / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi += (((x[b].qs[j] & 0xF) | h0) - 16) * y[b].qs[j];
      sumi += (((x[b].qs[j] >> 4) | h1) - 16) * y[b].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d));
  }
  return s;
}

float dot_q5_1(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q5_1*>(w);
  const auto* y = reinterpret_cast<const block_q8_1*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk32; ++b) {
    uint32_t qh;
    std::memcpy(&qh, x[b].qh, 4);
    int sumi = 0;
    for (int j = 0; j < qk32 / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      sumi += ((x[b].qs[j] & 0xF) | h0) * y[b].qs[j];
      sumi += ((x[b].qs[j] >> 4) | h1) * y[b].qs[j + 16];
    }
    s += static_cast<float>(sumi) * (f16_to_f32(x[b].d) * f16_to_f32(y[b].d)) +
         f16_to_f32(x[b].m) * f16_to_f32(y[b].s);
  }
  return s;
}

// Sum over the 16 groups of 16 of scale[g] * dot(q[g], y[g]).
int scaled_dot16(const int8_t* q, const int8_t* y, const int* scale) {
  int total = 0;
  for (int g = 0; g < qk_k / 16; ++g) {
    int s = 0;
    for (int j = 0; j < 16; ++j) s += q[g * 16 + j] * y[g * 16 + j];
    total += scale[g] * s;
  }
  return total;
}

float dot_q2_k(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q2_k*>(w);
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk_k; ++b) {
    int8_t q[qk_k];
    int sc[16];
    int summs = 0;
    for (int e = 0; e < qk_k; ++e) {
      const int c = e / 128, j = (e % 128) / 32, l = e % 32;
      q[e] = static_cast<int8_t>((x[b].qs[c * 32 + l] >> (2 * j)) & 3);
    }
    for (int g = 0; g < 16; ++g) {
      sc[g] = x[b].scales[g] & 0xF;
      summs += (x[b].scales[g] >> 4) * y[b].bsums[g];
    }
    const int sumi = scaled_dot16(q, y[b].qs, sc);
    s += y[b].d * f16_to_f32(x[b].d) * static_cast<float>(sumi) -
         y[b].d * f16_to_f32(x[b].dmin) * static_cast<float>(summs);
  }
  return s;
}

float dot_q3_k(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q3_k*>(w);
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk_k; ++b) {
    int8_t q[qk_k];
    int8_t sc8[16];
    int sc[16];
    for (int e = 0; e < qk_k; ++e) {
      const int c = e / 128, j = (e % 128) / 32, l = e % 32;
      const int lo = (x[b].qs[c * 32 + l] >> (2 * j)) & 3;
      const bool hi = x[b].hmask[l] & (1 << (c * 4 + j));
      q[e] = static_cast<int8_t>(lo - (hi ? 0 : 4));
    }
    q3k_scales(x[b].scales, sc8);
    for (int g = 0; g < 16; ++g) sc[g] = sc8[g];
    const int sumi = scaled_dot16(q, y[b].qs, sc);
    s += y[b].d * f16_to_f32(x[b].d) * static_cast<float>(sumi);
  }
  return s;
}

float dot_q4_k(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q4_k*>(w);
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk_k; ++b) {
    int sumi = 0, summs = 0;
    for (int sb = 0; sb < 8; ++sb) {
      uint8_t sc, mn;
      k4_scale_min(sb, x[b].scales, sc, mn);
      const uint8_t* qs = x[b].qs + (sb / 2) * 32;
      const int shift = (sb % 2) * 4;
      int d = 0;
      for (int l = 0; l < 32; ++l) d += ((qs[l] >> shift) & 0xF) * y[b].qs[sb * 32 + l];
      sumi += sc * d;
      summs += mn * (y[b].bsums[2 * sb] + y[b].bsums[2 * sb + 1]);
    }
    s += y[b].d * f16_to_f32(x[b].d) * static_cast<float>(sumi) -
         y[b].d * f16_to_f32(x[b].dmin) * static_cast<float>(summs);
  }
  return s;
}

float dot_q5_k(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q5_k*>(w);
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk_k; ++b) {
    int sumi = 0, summs = 0;
    for (int sb = 0; sb < 8; ++sb) {
      uint8_t sc, mn;
      k4_scale_min(sb, x[b].scales, sc, mn);
      const uint8_t* qs = x[b].qs + (sb / 2) * 32;
      const int shift = (sb % 2) * 4;
      int d = 0;
      for (int l = 0; l < 32; ++l) {
        const int hi = (x[b].qh[l] >> sb) & 1;
        d += (((qs[l] >> shift) & 0xF) + 16 * hi) * y[b].qs[sb * 32 + l];
      }
      sumi += sc * d;
      summs += mn * (y[b].bsums[2 * sb] + y[b].bsums[2 * sb + 1]);
    }
    s += y[b].d * f16_to_f32(x[b].d) * static_cast<float>(sumi) -
         y[b].d * f16_to_f32(x[b].dmin) * static_cast<float>(summs);
  }
  return s;
}

float dot_q6_k(const uint8_t* w, const uint8_t* a, int64_t cols) {
  const auto* x = reinterpret_cast<const block_q6_k*>(w);
  const auto* y = reinterpret_cast<const block_q8_k*>(a);
  float s = 0;
  for (int64_t b = 0; b < cols / qk_k; ++b) {
    int8_t q[qk_k];
    int sc[16];
    for (int e = 0; e < qk_k; ++e) {
      const int c = e / 128, quarter = (e % 128) / 32, l = e % 32;
      const uint8_t* ql = x[b].ql + c * 64;
      const uint8_t* qh = x[b].qh + c * 32;
      const int low = (quarter & 1 ? ql[l + 32] : ql[l]) >> (quarter >= 2 ? 4 : 0) & 0xF;
      const int high = (qh[l] >> (2 * quarter)) & 3;
      q[e] = static_cast<int8_t>((low | (high << 4)) - 32);
    }
    for (int g = 0; g < 16; ++g) sc[g] = x[b].scales[g];
    const int sumi = scaled_dot16(q, y[b].qs, sc);
    s += y[b].d * f16_to_f32(x[b].d) * static_cast<float>(sumi);
  }
  return s;
}

void scalar_matvec(dtype t, const gemm_args& g) {
  for (int64_t j = 0; j < g.n; ++j) {
    const uint8_t* arow = g.a + static_cast<size_t>(j) * g.a_row_bytes;
    for (int64_t r = 0; r < g.rows; ++r)
      g.y[j * g.ldy + r] = dot_row(t, g.w + static_cast<size_t>(r) * g.w_row_bytes, arow, g.cols);
  }
}

template <dtype T>
void matvec_of(const gemm_args& g) {
  scalar_matvec(T, g);
}

}  // namespace

void q3k_scales(const uint8_t* packed, int8_t out[16]) {
  for (int g = 0; g < 16; ++g) {
    const int low = g < 8 ? (packed[g] & 0xF) : (packed[g - 8] >> 4);
    const int high = (packed[8 + (g % 4)] >> (2 * (g / 4))) & 3;
    out[g] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

float dot_row(dtype t, const uint8_t* w, const uint8_t* a, int64_t cols) {
  switch (t) {
    case dtype::f32:
      return dot_f32(w, a, cols);
    case dtype::f16:
      return dot_f16(w, a, cols);
    case dtype::bf16:
      return dot_bf16(w, a, cols);
    case dtype::q8_0:
      return dot_q8_0(w, a, cols);
    case dtype::q4_0:
      return dot_q4_0(w, a, cols);
    case dtype::q4_1:
      return dot_q4_1(w, a, cols);
    case dtype::q5_0:
      return dot_q5_0(w, a, cols);
    case dtype::q5_1:
      return dot_q5_1(w, a, cols);
    case dtype::q2_k:
      return dot_q2_k(w, a, cols);
    case dtype::q3_k:
      return dot_q3_k(w, a, cols);
    case dtype::q4_k:
      return dot_q4_k(w, a, cols);
    case dtype::q5_k:
      return dot_q5_k(w, a, cols);
    case dtype::q6_k:
      return dot_q6_k(w, a, cols);
    default:
      return 0.f;
  }
}

}  // namespace uma::kernels::ref

namespace uma::kernels {

const matmul_backend& scalar_backend() {
  static const matmul_backend be = [] {
    matmul_backend b;
    b.name = "scalar";
    using namespace ref;
    auto set = [&](dtype t, gemm_fn f) { b.matvec[static_cast<size_t>(t)] = f; };
    set(dtype::f32, matvec_of<dtype::f32>);
    set(dtype::f16, matvec_of<dtype::f16>);
    set(dtype::bf16, matvec_of<dtype::bf16>);
    set(dtype::q8_0, matvec_of<dtype::q8_0>);
    set(dtype::q4_0, matvec_of<dtype::q4_0>);
    fill_x16_table(b);
    set(dtype::q4_1, matvec_of<dtype::q4_1>);
    set(dtype::q5_0, matvec_of<dtype::q5_0>);
    set(dtype::q5_1, matvec_of<dtype::q5_1>);
    set(dtype::q2_k, matvec_of<dtype::q2_k>);
    set(dtype::q3_k, matvec_of<dtype::q3_k>);
    set(dtype::q4_k, matvec_of<dtype::q4_k>);
    set(dtype::q5_k, matvec_of<dtype::q5_k>);
    set(dtype::q6_k, matvec_of<dtype::q6_k>);
    b.convert[static_cast<size_t>(act_format::f32)] = convert_f32;
    b.convert[static_cast<size_t>(act_format::f16)] = convert_f16;
    b.convert[static_cast<size_t>(act_format::bf16)] = convert_bf16;
    b.convert[static_cast<size_t>(act_format::q8_0)] = convert_q8_0;
    b.convert[static_cast<size_t>(act_format::q8_1)] = convert_q8_1;
    b.convert[static_cast<size_t>(act_format::q8_k)] = convert_q8_k;
    return b;
  }();
  return be;
}

}  // namespace uma::kernels
