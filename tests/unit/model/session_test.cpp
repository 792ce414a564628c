// engine::session::sync (what `uma run --chat` keeps between turns) over a cache whose sliding
// layers keep window-sized rings (tiny-gemma3, 1024 positions: rings of 38 blocks): going back
// within what the rings hold reuses the common prefix; going back further empties the cache and
// computes everything again, never reads positions the rings no longer hold.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "engine/generate.h"
#include "model_test_util.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace uma::model {
namespace {

using testing::synth_model;

TEST(Session, SyncReusesOnlyWhatTheWindowRingsHold) {
  const std::string path = synth_model("tiny-gemma3", "f32", 5);
  {
    auto m = load_model(path, {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    auto v = tok::load_vocab_file(path);
    ASSERT_TRUE(v.ok()) << v.message();
    auto t = tok::tokenizer::create(std::move(v).value());
    ASSERT_TRUE(t.ok()) << t.message();
    const int64_t nv = (*m)->config().n_vocab;
    ASSERT_GT((*m)->make_cache(1024, 1)->ring_blocks(), 0);
    std::mt19937 rng(3);
    const auto random_tokens = [&](std::vector<int32_t> v, size_t n) {
      while (v.size() < n) v.push_back(static_cast<int32_t>(rng() % nv));
      return v;
    };
    const std::vector<int32_t> a = random_tokens({}, 700);
    engine::session s(**m, *t, 1024);
    engine::generate_stats st;
    std::vector<float> got, want;
    ASSERT_TRUE(s.sync(a, got, st).ok());
    EXPECT_EQ(st.reused_tokens, 0);
    EXPECT_EQ(st.prompt_tokens, 700);
    const auto fresh = [&](const std::vector<int32_t>& tokens) {
      engine::session f(**m, *t, 1024);
      engine::generate_stats fs;
      EXPECT_TRUE(f.sync(tokens, want, fs).ok());
    };
    // Back to 690 (its 20-token window is in the rings) and on with other tokens.
    const std::vector<int32_t> b =
        random_tokens(std::vector<int32_t>(a.begin(), a.begin() + 690), 700);
    ASSERT_TRUE(s.sync(b, got, st).ok());
    EXPECT_EQ(st.reused_tokens, 690);
    EXPECT_EQ(st.prompt_tokens, 10);
    fresh(b);
    // Ten rows there, a forward of 188 in the fresh session: the matmul paths' float order apart.
    double worst = 0, top = 0;
    for (int64_t i = 0; i < nv; ++i) {
      worst = std::max(worst, double(std::fabs(got[size_t(i)] - want[size_t(i)])));
      top = std::max(top, double(std::fabs(want[size_t(i)])));
    }
    EXPECT_LE(worst, 1e-3 * top);
    // Back to 50: the rings hold positions from 96 on, so everything is computed again.
    const std::vector<int32_t> c =
        random_tokens(std::vector<int32_t>(a.begin(), a.begin() + 50), 80);
    ASSERT_TRUE(s.sync(c, got, st).ok());
    EXPECT_EQ(st.reused_tokens, 0);
    EXPECT_EQ(st.prompt_tokens, 80);
    EXPECT_EQ(s.tokens(), c);
    fresh(c);
    EXPECT_EQ(got, want);  // the same forwards from position 0
  }
}

}  // namespace
}  // namespace uma::model
