// ops.h: the scalar references checked against closed-form values, then every backend the CPU
// supports against the scalar reference for lengths 1..80 (all SIMD tails) and misaligned inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <string_view>

#include "kernel_test_util.h"
#include "kernels/ops.h"
#include "kernels/ops_backend.h"
#include "kernels/ref/scalar.h"
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
        // GELU of normal values with sigma 12: deep in both tails (e^(-2u) past exp's clamps).
        auto wide = test::random_floats(rng, n + 1, 12.f);
        s.gelu_mul(wide.data() + off, u, a.data(), n);
        b->gelu_mul(wide.data() + off, u, c.data() + off, n);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(c[i + off], a[i], 1e-5f * std::fabs(a[i]) + 1e-6f) << wide[i + off];
        // Soft cap 5 on values of sigma 12: both tails and the middle; near 0 the vector form's
        // difference leaves ~1e-7 of the cap absolute.
        {
          std::vector<float> ca(wide.begin() + off, wide.begin() + off + n), cb(n + 1);
          std::copy(ca.begin(), ca.end(), cb.begin() + off);
          s.softcap(ca.data(), n, 5.f);
          b->softcap(cb.data() + off, n, 5.f);
          for (int64_t i = 0; i < n; ++i) {
            ASSERT_NEAR(cb[i + off], ca[i], 1e-5f * std::fabs(ca[i]) + 2e-6f);
            ASSERT_LE(std::fabs(cb[i + off]), 5.f);
          }
        }
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
// misaligned strides, with F16 and Q8_0 K/V rows.
struct attn_case {
  int64_t m, d, dv, n_keys;
};

// n_rows rows of ld random values (test::random_floats with this sigma) stored in the format: F16
// values, or Q8_0 blocks with ggml's rounding (ld a multiple of 32).
std::vector<uint8_t> random_kv(std::mt19937& rng, kv_format f, int64_t n_rows, int64_t ld,
                               float sigma) {
  const auto x = test::random_floats(rng, static_cast<size_t>(n_rows * ld), sigma);
  const int64_t row = kv_row_bytes(f, ld);
  std::vector<uint8_t> out(static_cast<size_t>(n_rows * row));
  for (int64_t j = 0; j < n_rows; ++j) {
    uint8_t* dst = out.data() + j * row;
    if (f == kv_format::q8_0) {
      ref::convert_q8_0(x.data() + j * ld, dst, ld);
    } else {
      for (int64_t e = 0; e < ld; ++e) {
        const uint16_t h = f32_to_f16(x[static_cast<size_t>(j * ld + e)]);
        std::memcpy(dst + e * 2, &h, 2);
      }
    }
  }
  return out;
}

// Rows of keys (random_kv's, ld values each) laid out as key tiles (ops.h), written here from the
// rows' bytes independently of the kernels: F16 value e of key j at halves e * 16 + j, Q8_0 per
// group of 32 the 16 keys' scales, then for run r (values 4r .. 4r + 3) key j's four bytes at 4j,
// each q + 128.
// Whole tiles: missing keys of the last are `pad` bytes.
std::vector<uint8_t> key_tiles(kv_format f, const std::vector<uint8_t>& rows, int64_t n_keys,
                               int64_t ld, uint8_t pad = 0) {
  const int64_t tiles = (n_keys + kv_key_tile - 1) / kv_key_tile, tb = kv_tile_bytes(f, ld);
  std::vector<uint8_t> out(static_cast<size_t>(tiles * tb), pad);
  const int64_t row = kv_row_bytes(f, ld);
  if (f == kv_format::f16) {
    for (int64_t j = 0; j < n_keys; ++j)
      for (int64_t e = 0; e < ld; ++e)
        for (int b = 0; b < 2; ++b)
          out[j / kv_key_tile * tb + (e * kv_key_tile + j % kv_key_tile) * 2 + b] =
              rows[j * row + e * 2 + b];
    return out;
  }
  for (int64_t j = 0; j < n_keys; ++j) {
    uint8_t* tile = out.data() + j / kv_key_tile * tb;
    const int64_t slot = j % kv_key_tile;
    for (int64_t g = 0; g < ld / 32; ++g) {
      const uint8_t* b = rows.data() + j * row + g * 34;
      uint8_t* grp = tile + g * 544;
      grp[slot * 2] = b[0], grp[slot * 2 + 1] = b[1];
      for (int64_t e = 0; e < 32; ++e)
        grp[32 + e / 4 * 64 + slot * 4 + e % 4] =
            static_cast<uint8_t>(static_cast<int8_t>(b[2 + e]) + 128);
    }
  }
  return out;
}

