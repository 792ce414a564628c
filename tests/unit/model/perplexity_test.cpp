// engine::perplexity (what `uma perplexity` prints) against a hand computation with the float64
// reference: non-overlapping windows of ctx tokens, the first of each replaced by BOS, only the
// second half scored (logits at positions ctx/2 .. ctx-2 predict the next token).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/perplexity.h"
#include "model/reference.h"
#include "model_test_util.h"

namespace uma::model {
namespace {

using namespace uma::model::testing;

TEST(Perplexity, MatchesTheReferenceByHand) {
  auto m = load_model(golden_model("qwen3", "f32"), {.n_threads = 2});
  ASSERT_TRUE(m.ok()) << m.message();
  auto g = load_golden("qwen3", "f32");
  ASSERT_EQ(g.tokens.size(), 100u);
  const int64_t ctx = 32, nv = (*m)->config().n_vocab;
  const int32_t bos = 1;

  double nll = 0;
  int64_t scored = 0, windows = 0;
  for (int64_t w = 0; (w + 1) * ctx <= static_cast<int64_t>(g.tokens.size()); ++w, ++windows) {
    std::vector<int32_t> win(g.tokens.begin() + w * ctx, g.tokens.begin() + (w + 1) * ctx);
    win[0] = bos;
    reference_forward ref(**m);
    auto logits = ref.forward(win);
    ASSERT_TRUE(logits.ok()) << logits.message();
    for (int64_t i = ctx / 2; i + 1 < ctx; ++i, ++scored) {
      auto lp = log_softmax(logits->data() + i * nv, nv);
      nll -= lp[static_cast<size_t>(g.tokens[static_cast<size_t>(w * ctx + i + 1)])];
    }
  }
  ASSERT_EQ(windows, 3);  // 100 tokens: 3 whole windows of 32, the rest unused
  ASSERT_EQ(scored, 3 * 15);
  const double want = nll / double(scored);

  auto r = engine::perplexity(**m, g.tokens, ctx, bos);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->windows, windows);
  EXPECT_EQ(r->scored_tokens, scored);
  EXPECT_NEAR(r->mean_nll, want, 1e-3 * want);
  EXPECT_NEAR(r->perplexity, std::exp(want), 2e-3 * std::exp(want));
  std::printf("perplexity %.6g (reference by hand %.6g)\n", r->perplexity, std::exp(want));

  // In forwards of 7 tokens (windows of 32: chunks that straddle the scored half's start and end
  // the window short): the same tokens scored, the same result up to the matmul paths' float
  // order (7 rows take the rows tiles, 32 the prefill tiles).
  auto chunked = engine::perplexity(**m, g.tokens, ctx, bos, 7);
  ASSERT_TRUE(chunked.ok()) << chunked.message();
  EXPECT_EQ(chunked->windows, windows);
  EXPECT_EQ(chunked->scored_tokens, scored);
  EXPECT_NEAR(chunked->mean_nll, r->mean_nll, 1e-4 * want);
  auto no_chunk = engine::perplexity(**m, g.tokens, ctx, bos, 0);
  ASSERT_FALSE(no_chunk.ok());
  EXPECT_NE(no_chunk.message().find("chunk"), std::string::npos) << no_chunk.message();

  // Without a BOS the window's own first token stays: a different (valid) result.
  auto nb = engine::perplexity(**m, g.tokens, ctx, -1);
  ASSERT_TRUE(nb.ok()) << nb.message();
  EXPECT_EQ(nb->scored_tokens, scored);

  auto small = engine::perplexity(**m, g.tokens, 3, bos);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.message().find("too small"), std::string::npos) << small.message();
  auto few = engine::perplexity(**m, g.tokens, 128, bos);
  ASSERT_FALSE(few.ok());
  EXPECT_NE(few.message().find("fewer than one window"), std::string::npos) << few.message();
}

}  // namespace
}  // namespace uma::model
