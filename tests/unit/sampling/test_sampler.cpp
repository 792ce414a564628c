// Sampler chain against hand-computed distributions, seed determinism, parameter validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "sampling/sampler.h"

namespace uma::sampling {
namespace {

// Probabilities 1/2, 1/4, 1/8, 1/8 at temperature 1.
const std::vector<float> k_logits = {std::log(4.f), std::log(2.f), 0.f, 0.f};

params plain() {
  params p;
  p.temperature = 1.f;
  p.top_k = 0;
  p.top_p = 1.f;
  p.min_p = 0.f;
  return p;
}

std::map<int32_t, float> dist(const params& p, const std::vector<float>& logits = k_logits,
                              const std::vector<int32_t>& history = {}) {
  auto s = sampler::create(p, static_cast<int64_t>(logits.size()));
  EXPECT_TRUE(s.ok()) << s.message();
  for (auto t : history) s->accept(t);
  std::map<int32_t, float> m;
  for (const auto& c : s->distribution(logits.data())) m[c.id] = c.p;
  return m;
}

void expect_dist(const std::map<int32_t, float>& got, const std::map<int32_t, float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, p] : want) {
    ASSERT_TRUE(got.count(id)) << "token " << id << " missing";
    EXPECT_NEAR(got.at(id), p, 1e-5) << "token " << id;
  }
}

TEST(Sampler, PlainSoftmax) {
  expect_dist(dist(plain()), {{0, .5f}, {1, .25f}, {2, .125f}, {3, .125f}});
}

TEST(Sampler, Temperature) {
  auto p = plain();
  p.temperature = 0.5f;  // p_i^2 renormalized: 16, 4, 1, 1 over 22
  expect_dist(dist(p), {{0, 16 / 22.f}, {1, 4 / 22.f}, {2, 1 / 22.f}, {3, 1 / 22.f}});
  p.temperature = 2.f;  // sqrt: 2, sqrt2, 1, 1
  const float z = 4 + std::sqrt(2.f);
  expect_dist(dist(p), {{0, 2 / z}, {1, std::sqrt(2.f) / z}, {2, 1 / z}, {3, 1 / z}});
}

TEST(Sampler, TopK) {
  auto p = plain();
  p.top_k = 2;
  expect_dist(dist(p), {{0, 2 / 3.f}, {1, 1 / 3.f}});
  p.top_k = 1;
  expect_dist(dist(p), {{0, 1.f}});
}

TEST(Sampler, TopP) {
  auto p = plain();
  p.top_p = 0.7f;  // cumulative 0.5, 0.75 -> two kept
  expect_dist(dist(p), {{0, 2 / 3.f}, {1, 1 / 3.f}});
  p.top_p = 0.5f;  // the first alone reaches 0.5
  expect_dist(dist(p), {{0, 1.f}});
  p.top_p = 0.8f;  // 0.5, 0.75, 0.875 -> three
  expect_dist(dist(p), {{0, 4 / 7.f}, {1, 2 / 7.f}, {2, 1 / 7.f}});
}

TEST(Sampler, MinP) {
  auto p = plain();
  p.min_p = 0.3f;  // threshold 0.15
  expect_dist(dist(p), {{0, 2 / 3.f}, {1, 1 / 3.f}});
  p.min_p = 0.25f;  // threshold 0.125: all stay
  expect_dist(dist(p), {{0, .5f}, {1, .25f}, {2, .125f}, {3, .125f}});
}

TEST(Sampler, TypicalP) {
  // Entropy H = 1.75 ln2; |surprise - H| = 0.75, 0.25, 1.25, 1.25 (x ln2): token 1 is the most
  // typical, then token 0.
  auto p = plain();
  p.typical_p = 0.7f;  // cumulative 0.25 (token 1), 0.75 (token 0)
  expect_dist(dist(p), {{0, 2 / 3.f}, {1, 1 / 3.f}});
  p.typical_p = 0.2f;
  expect_dist(dist(p), {{1, 1.f}});
}

TEST(Sampler, RepetitionPenalty) {
  auto p = plain();
  p.repeat_penalty = 2.f;
  // Token 0's positive logit ln4 is divided (-> ln2); token 3's negative logit -1 multiplied (->
  // -2).
  std::vector<float> logits = {std::log(4.f), std::log(2.f), 0.f, -1.f};
  const float e2 = std::exp(-2.f);
  const float z = 2 + 2 + 1 + e2;
  expect_dist(dist(p, logits, {0, 3, 0}), {{0, 2 / z}, {1, 2 / z}, {2, 1 / z}, {3, e2 / z}});
}