// The values a Q8_0 cache's scores multiply the keys by: the query rows rounded to Q8_0 (ggml's
// bytes, checked against ref::convert_q8_0 below) and read back.
std::vector<float> q8_rounded(const std::vector<float>& q, int64_t m, int64_t d) {
  std::vector<float> out(q.size());
  std::vector<uint8_t> row(static_cast<size_t>(kv_row_bytes(kv_format::q8_0, d)));
  for (int64_t i = 0; i < m; ++i) {
    f32_to_kv_row(kv_format::q8_0, q.data() + i * d, row.data(), d);
    kv_row_to_f32(kv_format::q8_0, row.data(), out.data() + i * d, d);
  }
  return out;
}

// Value e of row j (rows ld values apart), decoded independently of the kernels: F16 by
// tensor/half.h, Q8_0 by the scale and int8 of its block (ggml's q * d).
double kv_at(kv_format f, const std::vector<uint8_t>& rows, int64_t ld, int64_t j, int64_t e) {
  const uint8_t* r = rows.data() + j * kv_row_bytes(f, ld);
  if (f == kv_format::f16) {
    uint16_t h;
    std::memcpy(&h, r + e * 2, 2);
    return f16_to_f32(h);
  }
  const uint8_t* b = r + e / 32 * 34;
  uint16_t h;
  std::memcpy(&h, b, 2);
  return double(static_cast<int8_t>(b[2 + e % 32])) * f16_to_f32(h);
}

// All rows through fn over blocks of `block` keys (a multiple of the key tile), each call told the
// next block's rows (the prefetch hints) as the model does; the keys given as rows and passed as
// tiles (the last one's missing keys `pad` bytes); the normalised outputs.
std::vector<float> attend_blocks(void (*fn)(const attn_block_args&), const attn_case& c,
                                 kv_format f, const std::vector<float>& q,
                                 const std::vector<uint8_t>& k_rows, const std::vector<uint8_t>& v,
                                 int64_t ldk, int64_t ldv, int64_t block,
                                 const std::vector<int32_t>& first,
                                 const std::vector<int32_t>& last, uint8_t pad = 0,
                                 bool bf16 = false) {
  const std::vector<uint8_t> k = key_tiles(f, k_rows, c.n_keys, ldk, pad);
  std::vector<float> o(c.m * c.dv, 0.f), mx(c.m, -INFINITY), sum(c.m, 0.f);
  std::vector<float> scratch(block * (c.d + c.dv));
  std::vector<int32_t> lo(c.m), hi(c.m);
  const int64_t rk = kv_row_bytes(f, ldk), rv = kv_row_bytes(f, ldv);
  for (int64_t j0 = 0; j0 < c.n_keys; j0 += block) {
    attn_block_args a;
    a.q = q.data(), a.m = c.m, a.ldq = c.d, a.d = c.d, a.dv = c.dv, a.kv = f;
    a.k = k.data() + j0 * rk, a.v = v.data() + j0 * rv, a.ldk = ldk, a.ldv = ldv;
    a.nk = std::min(block, c.n_keys - j0);
    if (j0 + block < c.n_keys) {
      a.k_next = k.data() + (j0 + block) * rk, a.v_next = v.data() + (j0 + block) * rv;
      a.nk_next = std::min(block, c.n_keys - j0 - block);
    }
    for (int64_t i = 0; i < c.m; ++i) {
      lo[i] = static_cast<int32_t>(std::clamp<int64_t>(first[i] - j0, 0, a.nk));
      hi[i] = static_cast<int32_t>(std::clamp<int64_t>(last[i] + 1 - j0, lo[i], a.nk));
    }
    a.lo = lo.data(), a.hi = hi.data(), a.row_max = mx.data(), a.row_sum = sum.data();
    a.o = o.data(), a.ldo = c.dv, a.scratch = scratch.data();
    a.bf16 = bf16;
    fn(a);
  }
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t e = 0; e < c.dv; ++e) o[i * c.dv + e] /= sum[i];
  return o;
}

