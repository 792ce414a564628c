// ops.h: the scalar references checked against closed-form values, then every backend the CPU
// supports against the scalar reference for lengths 1..80 (all SIMD tails) and misaligned inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

#include "kernel_test_util.h"
#include "kernels/ops.h"
#include "kernels/ops_backend.h"
#include "tensor/half.h"

namespace uma::kernels {
namespace {

std::vector<const ops_backend*> ops_backends() {
  std::vector<const ops_backend*> out;
  for (int i = 0; i < backend_count; ++i)
    if (const auto* b = find_ops(static_cast<backend_id>(i))) out.push_back(b);
  return out;
}

TEST(ops_ref, rms_norm_of_constant_row_is_the_weight) {
  std::vector<float> x(10, -3.f), w(10), y(10);
  for (int i = 0; i < 10; ++i) w[i] = 0.5f + i;
  ref::rms_norm(x.data(), w.data(), 10, 0.f, y.data());
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(y[i], -w[i], 1e-6);
  ref::rms_norm(x.data(), nullptr, 10, 0.f, x.data());  // aliasing, no weight
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(x[i], -1.f, 1e-6);
}

TEST(ops_ref, softmax_is_stable_and_normalised) {
  std::vector<float> x = {1000.f, 1001.f, 999.f, -1e30f};
  ref::softmax(x.data(), 4);
  const double e0 = std::exp(-1.0), e2 = std::exp(-2.0), s = e0 + 1 + e2;
  EXPECT_NEAR(x[0], e0 / s, 1e-6);
  EXPECT_NEAR(x[1], 1 / s, 1e-6);
  EXPECT_NEAR(x[2], e2 / s, 1e-6);
  EXPECT_EQ(x[3], 0.f);
}

TEST(ops_ref, silu_and_gelu_known_values) {
  const float g[3] = {0.f, 1.f, -2.f}, u[3] = {5.f, 2.f, 1.f};
  float o[3];
  ref::silu_mul(g, u, o, 3);
  EXPECT_EQ(o[0], 0.f);
  EXPECT_NEAR(o[1], 2.0 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(o[2], -2.0 / (1 + std::exp(2.0)), 1e-6);
  ref::gelu_mul(g, u, o, 3);
  EXPECT_EQ(o[0], 0.f);
  EXPECT_NEAR(o[1], 2 * 0.8411920071, 1e-5);  // gelu_tanh(1)
}

TEST(ops_ref, rope_rotates_the_right_pairs_by_the_right_angle) {
  const int head_dim = 8;
  rope_params p;
  p.n_rot = 8;
  p.freq_base = 100.f;
  for (auto style : {rope_style::normal, rope_style::neox}) {
    p.style = style;
    for (int i = 0; i < 4; ++i) {
      float x[head_dim] = {};
      const int i0 = style == rope_style::normal ? 2 * i : i;
      const int i1 = style == rope_style::normal ? 2 * i + 1 : i + 4;
      x[i0] = 1.f;
      ref::rope(x, 1, head_dim, 3, p);
      const double theta = 3 * std::pow(100.0, -2.0 * i / 8);
      EXPECT_NEAR(x[i0], std::cos(theta), 1e-6);
      EXPECT_NEAR(x[i1], std::sin(theta), 1e-6);
      for (int k = 0; k < head_dim; ++k) {
        if (k != i0 && k != i1) {
          EXPECT_EQ(x[k], 0.f);
        }
      }
    }
  }
  // Frequency factors divide the angle; position 0 is the identity; dims past n_rot untouched.
  float ff[2] = {1.f, 4.f};
  p.n_rot = 4;
  p.freq_factors = ff;
  p.style = rope_style::normal;
  float x[8] = {0, 0, 1, 0, 7, 7, 7, 7};
  ref::rope(x, 1, 8, 5, p);
  const double theta = 5 * std::pow(100.0, -0.5) / 4;
  EXPECT_NEAR(x[2], std::cos(theta), 1e-6);
  EXPECT_NEAR(x[3], std::sin(theta), 1e-6);
  EXPECT_EQ(x[4], 7.f);
  float y[4] = {1, 2, 3, 4};
  ref::rope(y, 1, 4, 0, p);
  EXPECT_EQ(y[1], 2.f);
}

TEST(ops, rope_in_two_steps_is_bit_identical_to_rope) {
  std::mt19937 rng(23);
  std::normal_distribution<float> nd;
  const float ff[32] = {1.f, 2.f, 4.f, 8.f, 1.5f, 3.f, 1.f, 1.f, 2.f, 2.f, 1.f,
                        1.f, 1.f, 1.f, 1.f, 1.f,  1.f, 1.f, 1.f, 1.f, 1.f, 1.f,
                        1.f, 1.f, 1.f, 1.f, 1.f,  1.f, 1.f, 1.f, 1.f, 1.f};
  for (int n_rot : {64, 48}) {
    for (auto style : {rope_style::normal, rope_style::neox}) {
      for (const float* factors : {static_cast<const float*>(nullptr), ff}) {
        rope_params p;
        p.n_rot = n_rot, p.freq_base = 1e6f, p.freq_scale = 0.25f, p.style = style;
        p.freq_factors = factors;
        for (int64_t pos : {0, 1, 37, 40959}) {
          std::vector<float> a(3 * 64), b;
          for (auto& v : a) v = nd(rng);
          b = a;
          kernels::rope(a.data(), 3, 64, pos, p);
          std::vector<float> cs(static_cast<size_t>(n_rot));
          kernels::rope_angles(pos, p, cs.data(), cs.data() + n_rot / 2);
          kernels::rope_with(b.data(), 3, 64, cs.data(), cs.data() + n_rot / 2, p);
          EXPECT_EQ(a, b) << n_rot << " pos " << pos;
        }
      }
    }
  }
}

TEST(ops_ref, f16_round_trip_and_dot) {
  const float x[4] = {1.f, -2.5f, 65504.f, 0.1f};
  uint16_t h[4];
  float back[4];
  ref::f32_to_f16_row(x, h, 4);
  ref::f16_to_f32_row(h, back, 4);
  EXPECT_EQ(back[0], 1.f);
  EXPECT_EQ(back[2], 65504.f);
  EXPECT_NEAR(back[3], 0.1f, 1e-4);
  EXPECT_NEAR(ref::dot_f16(x, h, 2), 1 + 6.25, 1e-6);
  float y[2] = {1.f, 1.f};
  ref::axpy_f16(2.f, h, y, 2);
  EXPECT_EQ(y[0], 3.f);
  EXPECT_EQ(y[1], -4.f);
}

TEST(ops, every_backend_matches_scalar) {
  std::mt19937 rng(9);
  const ops_backend& s = scalar_ops();
  for (const ops_backend* b : ops_backends()) {
    SCOPED_TRACE(b->name);
    for (int64_t n = 1; n <= 80; ++n) {
      for (int off = 0; off < 2; ++off) {
        auto xv = test::random_floats(rng, n + 1, 2.f);
        auto wv = test::random_floats(rng, n + 1);
        auto uv = test::random_floats(rng, n + 1);
        const float* x = xv.data() + off;
        const float* w = wv.data() + off;
        const float* u = uv.data() + off;
        std::vector<float> a(n + 1), c(n + 1);
        s.rms_norm(x, w, n, 1e-6f, a.data());
        b->rms_norm(x, w, n, 1e-6f, c.data() + off);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(c[i + off], a[i], 1e-5f * std::fabs(a[i]) + 1e-6f);
        s.silu_mul(x, u, a.data(), n);
        b->silu_mul(x, u, c.data() + off, n);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(c[i + off], a[i], 1e-5f * std::fabs(a[i]) + 1e-6f);
        s.gelu_mul(x, u, a.data(), n);
        b->gelu_mul(x, u, c.data() + off, n);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(c[i + off], a[i], 1e-5f * std::fabs(a[i]) + 1e-6f);
        std::vector<float> sa(x, x + n), sb(n + 1);
        std::copy(x, x + n, sb.begin() + off);
        s.softmax(sa.data(), n);
        b->softmax(sb.data() + off, n);
        for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(sb[i + off], sa[i], 1e-5f * sa[i] + 1e-7f);
        double mag = 0;
        for (int64_t i = 0; i < n; ++i) mag += std::fabs(x[i] * w[i]);
        EXPECT_NEAR(b->dot_f32(x, w, n), s.dot_f32(x, w, n), 1e-5 * mag + 1e-6);
        std::vector<uint16_t> h(n + 1), h2(n + 1);
        s.f32_to_f16_row(w, h.data() + off, n);
        b->f32_to_f16_row(w, h2.data() + off, n);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(h[i + off], h2[i + off]);
        std::vector<float> f1(n), f2(n + 1);
        s.f16_to_f32_row(h.data() + off, f1.data(), n);
        b->f16_to_f32_row(h.data() + off, f2.data() + off, n);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(f1[i], f2[i + off]);
        EXPECT_NEAR(b->dot_f16(x, h.data() + off, n), s.dot_f16(x, h.data() + off, n),
                    1e-5 * mag + 1e-6);
        std::vector<float> y1(u, u + n), y2(n + 1);
        std::copy(u, u + n, y2.begin() + off);
        s.axpy_f16(0.7f, h.data() + off, y1.data(), n);
        b->axpy_f16(0.7f, h.data() + off, y2.data() + off, n);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(y2[i + off], y1[i], 1e-6f * std::fabs(y1[i]) + 1e-6f);
        std::copy(u, u + n, y1.begin());
        std::copy(u, u + n, y2.begin() + off);
        s.add(x, y1.data(), n);
        b->add(x, y2.data() + off, n);
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y2[i + off], y1[i]);
      }
    }
    // RoPE with precomputed angles: both styles, rotations of 2..64 dims (every SIMD tail) in
    // wider heads, 1-3 heads, frequency factors, large positions, a misaligned start.
    for (auto style : {rope_style::normal, rope_style::neox}) {
      for (int n_rot : {2, 6, 8, 14, 16, 24, 32, 40, 48, 62, 64}) {
        std::vector<float> ff(n_rot / 2);
        for (auto& v : ff) v = 1.f + static_cast<float>(rng() % 8);
        for (const float* factors :
             {static_cast<const float*>(nullptr), static_cast<const float*>(ff.data())}) {
          rope_params p;
          p.n_rot = n_rot;
          p.freq_base = 1e6f;
          p.freq_scale = 0.5f;
          p.style = style;
          p.freq_factors = factors;
          const int64_t head_dim = n_rot + 2 * (rng() % 3), heads = 1 + rng() % 3;
          for (int64_t pos : {0, 1, 17, 4000}) {
            std::vector<float> cs(static_cast<size_t>(n_rot));
            ref::rope_angles(pos, p, cs.data(), cs.data() + n_rot / 2);
            const int off = static_cast<int>(pos % 2);
            auto x1 = test::random_floats(rng, static_cast<size_t>(heads * head_dim + off));
            auto x2 = x1;
            s.rope_with(x1.data() + off, heads, head_dim, cs.data(), cs.data() + n_rot / 2, p);
            b->rope_with(x2.data() + off, heads, head_dim, cs.data(), cs.data() + n_rot / 2, p);
            for (size_t i = 0; i < x1.size(); ++i)
              ASSERT_NEAR(x2[i], x1[i], 2e-6f * (1.f + std::fabs(x1[i])))
                  << n_rot << " " << head_dim << " " << i;
          }
        }
      }
    }
  }
}

// Flash-attention blocks: the reference against a direct two-pass softmax over all keys, then
// every backend against the reference over several blocks, odd head sizes, masked rows and
// misaligned strides.
struct attn_case {
  int64_t m, d, dv, n_keys;
};

// n random F16 values (test::random_floats with this sigma, rounded to F16).
std::vector<uint16_t> random_f16(std::mt19937& rng, int64_t n, float sigma) {
  const auto f = test::random_floats(rng, static_cast<size_t>(n), sigma);
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(f[i]);
  return h;
}

std::vector<float> attend_blocks(void (*fn)(const attn_block_args&), const attn_case& c,
                                 const std::vector<float>& q, const std::vector<uint16_t>& k,
                                 const std::vector<uint16_t>& v, int64_t ldk, int64_t ldv,
                                 int64_t block, const std::vector<int32_t>& first,
                                 const std::vector<int32_t>& last) {
  std::vector<float> o(c.m * c.dv, 0.f), mx(c.m, -INFINITY), sum(c.m, 0.f);
  std::vector<float> scratch(block * (c.d + c.dv));
  std::vector<int32_t> lo(c.m), hi(c.m);
  for (int64_t j0 = 0; j0 < c.n_keys; j0 += block) {
    attn_block_args a;
    a.q = q.data(), a.m = c.m, a.ldq = c.d, a.d = c.d, a.dv = c.dv;
    a.k = k.data() + j0 * ldk, a.v = v.data() + j0 * ldv, a.ldk = ldk, a.ldv = ldv;
    a.nk = std::min(block, c.n_keys - j0);
    for (int64_t i = 0; i < c.m; ++i) {
      lo[i] = static_cast<int32_t>(std::clamp<int64_t>(first[i] - j0, 0, a.nk));
      hi[i] = static_cast<int32_t>(std::clamp<int64_t>(last[i] + 1 - j0, lo[i], a.nk));
    }
    a.lo = lo.data(), a.hi = hi.data(), a.row_max = mx.data(), a.row_sum = sum.data();
    a.o = o.data(), a.ldo = c.dv, a.scratch = scratch.data();
    fn(a);
  }
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t e = 0; e < c.dv; ++e) o[i * c.dv + e] /= sum[i];
  return o;
}

TEST(ops, attention_blocks_match_two_pass_softmax_on_every_backend) {
  std::mt19937 rng(9);
  for (const attn_case& c :
       {attn_case{1, 8, 8, 5}, attn_case{6, 64, 64, 40}, attn_case{5, 24, 40, 70},
        attn_case{33, 128, 128, 50}, attn_case{3, 12, 20, 17},
        // Decode shapes (one token's GQA group of 1-8 query rows): the in-register path.
        attn_case{1, 128, 128, 40}, attn_case{2, 128, 128, 50}, attn_case{4, 128, 128, 70},
        attn_case{7, 64, 64, 33}, attn_case{8, 80, 48, 20}, attn_case{3, 256, 256, 67}}) {
    const int64_t ldk = c.d + 3, ldv = c.dv + 1;  // keys/values at odd strides
    auto qf = test::random_floats(rng, c.m * c.d);
    const auto k = random_f16(rng, c.n_keys * ldk, 2.f);
    const auto v = random_f16(rng, c.n_keys * ldv, 1.f);
    // Row i sees keys [first, last]: causal-like ranges, one sliding window, one single key.
    std::vector<int32_t> first(c.m), last(c.m);
    for (int64_t i = 0; i < c.m; ++i) {
      last[i] = static_cast<int32_t>(c.n_keys - 1 - (c.m - 1 - i) % c.n_keys);
      first[i] = i % 3 == 1 ? std::max(0, last[i] - 9) : 0;
    }
    first[0] = last[0];
    // Direct reference: two-pass softmax in double.
    std::vector<float> want(c.m * c.dv);
    for (int64_t i = 0; i < c.m; ++i) {
      std::vector<double> s;
      double mx = -INFINITY;
      for (int64_t j = first[i]; j <= last[i]; ++j) {
        double acc = 0;
        for (int64_t e = 0; e < c.d; ++e)
          acc += double(qf[i * c.d + e]) * f16_to_f32(k[j * ldk + e]);
        s.push_back(acc);
        mx = std::max(mx, acc);
      }
      double z = 0;
      for (double& x : s) z += (x = std::exp(x - mx));
      for (int64_t e = 0; e < c.dv; ++e) {
        double acc = 0;
        for (int64_t j = first[i]; j <= last[i]; ++j)
          acc += s[j - first[i]] * f16_to_f32(v[j * ldv + e]);
        want[i * c.dv + e] = static_cast<float>(acc / z);
      }
    }
    for (int64_t block : {16, 64}) {
      const auto got_ref =
          attend_blocks(ref::attn_block_f16, c, qf, k, v, ldk, ldv, block, first, last);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got_ref[i], want[i], 2e-5 * (1 + std::fabs(want[i])))
            << "ref block " << block << " i " << i;
      for (const ops_backend* b : ops_backends()) {
        const auto got =
            attend_blocks(b->attn_block_f16, c, qf, k, v, ldk, ldv, block, first, last);
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_NEAR(got[i], got_ref[i], 2e-5 * (1 + std::fabs(got_ref[i])))
              << b->name << " m " << c.m << " d " << c.d << " block " << block << " i " << i;
      }
    }
  }
}

