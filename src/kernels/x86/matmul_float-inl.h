// Float weights (F32, F16, BF16) against activations of the same type (act_format_for), included
// by matmul_x86-inl.h inside its anonymous namespace after its tile drivers (drive, gemm_r /
// gemm_c).
//
// One tile for every width: F names the element type and the vector steps. The 256-bit builds
// take 8 floats a register (F16 by F16C, BF16 shifted into F32). The AVX-512 build takes 16
// (since 2026-12-05: the 8-float tile ran at ~0.11 of the int8 peak, about 90 % of what 256-bit
// FMAs allow), and for BF16, where the CPU has AVX512_BF16, vdpbf16ps on the bf16 pairs as they
// are: 32 products an instruction, no widening (each pair's products are exact in fp32, added to
// the lane's sum one after the other). Each (row, activation row) pair is summed in the same
// order whatever R and C are, so decode (C = 1) and prefill give the same floats.
#pragma once

// F: elem, step (elements a vector step), in / acc (register types), load(p), zero(), madd(acc,
// x, y) (acc + x . y over the step), sum(acc) (horizontal), one(p) (one element as float).
struct f32_fmt {
  using elem = float;
  using in = __m256;
  using acc = __m256;
  static constexpr int step = 8;
  static in load(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
  static acc zero() { return _mm256_setzero_ps(); }
  static acc madd(acc a, in x, in y) { return _mm256_fmadd_ps(x, y, a); }
  static float sum(acc a) { return hsum(a); }
};
struct f16_fmt : f32_fmt {
  using elem = uint16_t;
  static in load(const uint16_t* p) { return _mm256_cvtph_ps(load128(p)); }
  static float one(const uint16_t* p) { return h2f(*p); }
};
struct bf16_fmt : f32_fmt {
  using elem = uint16_t;
  static in load(const uint16_t* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
  }
  static float one(const uint16_t* p) {
    const uint32_t b = static_cast<uint32_t>(*p) << 16;
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
};

#if UMA_VNNI
template <class Narrow>  // Narrow's element and tail, 16 floats a register
struct wide_fmt : Narrow {
  using in = __m512;
  using acc = __m512;
  static constexpr int step = 16;
  static acc zero() { return _mm512_setzero_ps(); }
  static acc madd(acc a, in x, in y) { return _mm512_fmadd_ps(x, y, a); }
  static float sum(acc a) { return _mm512_reduce_add_ps(a); }
};
struct f32_fmt512 : wide_fmt<f32_fmt> {
  static in load(const float* p) { return _mm512_loadu_ps(p); }
};
struct f16_fmt512 : wide_fmt<f16_fmt> {
  static in load(const uint16_t* p) { return _mm512_cvtph_ps(load256(p)); }
};
struct bf16_dp_fmt : wide_fmt<bf16_fmt> {  // needs AVX512_BF16
  using in = __m512bh;
  static constexpr int step = 32;
  static in load(const uint16_t* p) { return reinterpret_cast<__m512bh>(_mm512_loadu_si512(p)); }
  static acc madd(acc a, in x, in y) { return _mm512_dpbf16_ps(a, x, y); }
};
#endif

template <class F, int R, int C>
void float_tile(const gemm_args& g, int64_t r0, int64_t c0) {
  using E = typename F::elem;
  const E* x[R];
  const E* y[C];
  for (int r = 0; r < R; ++r)
    x[r] = reinterpret_cast<const E*>(g.w + static_cast<size_t>(r0 + r) * g.w_row_bytes);
  for (int c = 0; c < C; ++c)
    y[c] = reinterpret_cast<const E*>(g.a + static_cast<size_t>(c0 + c) * g.a_row_bytes);
  typename F::acc acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = F::zero();
  int64_t i = 0;
  for (; i + F::step <= g.cols; i += F::step) {
    typename F::in yv[C];
    for (int c = 0; c < C; ++c) yv[c] = F::load(y[c] + i);
    for (int r = 0; r < R; ++r) {
      const typename F::in xv = F::load(x[r] + i);
      for (int c = 0; c < C; ++c) acc[r][c] = F::madd(acc[r][c], xv, yv[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = F::sum(acc[r][c]);
      for (int64_t k = i; k < g.cols; ++k) s += F::one(x[r] + k) * F::one(y[c] + k);
      g.y[(c0 + c) * g.ldy + r0 + r] = s;
    }
}

template <class F>
struct float_t {
  template <int R, int C>
  struct t {
    static void run(const gemm_args& g, int64_t r, int64_t c) { float_tile<F, R, C>(g, r, c); }
  };
};

// The float entries: gemm_r x gemm_c tiles (4 x 4 on AVX-512), 4 x 1 for decode.
inline void fill_float_table(uma::kernels::matmul_backend& b) {
  using uma::dtype;
  const auto set = [&](dtype t, auto fmt) {
    using F = decltype(fmt);
    b.matvec[static_cast<size_t>(t)] = drive<float_t<F>::template t, 4, 1>;
    b.gemm[static_cast<size_t>(t)] = drive<float_t<F>::template t, gemm_r, gemm_c>;
  };
#if UMA_VNNI
  set(dtype::f32, f32_fmt512{});
  set(dtype::f16, f16_fmt512{});
  if (uma::cpu().avx512_bf16)
    set(dtype::bf16, bf16_dp_fmt{});
  else
    set(dtype::bf16, bf16_fmt{});
#else
  set(dtype::f32, f32_fmt{});
  set(dtype::f16, f16_fmt{});
  set(dtype::bf16, bf16_fmt{});
#endif
}