// Row i sees keys [first[i], last[i]]: causal-like ranges, a sliding window every third row, the
// first row a single key.
void row_ranges(int64_t m, int64_t n_keys, std::vector<int32_t>& first,
                std::vector<int32_t>& last) {
  first.assign(m, 0), last.assign(m, 0);
  for (int64_t i = 0; i < m; ++i) {
    last[i] = static_cast<int32_t>(n_keys - 1 - (m - 1 - i) % n_keys);
    first[i] = i % 3 == 1 ? std::max(0, last[i] - 9) : 0;
  }
  first[0] = last[0];
}

// The normalised outputs by a direct two-pass softmax in double over the queries qs and the
// stored keys / values (rows ldk / ldv values apart).
std::vector<double> exact_attention(const attn_case& c, kv_format f, const std::vector<float>& qs,
                                    const std::vector<uint8_t>& k, int64_t ldk,
                                    const std::vector<uint8_t>& v, int64_t ldv,
                                    const std::vector<int32_t>& first,
                                    const std::vector<int32_t>& last) {
  std::vector<double> want(c.m * c.dv);
  for (int64_t i = 0; i < c.m; ++i) {
    std::vector<double> s;
    for (int64_t j = first[i]; j <= last[i]; ++j) {
      double acc = 0;
      for (int64_t e = 0; e < c.d; ++e) acc += double(qs[i * c.d + e]) * kv_at(f, k, ldk, j, e);
      s.push_back(acc);
    }
    const double mx = *std::max_element(s.begin(), s.end());
    double z = 0;
    for (double& x : s) z += (x = std::exp(x - mx));
    for (int64_t e = 0; e < c.dv; ++e) {
      double acc = 0;
      for (int64_t j = first[i]; j <= last[i]; ++j) acc += s[j - first[i]] * kv_at(f, v, ldv, j, e);
      want[i * c.dv + e] = acc / z;
    }
  }
  return want;
}

