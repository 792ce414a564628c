// The production forward and the scalar reference against llama.cpp's own outputs on the tiny
// golden models (../shared/data/golden, see its README for the tolerances used here).
#include <gtest/gtest.h>

#include "kernels/ops.h"
#include "model/reference.h"
#include "model_test_util.h"

namespace uma::model {
namespace {

using namespace uma::model::testing;

struct golden_case {
  const char* arch;
  const char* type;
};

std::string case_name(const ::testing::TestParamInfo<golden_case>& i) {
  return std::string(i.param.arch) + "_" + i.param.type;
}

class Golden : public ::testing::TestWithParam<golden_case> {};

// Logits of the whole prompt in one prefill batch.
void check_logits(const golden& g, const std::vector<float>& got, bool f32, const char* who) {
  const auto s =
      compare_logits(g.logits.data(), got.data(), static_cast<int64_t>(g.tokens.size()), g.n_vocab);
  if (f32) {
    // f32: within 1e-2 absolute and the same argmax everywhere (README).
    EXPECT_LE(s.max_abs, 1e-2) << who;
    EXPECT_EQ(s.top1, 1.0) << who;
  } else {
    // Quantized: the 8-bit rounding of activations dominates; llama.cpp and a float64 forward over
    // the dequantized weights differ by KL mean <= 1.7e-3, mean |diff| <= 0.048 (README table).
    EXPECT_LE(s.kl_mean, 4e-3) << who;
    EXPECT_LE(s.mean_abs, 0.07) << who;
    EXPECT_GE(s.top1, 0.85) << who;
  }
  std::printf("[%s] max_abs %.4g mean_abs %.4g kl_mean %.3g kl_max %.3g top1 %.3f\n", who,
              s.max_abs, s.mean_abs, s.kl_mean, s.kl_max, s.top1);
}

// Our greedy tokens equal llama.cpp's up to the first position where our top two logits are within
// `tie` of each other (there the engines may legitimately pick differently).
void check_greedy(const std::vector<int32_t>& want, const std::vector<int32_t>& got,
                  const std::vector<float>& margins, float tie, const char* who) {
  ASSERT_EQ(got.size(), want.size());
  size_t agree = 0;
  for (; agree < want.size(); ++agree) {
    if (want[agree] == got[agree]) continue;
    EXPECT_LT(margins[agree], tie) << who << ": greedy differs at step " << agree
                                   << " where the top-2 margin is " << margins[agree];
    break;
  }
  std::printf("[%s] greedy agrees on %zu of %zu tokens\n", who, agree, want.size());
}

TEST_P(Golden, ProductionPrefillLogits) {
  const auto [arch, type] = GetParam();
  auto g = load_golden(arch, type);
  auto m = load_model(golden_model(arch, type), {.n_threads = 2});
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_EQ((*m)->config().n_vocab, g.n_vocab);
  auto cache = (*m)->make_cache(256, 1);
  auto logits = prefill_all(**m, *cache, g.tokens);
  check_logits(g, logits, std::string(type) == "f32", "production");
}

// BF16 products in prompt attention (load_options::attn_bf16; the 100-token prompt's attention
// calls have 64-token runs x the GQA group, so all take them): the prompt's logits within the
// quantized models' bounds against llama.cpp's F32 attention, f32 weights included. Where the CPU
// has the products the logits move; elsewhere the flag is ignored and they are the f32 ones.
TEST_P(Golden, ProductionPrefillLogitsWithBf16Attention) {
  const auto [arch, type] = GetParam();
  auto g = load_golden(arch, type);
  auto plain = load_model(golden_model(arch, type), {.n_threads = 2});
  auto bf16 = load_model(golden_model(arch, type), {.n_threads = 2, .attn_bf16 = true});
  ASSERT_TRUE(plain.ok() && bf16.ok());
  auto c1 = (*plain)->make_cache(256, 1), c2 = (*bf16)->make_cache(256, 1);
  const auto want = prefill_all(**plain, *c1, g.tokens);
  const auto got = prefill_all(**bf16, *c2, g.tokens);
  check_logits(g, got, false, "bf16 attention");
  if (kernels::attn_bf16_available())
    EXPECT_NE(got, want) << "BF16 products were not taken";
  else
    EXPECT_EQ(got, want);
}

TEST_P(Golden, ReferenceLogits) {
  const auto [arch, type] = GetParam();
  auto g = load_golden(arch, type);
  auto m = load_model(golden_model(arch, type), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  reference_forward ref(**m);
  auto logits = ref.forward(g.tokens);
  ASSERT_TRUE(logits.ok()) << logits.message();
  check_logits(g, *logits, std::string(type) == "f32", "reference");
}

TEST_P(Golden, ProductionGreedy) {
  const auto [arch, type] = GetParam();
  auto g = load_golden(arch, type);
  auto m = load_model(golden_model(arch, type), {.n_threads = 2});
  ASSERT_TRUE(m.ok()) << m.message();
  std::vector<float> margins;
  auto got = production_greedy(**m, g.tokens, static_cast<int>(g.greedy.size()), &margins);
  check_greedy(g.greedy, got, margins, std::string(type) == "f32" ? 0.02f : 0.3f, "production");
}

INSTANTIATE_TEST_SUITE_P(
    Tiny, Golden,
    ::testing::Values(golden_case{"llama", "f32"}, golden_case{"llama", "q8_0"},
                      golden_case{"llama", "q4_0"}, golden_case{"llama", "q4_k_m"},
                      golden_case{"qwen2", "f32"}, golden_case{"qwen2", "q8_0"},
                      golden_case{"qwen2", "q4_0"}, golden_case{"qwen2", "q4_k_m"},
                      golden_case{"qwen3", "f32"}, golden_case{"qwen3", "q8_0"},
                      golden_case{"qwen3", "q4_0"}, golden_case{"qwen3", "q4_k_m"}),
    case_name);

}  // namespace
}  // namespace uma::model