TEST(Sampler, PresenceAndFrequencyPenalties) {
  auto p = plain();
  p.presence_penalty = 0.25f;
  p.frequency_penalty = 0.5f;
  // Token 1 seen twice: ln2 - 2 * 0.5 - 0.25.
  const float l1 = std::exp(std::log(2.f) - 1.25f);
  const float z = 4 + l1 + 1 + 1;
  expect_dist(dist(p, k_logits, {1, 1}), {{0, 4 / z}, {1, l1 / z}, {2, 1 / z}, {3, 1 / z}});
  // Outside the window: no effect.
  p.repeat_last_n = 1;
  const float l1b = std::exp(std::log(2.f) - 0.75f);  // only the last occurrence counts
  const float zb = 4 + l1b + 2;
  expect_dist(dist(p, k_logits, {1, 1}), {{0, 4 / zb}, {1, l1b / zb}, {2, 1 / zb}, {3, 1 / zb}});
}

TEST(Sampler, LogitBias) {
  auto p = plain();
  p.logit_bias = {{3, std::log(4.f)}, {1, -std::numeric_limits<float>::infinity()}};
  // 4, banned, 1, 4 over 9
  expect_dist(dist(p), {{0, 4 / 9.f}, {2, 1 / 9.f}, {3, 4 / 9.f}});
}

TEST(Sampler, GreedyIsArgmaxAfterPenalties) {
  params p;
  p.temperature = 0.f;
  auto s = sampler::create(p, 4);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->sample(k_logits.data()), 0);
  p.logit_bias = {{2, 10.f}};
  auto s2 = sampler::create(p, 4);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->sample(k_logits.data()), 2);
  p.logit_bias.clear();
  p.repeat_penalty = 4.f;  // ln4 / 4 < ln2
  auto s3 = sampler::create(p, 4);
  ASSERT_TRUE(s3.ok());
  s3->accept(0);
  EXPECT_EQ(s3->sample(k_logits.data()), 1);
}

// The chain's first top_k by its plain definition: (logit, id) pairs stable-sorted by descending
// logit (NaN as -inf), the banned ones (-inf) dropped keeping one, then the first top_k.
std::vector<std::pair<float, int32_t>> plain_first_k(const std::vector<float>& logits,
                                                     int64_t top_k) {
  std::vector<std::pair<float, int32_t>> order;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    order.emplace_back(std::isnan(l) ? -std::numeric_limits<float>::infinity() : l, int32_t(i));
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  while (order.size() > 1 && std::isinf(order.back().first)) order.pop_back();
  if (static_cast<size_t>(top_k) < order.size()) order.resize(static_cast<size_t>(top_k));
  return order;
}

// Over a large vocabulary with many tied logits and banned tokens, the chain selects its top-k
// (or the greedy argmax) without sorting everything: the same candidates in the same order as
// the plain definition, a stable sort of all ids by descending logit with banned ones dropped
// (keeping one) before top-k, and greedy the first of that order.
TEST(Sampler, TopKAndGreedyMatchAFullStableSort) {
  const int64_t n = 20000;
  std::vector<float> logits(static_cast<size_t>(n));
  uint32_t x = 12345;
  for (auto& l : logits) {  // a few hundred distinct values: many ties
    x = x * 1664525u + 1013904223u;
    l = static_cast<float>((x >> 16) % 300) / 10.f;
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (const int64_t top_k : {int64_t{1}, int64_t{7}, int64_t{40}, int64_t{1000}, n + 5}) {
    for (const int banned : {0, 3, 19995, int(n)}) {
      SCOPED_TRACE(testing::Message() << "top_k " << top_k << " banned " << banned);
      params p = plain();
      p.top_k = static_cast<int32_t>(top_k);
      for (int i = 0; i < banned; ++i) p.logit_bias.emplace_back((i * 7919) % n, -inf);
      std::vector<float> biased = logits;
      for (const auto& [tok, b] : p.logit_bias) biased[size_t(tok)] += b;
      const auto want = plain_first_k(biased, top_k);
      auto s = sampler::create(p, n);
      ASSERT_TRUE(s.ok()) << s.message();
      const auto got = s->distribution(logits.data());
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i].id, want[i].second) << i;
      p.temperature = 0.f;
      auto g = sampler::create(p, n);
      ASSERT_TRUE(g.ok());
      EXPECT_EQ(g->sample(logits.data()), want[0].second);
    }
  }
}