TEST(ops, attention_blocks_match_two_pass_softmax_on_every_backend) {
  std::mt19937 rng(9);
  const std::vector<attn_case> f16_cases = {
      attn_case{1, 8, 8, 5}, attn_case{6, 64, 64, 40}, attn_case{5, 24, 40, 70},
      attn_case{33, 128, 128, 50}, attn_case{3, 12, 20, 17},
      // Decode shapes (one token's GQA group of 1-8 query rows): the in-register path.
      attn_case{1, 128, 128, 40}, attn_case{2, 128, 128, 50}, attn_case{4, 128, 128, 70},
      attn_case{7, 64, 64, 33}, attn_case{8, 80, 48, 20}, attn_case{3, 256, 256, 67},
      // Widths of 8 but not 16 floats (the 8-float register kind on AVX-512 too), at decode
      // group sizes and a prefill group.
      attn_case{2, 24, 40, 21}, attn_case{4, 40, 24, 45}, attn_case{6, 40, 40, 37},
      attn_case{33, 24, 40, 50}, attn_case{34, 40, 24, 41}};
  // Q8_0 rows hold multiples of 32 values; also a prefill group (33 rows: the widened copy).
  const std::vector<attn_case> q8_cases = {
      attn_case{1, 32, 32, 5},     attn_case{6, 64, 64, 40},   attn_case{5, 32, 96, 70},
      attn_case{33, 128, 128, 50}, attn_case{12, 64, 32, 23},  attn_case{1, 128, 128, 40},
      attn_case{2, 128, 128, 50},  attn_case{4, 128, 128, 70}, attn_case{7, 64, 64, 33},
      attn_case{8, 96, 64, 20},    attn_case{3, 256, 256, 67}};
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const attn_case& c : f == kv_format::f16 ? f16_cases : q8_cases) {
      // Keys / values at odd strides (F16), a block of 32 apart (Q8_0), then packed rows.
      const int64_t pad_k = f == kv_format::f16 ? 3 : 32, pad_v = f == kv_format::f16 ? 1 : 32;
      for (const bool packed : {false, true}) {
        const int64_t ldk = c.d + (packed ? 0 : pad_k), ldv = c.dv + (packed ? 0 : pad_v);
        auto qf = test::random_floats(rng, c.m * c.d);
        const auto k = random_kv(rng, f, c.n_keys, ldk, 2.f);
        const auto v = random_kv(rng, f, c.n_keys, ldv, 1.f);
        // A Q8_0 cache's scores use the queries rounded to Q8_0 (ggml's flash attention does).
        const auto qs = f == kv_format::q8_0 ? q8_rounded(qf, c.m, c.d) : qf;
        std::vector<int32_t> first, last;
        row_ranges(c.m, c.n_keys, first, last);
        const auto exact = exact_attention(c, f, qs, k, ldk, v, ldv, first, last);
        const std::vector<float> want(exact.begin(), exact.end());
        for (int64_t block : {16, 64}) {
          SCOPED_TRACE(testing::Message()
                       << kv_format_name(f) << " m " << c.m << " d " << c.d << " dv " << c.dv
                       << " packed " << packed << " block " << block);
          const auto got_ref =
              attend_blocks(ref::attn_block, c, f, qf, k, v, ldk, ldv, block, first, last);
          // Scores summed in float (the reference's and the vector orders): the error grows with
          // the head size.
          const double tol = 2e-5 * double(std::max<int64_t>(1, c.d / 64));
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got_ref[i], want[i], tol * (1 + std::fabs(want[i]))) << "ref i " << i;
          for (const ops_backend* b : ops_backends()) {
            const auto got =
                attend_blocks(b->attn_block, c, f, qf, k, v, ldk, ldv, block, first, last);
            for (size_t i = 0; i < want.size(); ++i)
              ASSERT_NEAR(got[i], got_ref[i], tol * (1 + std::fabs(got_ref[i])))
                  << b->name << " i " << i;
          }
        }
      }
    }
  }
}

// BF16 products (attn_block_args::bf16): the reference rounds the queries, F16 keys, weights and
// values to bf16 and adds pair products as vdpbf16ps; a backend with them (ops_backend::attn_bf16)
// follows it, the others ignore the flag (the f32 result to the bit), and calls of up to 8 rows
// stay f32 everywhere.
// The dispatch never picks the emulated tiles (slow by design) unless UMA_BACKEND names them: the
// amx-emulated table is a real one since it carries the tile attention.
TEST(ops, best_ops_is_not_the_emulation) {
  const char* env = std::getenv("UMA_BACKEND");
  if (env == nullptr || std::string_view(env) != "amx-emulated")
    EXPECT_STRNE(best_ops().name, "amx-emulated");
  else
    EXPECT_STREQ(best_ops().name, "amx-emulated");
  if (env == nullptr) {
    // The widest SIMD table this CPU has.
    const ops_backend* widest = &scalar_ops();
    for (backend_id id : {backend_id::avx2, backend_id::avx512, backend_id::amx, backend_id::neon})
      if (const ops_backend* b = find_ops(id)) widest = b;
    EXPECT_STREQ(best_ops().name, widest->name);
  }
}

