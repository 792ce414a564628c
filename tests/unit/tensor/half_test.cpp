// F16 / BF16 conversions (tensor/half.h) checked exhaustively: every 16-bit pattern round-trips,
// and float -> half rounding agrees with a plain nearest-value search over all halves at every
// rounding boundary and on random floats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tensor/half.h"
#include "tensor/quant.h"

namespace uma {
namespace {

bool f16_is_nan(uint16_t h) {
  return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
}
bool bf16_is_nan(uint16_t h) {
  return (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0;
}

TEST(half, f16_every_pattern_round_trips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<uint16_t>(b);
    const float f = f16_to_f32(h);
    if (f16_is_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << b;
      EXPECT_TRUE(f16_is_nan(f32_to_f16(f))) << b;
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << "pattern " << b;
  }
}

TEST(half, f16_decodes_known_values) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
}

TEST(half, bf16_every_pattern_round_trips) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto h = static_cast<uint16_t>(b);
    const float f = bf16_to_f32(h);
    if (bf16_is_nan(h)) {
      EXPECT_TRUE(std::isnan(f)) << b;
      EXPECT_TRUE(bf16_is_nan(f32_to_bf16(f))) << b;
      continue;
    }
    ASSERT_EQ(f32_to_bf16(f), h) << "pattern " << b;
  }
}

// Reference f32 -> f16: the nearest of all finite non-negative halves (ties to the even pattern),
// infinity at or beyond 65520 (the midpoint between 65504 and 2^16), sign copied.
class f16_reference {
 public:
  f16_reference() {
    for (uint32_t b = 0; b <= 0x7bff; ++b) values_.push_back(f16_to_f32(static_cast<uint16_t>(b)));
  }
  uint16_t operator()(float f) const {
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(f));
    if (a >= 65520.0) return sign | 0x7c00;
    auto it = std::lower_bound(values_.begin(), values_.end(), a);  // first value >= a
    size_t hi = static_cast<size_t>(it - values_.begin());
    if (hi == 0) return sign;
    if (hi == values_.size()) return sign | 0x7bff;
    const size_t lo = hi - 1;
    const double dlo = a - values_[lo], dhi = values_[hi] - a;
    size_t pick = dlo < dhi ? lo : (dhi < dlo ? hi : ((lo & 1) == 0 ? lo : hi));
    return static_cast<uint16_t>(sign | pick);
  }
  const std::vector<double>& values() const { return values_; }

 private:
  std::vector<double> values_;
};

TEST(half, f32_to_f16_rounds_like_the_reference_at_every_boundary) {
  f16_reference ref;
  const auto& v = ref.values();
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    const auto mid = static_cast<float>((v[i] + v[i + 1]) / 2);  // exact: 12 significant bits
    for (float f :
         {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), static_cast<float>(v[i])}) {
      ASSERT_EQ(f32_to_f16(f), ref(f)) << f;
      ASSERT_EQ(f32_to_f16(-f), ref(-f)) << -f;
    }
  }
  for (float f : {65519.99f, 65520.0f, 65536.0f, 1e30f, 1e-30f, 0.0f}) {
    EXPECT_EQ(f32_to_f16(f), ref(f)) << f;
  }
}

TEST(half, f32_to_f16_matches_reference_on_random_floats) {
  f16_reference ref;
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> exp_dist(100, 145);  // 2^-27 .. 2^18: all regimes
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const uint32_t b = (bits(rng) & 0x807fffff) | (exp_dist(rng) << 23);
    const float f = bits_to_f32(b);
    ASSERT_EQ(f32_to_f16(f), ref(f)) << f;
  }
}

// Reference f32 -> bf16 in double arithmetic: the two bf16 neighbours of |f|, nearest wins, ties
// to the even pattern; the neighbour above the largest finite bf16 is 2^128 (infinity).
uint16_t bf16_reference(float f) {
  const uint32_t b = f32_to_bits(f);
  const uint32_t mag = b & 0x7fffffff;
  const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000);
  const uint32_t lo = mag & 0xffff0000u, hi = lo + 0x10000u;
  const double a = bits_to_f32(mag);
  const double vlo = bits_to_f32(lo);
  const double vhi = hi >= 0x7f800000u ? std::ldexp(1.0, 128) : bits_to_f32(hi);
  const double dlo = a - vlo, dhi = vhi - a;
  const uint32_t pick = dlo < dhi ? lo : (dhi < dlo ? hi : (((lo >> 16) & 1) == 0 ? lo : hi));
  return static_cast<uint16_t>(sign | (pick >> 16));
}

TEST(half, f32_to_bf16_matches_reference) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    uint32_t b = bits(rng);
    if ((b & 0x7f800000) == 0x7f800000) continue;     // inf / nan covered by the round trip
    if (i % 4 == 0) b = (b & 0xffff0000u) | 0x8000u;  // exact ties
    const float f = bits_to_f32(b);
    ASSERT_EQ(f32_to_bf16(f), bf16_reference(f)) << b;
  }
  EXPECT_EQ(f32_to_bf16(3.4e38f), 0x7f80);  // rounds up to infinity
}

TEST(half, row_codecs_match_scalar_conversions_at_any_alignment) {
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0, 3);
  std::vector<float> x(37);
  for (auto& v : x) v = g(rng);
  for (int offset = 0; offset < 4; ++offset) {
    std::vector<unsigned char> buf(2 * x.size() + 8);
    unsigned char* p = buf.data() + offset;
    quantize_row_f16(x.data(), p, static_cast<int64_t>(x.size()));
    std::vector<float> back(x.size());
    dequantize_row_f16(p, back.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      ASSERT_EQ(h, f32_to_f16(x[i]));
      ASSERT_EQ(back[i], f16_to_f32(f32_to_f16(x[i])));
    }
    quantize_row_bf16(x.data(), p, static_cast<int64_t>(x.size()));
    dequantize_row_bf16(p, back.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(back[i], bf16_to_f32(f32_to_bf16(x[i])));
  }
}

}  // namespace
}  // namespace uma
