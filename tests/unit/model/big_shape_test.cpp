// Production vs reference on uma synth models of real shapes (Qwen3-0.6B, Qwen2.5-0.5B,
// Llama-3.2-1B): catches what tiny models cannot (head_dim 128 with n_head*head_dim != n_embd,
// 151k-token tied output, GQA 7:1, llama3 RoPE scaling x32, long rows in every weight format).
// Only a few tokens: the float64 reference streams every weight once per call. Also: prefill then
// decode gives the same logits as decoding token by token at these shapes.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/reference.h"
#include "model_test_util.h"

namespace uma::model {
namespace {

using namespace uma::model::testing;

struct big_case {
  const char* preset;
  const char* type;
};

class BigShape : public ::testing::TestWithParam<big_case> {};

std::string big_name(const ::testing::TestParamInfo<big_case>& i) {
  std::string s = std::string(i.param.preset) + "_" + i.param.type;
  for (auto& ch : s) {
    if (ch == '.' || ch == '-') ch = '_';
  }
  return s;
}

TEST_P(BigShape, ProductionMatchesReference) {
  const auto [preset, type] = GetParam();
  const std::string path = uma::test::temp_dir() + "/" + preset + "." + type + ".gguf";
  auto r = uma::test::run_uma({"synth", preset, "-o", path, "-t", type, "--seed", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    auto m = load_model(path, {.n_threads = 2, .max_context = 64});
    ASSERT_TRUE(m.ok()) << m.message();
    const int64_t nv = (*m)->config().n_vocab;
    const std::vector<int32_t> tokens = {1, 1000, 77, static_cast<int32_t>(nv - 5)};
    // Production: 3 tokens in one batch, then one decode step.
    auto cache = (*m)->make_cache(16, 1);
    auto got = prefill_all(**m, *cache, {tokens[0], tokens[1], tokens[2]});
    auto last = prefill_all(**m, *cache, {tokens[3]}, 3);
    got.insert(got.end(), last.begin(), last.end());
    reference_forward ref(**m);
    auto want = ref.forward(tokens);
    ASSERT_TRUE(want.ok()) << want.message();
    const auto bound = production_bound(type);
    const auto s = compare_logits(want->data(), got.data(), 4, nv, bound.tie);
    std::printf("%s %s: max_rel %.3g max_abs %.3g mean_abs %.3g kl_mean %.3g top1 %.2f\n", preset,
                type, s.max_rel, s.max_abs, s.mean_abs, s.kl_mean, s.top1);
    // Per weight format: F16 rounds activations to F16, the quantized formats to 8 bits.
    EXPECT_LE(s.kl_mean, bound.kl_mean);
    EXPECT_LE(s.max_rel, bound.max_rel);
    EXPECT_EQ(s.clear_argmax_mismatch, 0);
    // Prefill of 3 then decode == the same 4 tokens one at a time (production path only).
    auto c1 = (*m)->make_cache(16, 1);
    std::vector<float> one;
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto r1 = prefill_all(**m, *c1, {tokens[i]}, static_cast<int64_t>(i));
      one.insert(one.end(), r1.begin(), r1.end());
    }
    const auto d = compare_logits(one.data(), got.data(), 4, nv, path_tie);
    std::printf("%s %s: prefill+decode vs token by token max_abs %.3g kl_mean %.3g\n", preset, type,
                d.max_abs, d.kl_mean);
    if (one_summation_order(**m, 3)) {
      EXPECT_LE(d.max_abs, 1e-4);
      EXPECT_EQ(d.top1, 1.0);
    } else {  // the prompt crossed into another summation order: see one_summation_order()
      EXPECT_LE(d.kl_mean, 1e-3);
      EXPECT_EQ(d.clear_argmax_mismatch, 0);
    }
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Synth, BigShape,
                         ::testing::Values(big_case{"qwen3-0.6b", "q8_0"},
                                           big_case{"qwen2.5-0.5b", "q4_0"},
                                           big_case{"qwen2.5-0.5b", "f16"},
                                           big_case{"llama-3.2-1b", "q8_0"}),
                         big_name);

}  // namespace
}  // namespace uma::model