TEST(ops, attention_bf16_products_follow_the_reference) {
  std::mt19937 rng(23);
  EXPECT_EQ(attn_bf16_round(1.f), 0x3f80);
  EXPECT_EQ(attn_bf16_round(1.00390625f), 0x3f80);  // a tie: to even
  EXPECT_EQ(attn_bf16_round(1.01171875f), 0x3f82);  // a tie: to even (up)
  EXPECT_EQ(attn_bf16_round(-1e-39f), 0x8000);      // a denormal: a zero of its sign
  EXPECT_EQ(attn_bf16_round(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to inf
  EXPECT_TRUE(std::isnan(bf16_to_f32(attn_bf16_round(NAN))));
  int64_t checked = 0;
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const attn_case& c :
         {attn_case{9, 64, 64, 45}, attn_case{33, 128, 128, 70}, attn_case{12, 32, 96, 37},
          attn_case{17, 96, 32, 64}, attn_case{6, 64, 64, 40}}) {
      // Packed rows, then keys / values at odd strides (F16: rows that start misaligned) or a
      // block apart (Q8_0), each with both block sizes.
      for (const bool packed : {true, false}) {
        const int64_t ldk = c.d + (packed ? 0 : f == kv_format::f16 ? 3 : 32);
        const int64_t ldv = c.dv + (packed ? 0 : f == kv_format::f16 ? 1 : 32);
        auto qf = test::random_floats(rng, c.m * c.d, 0.3f);
        const auto k = random_kv(rng, f, c.n_keys, ldk, 1.f);
        const auto v = random_kv(rng, f, c.n_keys, ldv, 1.f);
        const auto qs = f == kv_format::q8_0 ? q8_rounded(qf, c.m, c.d) : qf;
        std::vector<int32_t> first, last;
        row_ranges(c.m, c.n_keys, first, last);
        // The exact attention of the unrounded inputs, in double.
        const auto want = exact_attention(c, f, qs, k, ldk, v, ldv, first, last);
        for (int64_t block : {16, 64}) {
          SCOPED_TRACE(testing::Message()
                       << kv_format_name(f) << " m " << c.m << " d " << c.d << " dv " << c.dv
                       << " packed " << packed << " block " << block);
          const auto run = [&](void (*fn)(const attn_block_args&), bool bf16) {
            return attend_blocks(fn, c, f, qf, k, v, ldk, ldv, block, first, last, 0, bf16);
          };
          const auto ref_bf = run(ref::attn_block, true), ref_f32 = run(ref::attn_block, false);
          // Rounding the inputs to 8 significant bits moves the outputs by up to ~3e-2 here (the
          // scores' spread 1.7-3.4); the f32 products stay far closer to the double values.
          double err_bf = 0, err_f32 = 0;
          for (size_t i = 0; i < want.size(); ++i) {
            err_bf = std::max(err_bf, std::fabs(ref_bf[i] - want[i]));
            err_f32 = std::max(err_f32, std::fabs(ref_f32[i] - want[i]));
          }
          if (c.m > 8) {
            EXPECT_LT(err_bf, 6e-2);
            EXPECT_GT(err_bf, 20 * err_f32) << "the reference did not round to bf16";
          } else {
            EXPECT_EQ(ref_bf, ref_f32) << "up to 8 rows stay f32";
          }
          for (const ops_backend* b : ops_backends()) {
            const auto got = run(b->attn_block, true);
            if (!b->attn_bf16 || c.m <= 8) {
              ASSERT_EQ(got, run(b->attn_block, false)) << b->name << ": the flag ignored";
              continue;
            }
            // The reference's exp and the vector one differ in the last bits, and a weight that
            // lands on a bf16 rounding boundary may then round the other way: nearly every output
            // within f32 noise of the reference, all within a few bf16 steps of a weight.
            int64_t close = 0;
            for (size_t i = 0; i < got.size(); ++i) {
              const double diff = std::fabs(got[i] - ref_bf[i]);
              ASSERT_LT(diff, 4e-3 * (1 + std::fabs(ref_bf[i]))) << b->name << " i " << i;
              close += diff <= 2e-5 * (1 + std::fabs(ref_bf[i]));
            }
            EXPECT_GE(close, static_cast<int64_t>(got.size()) * 95 / 100) << b->name;
            // A row's chains do not depend on the rows beside it: the first 9 rows alone (still
            // more than 8) give the same bits.
            if (c.m > 9) {
              const attn_case nine{9, c.d, c.dv, c.n_keys};
              const std::vector<float> q9(qf.begin(), qf.begin() + 9 * c.d);
              const auto alone = attend_blocks(b->attn_block, nine, f, q9, k, v, ldk, ldv, block,
                                               {first.begin(), first.begin() + 9},
                                               {last.begin(), last.begin() + 9}, 0, true);
              for (size_t i = 0; i < alone.size(); ++i) ASSERT_EQ(alone[i], got[i]) << b->name;
            }
            if (b != &scalar_ops()) ++checked;
          }
        }
      }
    }
  }
  // On a CPU with AVX512_BF16 the AVX-512 backend takes them.
  const ops_backend* wide = nullptr;
  for (const ops_backend* b : ops_backends())
    if (b != &scalar_ops() && b->attn_bf16) wide = b;
  if (wide == nullptr)
    std::printf("no backend with BF16 products on this CPU: the reference only\n");
  EXPECT_EQ(checked > 0, wide != nullptr);
}