// A query row's output must not depend on which other rows share its block calls: prefill (all
// of a run's rows at once) and token-by-token decode (one token's GQA group) then agree to the bit
// (the model tests check that end to end). Each row alone against all rows together, per backend.
TEST(ops, attention_row_result_does_not_depend_on_its_neighbours) {
  std::mt19937 rng(11);
  for (const attn_case& c : {attn_case{9, 128, 128, 45}, attn_case{7, 64, 64, 33},
                             attn_case{6, 24, 40, 30}, attn_case{16, 80, 48, 20}}) {
    const int64_t ldk = c.d, ldv = c.dv;
    auto qf = test::random_floats(rng, c.m * c.d);
    const auto k = random_f16(rng, c.n_keys * ldk, 2.f);
    const auto v = random_f16(rng, c.n_keys * ldv, 1.f);
    std::vector<int32_t> first(c.m), last(c.m);
    for (int64_t i = 0; i < c.m; ++i) {  // causal: row i is the token at n_keys - m + i
      last[i] = static_cast<int32_t>(c.n_keys - c.m + i);
      first[i] = i % 4 == 3 ? std::max(0, last[i] - 11) : 0;
    }
    for (const ops_backend* b : ops_backends()) {
      const auto all = attend_blocks(b->attn_block_f16, c, qf, k, v, ldk, ldv, 16, first, last);
      for (int64_t i = 0; i < c.m; ++i) {
        const attn_case one{1, c.d, c.dv, c.n_keys};
        const std::vector<float> qi(qf.begin() + i * c.d, qf.begin() + (i + 1) * c.d);
        const auto alone =
            attend_blocks(b->attn_block_f16, one, qi, k, v, ldk, ldv, 16, {first[i]}, {last[i]});
        for (int64_t e = 0; e < c.dv; ++e)
          ASSERT_EQ(alone[e], all[i * c.dv + e])
              << b->name << " m " << c.m << " d " << c.d << " row " << i << " e " << e;
      }
    }
  }
}

}  // namespace
}  // namespace uma::kernels
