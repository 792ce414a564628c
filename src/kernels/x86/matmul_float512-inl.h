// AVX-512 tiles of the float formats (F32, F16, BF16 weights), included by matmul_x86-inl.h
// inside its anonymous namespace when UMA_VNNI is set, after its 256-bit float tile (float_tile)
// and the *_fmt structs it reuses for the row tails.
//
// float_tile keeps 8 floats a register: on AVX-512 that is half of what the FMA pipes take, and
// it measured ~0.11 of the int8 peak (gemm64 n = 512, one thread), about 90 % of what 256-bit
// FMAs allow. Here F32 / F16 take 16 floats a register (F16 widened by vcvtph2ps), and BF16,
// where the CPU has AVX512_BF16, multiplies its bf16 pairs as they are with vdpbf16ps (the
// activation is BF16 for BF16 weights, act_format_for): 32 products an instruction and no
// widening. Each (row, activation row) pair is summed in the same order whatever R and C are, so
// decode (C = 1) and prefill give the same floats; the order differs from float_tile's, which is
// why a backend takes one or the other for every n.
#pragma once

struct f32_fmt512 : f32_fmt {
  static __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
};
struct f16_fmt512 : f16_fmt {
  static __m512 load16(const uint16_t* p) { return _mm512_cvtph_ps(load256(p)); }
};

// F: f32_fmt512 or f16_fmt512. Sixteen elements a step, the tail (cols % 16) in scalar.
template <class F, int R, int C>
void float_tile512(const gemm_args& g, int64_t r0, int64_t c0) {
  using E = typename F::elem;
  const E* x[R];
  const E* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const E*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const E*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= g.cols; i += 16) {
    __m512 yv[C];
    for (int c = 0; c < C; ++c) yv[c] = F::load16(y[c] + i);
    for (int r = 0; r < R; ++r) {
      const __m512 xv = F::load16(x[r] + i);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(xv, yv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = _mm512_reduce_add_ps(acc[r][c]);
      for (int64_t k = i; k < g.cols; ++k) s += F::one(x[r] + k) * F::one(y[c] + k);
      g.y[(c0 + c) * g.ldy + r0 + r] = s;
    }
}

// BF16 x BF16 by vdpbf16ps: 32 elements (16 pairs) a step, the tail in scalar. Each pair's two
// products are exact in fp32; the instruction adds them to the lane's sum one after the other.
template <int R, int C>
void bf16_tile512(const gemm_args& g, int64_t r0, int64_t c0) {
  const uint16_t* x[R];
  const uint16_t* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const uint16_t*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const uint16_t*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= g.cols; i += 32) {
    __m512bh yv[C];
    for (int c = 0; c < C; ++c) yv[c] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(y[c] + i));
    for (int r = 0; r < R; ++r) {
      const auto xv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x[r] + i));
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_dpbf16_ps(acc[r][c], xv, yv[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = _mm512_reduce_add_ps(acc[r][c]);
      for (int64_t k = i; k < g.cols; ++k) s += bf16_fmt::one(x[r] + k) * bf16_fmt::one(y[c] + k);
      g.y[(c0 + c) * g.ldy + r0 + r] = s;
    }
}

template <class F>
struct float512_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) {
      if constexpr (std::is_same_v<F, bf16_fmt>)
        bf16_tile512<R, C>(g, r, c);
      else
        float_tile512<F, R, C>(g, r, c);
    }
  };
};

// The float entries of the AVX-512 table: 4 rows x 4 activation rows a tile, 4 x 1 for decode.
inline void fill_float512_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  const auto set = [&](dtype t, auto tag) {
    using F = decltype(tag);
    b.matvec[static_cast<size_t>(t)] = drive<float512_t<F>::template t, 4, 1>;
    b.gemm[static_cast<size_t>(t)] = drive<float512_t<F>::template t, 4, 4>;
  };
  set(dtype::f32, f32_fmt512{});
  set(dtype::f16, f16_fmt512{});
  if (uma::cpu().avx512_bf16) set(dtype::bf16, bf16_fmt{});
}