// A query row's output must not depend on which other rows share its block calls: prefill (all
// of a run's rows at once) and token-by-token decode (one token's GQA group) then agree to the bit
// (the model tests check that end to end). Each row alone against all rows together, per backend
// and K/V format.
TEST(ops, attention_row_result_does_not_depend_on_its_neighbours) {
  std::mt19937 rng(11);
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const attn_case& c : {attn_case{9, 128, 128, 45}, attn_case{7, 64, 64, 33},
                               attn_case{6, 32, 64, 30}, attn_case{16, 96, 32, 20}}) {
      const int64_t ldk = c.d, ldv = c.dv;
      auto qf = test::random_floats(rng, c.m * c.d);
      const auto k = random_kv(rng, f, c.n_keys, ldk, 2.f);
      const auto v = random_kv(rng, f, c.n_keys, ldv, 1.f);
      std::vector<int32_t> first(c.m), last(c.m);
      for (int64_t i = 0; i < c.m; ++i) {  // causal: row i is the token at n_keys - m + i
        last[i] = static_cast<int32_t>(c.n_keys - c.m + i);
        first[i] = i % 4 == 3 ? std::max(0, last[i] - 11) : 0;
      }
      for (const ops_backend* b : ops_backends()) {
        const auto all = attend_blocks(b->attn_block, c, f, qf, k, v, ldk, ldv, 16, first, last);
        for (int64_t i = 0; i < c.m; ++i) {
          const attn_case one{1, c.d, c.dv, c.n_keys};
          const std::vector<float> qi(qf.begin() + i * c.d, qf.begin() + (i + 1) * c.d);
          const auto alone =
              attend_blocks(b->attn_block, one, f, qi, k, v, ldk, ldv, 16, {first[i]}, {last[i]});
          for (int64_t e = 0; e < c.dv; ++e)
            ASSERT_EQ(alone[e], all[i * c.dv + e])
                << b->name << " " << kv_format_name(f) << " m " << c.m << " d " << c.d << " row "
                << i << " e " << e;
        }
      }
    }
  }
}

// A block's last tile may hold stale slots past its last key (a part-filled cache block): they are
// scored with the rest but never reach a result. All-ones bytes there (NaN scales and values in
// both formats) give the same bits as zeros, on every backend.
TEST(ops, attention_ignores_the_slots_past_the_last_key) {
  std::mt19937 rng(19);
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const attn_case& c :
         {attn_case{2, 128, 128, 45}, attn_case{12, 64, 64, 37}, attn_case{1, 32, 64, 7}}) {
      auto qf = test::random_floats(rng, c.m * c.d);
      const auto k = random_kv(rng, f, c.n_keys, c.d, 2.f);
      const auto v = random_kv(rng, f, c.n_keys, c.dv, 1.f);
      std::vector<int32_t> first(c.m, 0), last(c.m);
      for (int64_t i = 0; i < c.m; ++i)
        last[i] = static_cast<int32_t>(c.n_keys - 1 - i % std::min<int64_t>(c.n_keys, 3));
      for (const ops_backend* b : ops_backends()) {
        for (const bool bf16 : {false, true}) {  // BF16 products too (12 rows)
          const auto zeros =
              attend_blocks(b->attn_block, c, f, qf, k, v, c.d, c.dv, 64, first, last, 0x00, bf16);
          const auto ones =
              attend_blocks(b->attn_block, c, f, qf, k, v, c.d, c.dv, 64, first, last, 0xff, bf16);
          for (size_t i = 0; i < zeros.size(); ++i) {
            ASSERT_TRUE(std::isfinite(ones[i])) << b->name << " " << kv_format_name(f) << " " << i;
            ASSERT_EQ(ones[i], zeros[i]) << b->name << " " << kv_format_name(f) << " " << i;
          }
        }
      }
    }
  }
}