// The same with what changes single logits: penalties over a history with repeats (positive and
// negative logits), biases that lift tokens into the top-k or sink them (a token biased twice
// gets both), and NaN logits (broken weights), which rank as banned tokens and must not upset
// the selection. The plain definition again: every logit changed in the chain's order, NaN as
// -inf, a stable sort, banned ones dropped keeping one, the first k.
TEST(Sampler, TopKMatchesAFullStableSortWithPenaltiesBiasesAndNaN) {
  const int64_t n = 5000;
  std::vector<float> logits(static_cast<size_t>(n));
  uint32_t x = 777;
  auto next = [&] {
    x = x * 1664525u + 1013904223u;
    return x >> 16;
  };
  for (auto& l : logits) l = static_cast<float>(int(next() % 200) - 100) / 10.f;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (int i = 0; i < 40; ++i) logits[next() % n] = nan;
  std::vector<int32_t> history;
  for (int i = 0; i < 90; ++i) history.push_back(int32_t(next() % 60));  // repeats
  history.push_back(int32_t(next() % n));
  for (const bool all_nan : {false, true}) {
    std::vector<float> ls = logits;
    if (all_nan) std::fill(ls.begin(), ls.end(), nan);
    for (const int64_t top_k : {int64_t{1}, int64_t{7}, int64_t{40}, int64_t{300}, n}) {
      SCOPED_TRACE(testing::Message() << "top_k " << top_k << " all NaN " << all_nan);
      params p = plain();
      p.top_k = static_cast<int32_t>(top_k);
      p.repeat_penalty = 1.3f;
      p.presence_penalty = 0.5f;
      p.frequency_penalty = 0.25f;
      p.repeat_last_n = 64;
      for (int i = 0; i < 30; ++i) p.logit_bias.emplace_back(int32_t(next() % n), 12.f);
      for (int i = 0; i < 30; ++i) p.logit_bias.emplace_back(int32_t(next() % n), -inf);
      p.logit_bias.emplace_back(4321, 11.f);
      p.logit_bias.emplace_back(4321, 19.f);  // 30 in all: above every other

      std::vector<float> want_l = ls;
      for (const auto& [tok, b] : p.logit_bias) want_l[size_t(tok)] += b;
      std::map<int32_t, int> counts;
      for (size_t i = history.size() - 64; i < history.size(); ++i) counts[history[i]]++;
      for (const auto& [tok, cnt] : counts) {
        float& l = want_l[size_t(tok)];
        l = l > 0 ? l / p.repeat_penalty : l * p.repeat_penalty;
        l -= float(cnt) * p.frequency_penalty + p.presence_penalty;
      }
      const auto want = plain_first_k(want_l, top_k);

      auto s = sampler::create(p, n);
      ASSERT_TRUE(s.ok()) << s.message();
      for (auto t : history) s->accept(t);
      const auto got = s->distribution(ls.data());
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i].id, want[i].second) << i;
        ASSERT_EQ(got[i].logit, want[i].first) << i;
      }
      if (!all_nan) {
        EXPECT_EQ(got[0].id, 4321);  // lifted by both of its biases
        for (const auto& c : got) EXPECT_FALSE(std::isnan(c.p)) << c.id;
      }
      p.temperature = 0.f;
      auto g = sampler::create(p, n);
      ASSERT_TRUE(g.ok());
      for (auto t : history) g->accept(t);
      EXPECT_EQ(g->sample(ls.data()), want[0].second);
    }
  }
}

TEST(Sampler, DrawsFollowTheDistribution) {
  auto s = sampler::create(plain(), 4);
  ASSERT_TRUE(s.ok());
  std::map<int32_t, int> counts;
  const int n = 40000;
  for (int i = 0; i < n; ++i) counts[s->sample(k_logits.data())]++;
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.015);
  EXPECT_NEAR(counts[1] / double(n), 0.25, 0.015);
  EXPECT_NEAR(counts[2] / double(n), 0.125, 0.015);
  EXPECT_NEAR(counts[3] / double(n), 0.125, 0.015);
}

TEST(Sampler, SeedDeterministic) {
  std::vector<float> flat(512, 0.f);
  auto run = [&](uint64_t seed) {
    auto p = plain();
    p.seed = seed;
    auto s = sampler::create(p, 512);
    EXPECT_TRUE(s.ok());
    std::vector<int32_t> out;
    for (int i = 0; i < 32; ++i) out.push_back(s->sample(flat.data()));
    return out;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
  // reset() restarts the same stream.
  auto p = plain();
  p.seed = 7;
  auto s = sampler::create(p, 512);
  ASSERT_TRUE(s.ok());
  const int32_t first = s->sample(flat.data());
  s->reset();
  EXPECT_EQ(s->sample(flat.data()), first);
}

TEST(Sampler, RejectsOutOfRangeParameters) {
  auto check = [](params p, const char* name) {
    auto s = sampler::create(p, 10);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  };
  params p;
  p.temperature = -1;
  check(p, "temperature");
  p = {};
  p.temperature = std::nanf("");
  check(p, "temperature");
  p = {};
  p.top_k = -3;
  check(p, "top_k");
  p = {};
  p.top_p = 0;
  check(p, "top_p");
  p = {};
  p.top_p = 1.5f;
  check(p, "top_p");
  p = {};
  p.min_p = -0.1f;
  check(p, "min_p");
  p = {};
  p.typical_p = 2;
  check(p, "typical_p");
  p = {};
  p.repeat_penalty = 0;
  check(p, "repeat_penalty");
  p = {};
  p.presence_penalty = 3;
  check(p, "presence_penalty");
  p = {};
  p.frequency_penalty = -2.5f;
  check(p, "frequency_penalty");
  p = {};
  p.logit_bias = {{10, 1.f}};
  check(p, "logit_bias");
  p = {};
  p.repeat_last_n = -1;
  check(p, "repeat_last_n");
  EXPECT_TRUE(sampler::create(params{}, 10).ok());
}

}  // namespace
}  // namespace uma::sampling