// f32_to_kv_row stores what the scalar converters store (F16 rounding; Q8_0 as ggml's
// quantize_row_q8_0), kv_row_to_f32 reads back the stored values, and the names round-trip.
TEST(ops, kv_rows_store_and_load_both_formats) {
  std::mt19937 rng(17);
  for (const int64_t n : {32, 64, 96, 128, 256}) {
    auto x = test::random_floats(rng, static_cast<size_t>(n), 3.f);
    x[0] = 0.f;
    std::vector<uint8_t> got(static_cast<size_t>(kv_row_bytes(kv_format::q8_0, n)));
    std::vector<uint8_t> want(got.size());
    f32_to_kv_row(kv_format::q8_0, x.data(), got.data(), n);
    ref::convert_q8_0(x.data(), want.data(), n);
    ASSERT_EQ(got, want) << n;
    std::vector<float> back(static_cast<size_t>(n));
    kv_row_to_f32(kv_format::q8_0, got.data(), back.data(), n);
    std::vector<uint8_t> row(got.begin(), got.end());
    for (int64_t e = 0; e < n; ++e) {
      EXPECT_EQ(back[e], static_cast<float>(kv_at(kv_format::q8_0, row, n, 0, e))) << e;
      // Q8_0: half a step (amax / 254) plus the scale's F16 rounding (up to amax x 2^-11).
      float amax = 0;
      for (int64_t i = e / 32 * 32; i < e / 32 * 32 + 32; ++i)
        amax = std::max(amax, std::fabs(x[i]));
      EXPECT_LE(std::fabs(back[e] - x[e]), amax * (1.f / 254 + 1.f / 1024) + 1e-6f) << e;
    }
    std::vector<uint16_t> h(static_cast<size_t>(n));
    f32_to_kv_row(kv_format::f16, x.data(), h.data(), n);
    kv_row_to_f32(kv_format::f16, h.data(), back.data(), n);
    for (int64_t e = 0; e < n; ++e) {
      EXPECT_EQ(h[e], f32_to_f16(x[e]));
      EXPECT_EQ(back[e], f16_to_f32(h[e]));
    }
  }
  EXPECT_EQ(kv_row_bytes(kv_format::f16, 128), 256);
  EXPECT_EQ(kv_row_bytes(kv_format::q8_0, 128), 136);
  EXPECT_TRUE(kv_fits(kv_format::f16, 80));
  EXPECT_FALSE(kv_fits(kv_format::q8_0, 80));
  EXPECT_TRUE(kv_fits(kv_format::q8_0, 96));
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    kv_format back = f == kv_format::f16 ? kv_format::q8_0 : kv_format::f16;
    EXPECT_TRUE(parse_kv_format(kv_format_name(f), &back));
    EXPECT_EQ(back, f);
  }
  kv_format unchanged = kv_format::f16;
  EXPECT_FALSE(parse_kv_format("q4_0", &unchanged));
  EXPECT_FALSE(parse_kv_format("", &unchanged));
  EXPECT_EQ(unchanged, kv_format::f16);
}

// f32_to_kv_key puts a key where the tile layout (key_tiles, written independently above) says,
// with f32_to_kv_row's rounding, leaving the other slots alone (keys of 64 values plus zero padding
// in tiles 96 wide among them); and kv_key_to_f32 reads the first n values back.
// attn_quantize_queries stores ggml's Q8_0 bytes of each query row, each group's scale as a float
// and 128 x its sum.
TEST(ops, kv_keys_in_tiles_and_quantized_queries) {
  std::mt19937 rng(23);
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const auto& [n, ld] : {std::pair<int64_t, int64_t>{32, 32}, {64, 96}, {128, 128}}) {
      SCOPED_TRACE(testing::Message() << kv_format_name(f) << " n " << n << " ld " << ld);
      const int64_t keys = 21;  // two tiles, the second part-filled
      auto x = test::random_floats(rng, static_cast<size_t>(keys * ld), 2.f);
      for (int64_t j = 0; j < keys; ++j)
        std::fill(x.begin() + j * ld + n, x.begin() + (j + 1) * ld, 0.f);  // the padding
      std::vector<uint8_t> rows(static_cast<size_t>(keys * kv_row_bytes(f, ld)));
      for (int64_t j = 0; j < keys; ++j)
        f32_to_kv_row(f, x.data() + j * ld, rows.data() + j * kv_row_bytes(f, ld), ld);
      const auto want = key_tiles(f, rows, keys, ld);
      std::vector<uint8_t> got(want.size(), 0);
      // Written in a shuffled order: each key touches only its own slot.
      std::vector<int64_t> order(static_cast<size_t>(keys));
      for (int64_t j = 0; j < keys; ++j) order[static_cast<size_t>(j)] = j;
      std::shuffle(order.begin(), order.end(), rng);
      for (const int64_t j : order) {
        f32_to_kv_key(f, x.data() + j * ld, ld, got.data() + j / kv_key_tile * kv_tile_bytes(f, ld),
                      j % kv_key_tile);
      }
      ASSERT_EQ(got, want);
      std::vector<float> back(static_cast<size_t>(n)), row(static_cast<size_t>(ld));
      for (int64_t j = 0; j < keys; ++j) {
        kv_key_to_f32(f, got.data() + j / kv_key_tile * kv_tile_bytes(f, ld), j % kv_key_tile,
                      back.data(), n);
        kv_row_to_f32(f, rows.data() + j * kv_row_bytes(f, ld), row.data(), ld);
        for (int64_t e = 0; e < n; ++e) ASSERT_EQ(back[e], row[e]) << j << " " << e;
      }
    }
  }
  for (const int64_t d : {32, 64, 128, 256}) {
    const int64_t m = 3, ldq = d + 5;
    const auto q = test::random_floats(rng, static_cast<size_t>(m * ldq), 1.5f);
    std::vector<uint8_t> out(static_cast<size_t>(m * attn_q8_row_bytes(d)));
    attn_quantize_queries(q.data(), m, ldq, d, out.data());
    std::vector<uint8_t> blocks(static_cast<size_t>(kv_row_bytes(kv_format::q8_0, d)));
    for (int64_t i = 0; i < m; ++i) {
      ref::convert_q8_0(q.data() + i * ldq, blocks.data(), d);
      const uint8_t* r = out.data() + i * attn_q8_row_bytes(d);
      for (int64_t g = 0; g < d / 32; ++g) {
        const uint8_t* b = blocks.data() + g * 34;
        int32_t sum = 0;
        for (int64_t e = 0; e < 32; ++e) {
          ASSERT_EQ(r[g * 32 + e], b[2 + e]) << d << " " << i << " " << g;
          sum += static_cast<int8_t>(b[2 + e]);
        }
        uint16_t h;
        std::memcpy(&h, b, 2);
        float scale;
        int32_t bias;
        std::memcpy(&scale, r + d + g * 4, 4);
        std::memcpy(&bias, r + d + (d / 32 + g) * 4, 4);
        EXPECT_EQ(scale, f16_to_f32(h));
        EXPECT_EQ(bias, 128 * sum);
      }
    }
  }
  EXPECT_EQ(kv_tile_bytes(kv_format::q8_0, 128), 16 * 136);
  EXPECT_EQ(attn_q8_row_bytes(128), 160);
}

}  // namespace
}  // namespace uma::kernels
