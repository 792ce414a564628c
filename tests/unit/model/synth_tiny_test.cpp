// Production vs the float64 reference on models made by `uma synth` (every tiny preset, so every
// architecture, tied and untied), in every weight-format family: F32, F16, BF16 and the quantized
// formats, each under its bound (production_bound, docs/model.md). The golden tiny models of
// forward_test.cpp come from llama.cpp's tools; these come from uma's own writer.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "model/reference.h"
#include "model_test_util.h"

namespace uma::model {
namespace {

using namespace uma::model::testing;

struct synth_case {
  const char* preset;
  const char* type;
};

std::string synth_name(const ::testing::TestParamInfo<synth_case>& i) {
  std::string s = std::string(i.param.preset) + "_" + i.param.type;
  for (auto& ch : s) {
    if (ch == '-') ch = '_';
  }
  return s;
}

class SynthTiny : public ::testing::TestWithParam<synth_case> {};

TEST_P(SynthTiny, ProductionMatchesReference) {
  const auto [preset, type] = GetParam();
  const std::string path = uma::test::temp_dir() + "/" + preset + "." + type + ".gguf";
  auto r = uma::test::run_uma({"synth", preset, "-o", path, "-t", type, "--seed", "11"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    auto m = load_model(path, {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    const int64_t nv = (*m)->config().n_vocab;
    std::mt19937 rng(4);
    std::vector<int32_t> tokens = {1};
    while (tokens.size() < 24) {
      tokens.push_back(static_cast<int32_t>(3 + rng() % static_cast<uint32_t>(nv - 3)));
    }
    auto cache = (*m)->make_cache(32, 1);
    auto got = prefill_all(**m, *cache, tokens);
    reference_forward ref(**m);
    auto want = ref.forward(tokens);
    ASSERT_TRUE(want.ok()) << want.message();
    const auto bound = production_bound(type);
    const auto s = compare_logits(want->data(), got.data(), static_cast<int64_t>(tokens.size()), nv,
                                  bound.tie);
    std::printf("%s %s: max_rel %.3g max_abs %.3g kl_mean %.3g top1 %.2f\n", preset, type,
                s.max_rel, s.max_abs, s.kl_mean, s.top1);
    EXPECT_LE(s.max_rel, bound.max_rel);
    EXPECT_LE(s.kl_mean, bound.kl_mean);
    EXPECT_EQ(s.clear_argmax_mismatch, 0);
  }
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(
    Presets, SynthTiny,
    ::testing::Values(synth_case{"tiny-qwen3", "f32"}, synth_case{"tiny-qwen3", "f16"},
                      synth_case{"tiny-qwen3", "bf16"}, synth_case{"tiny-qwen3", "q4_k"},
                      synth_case{"tiny-qwen2", "f16"}, synth_case{"tiny-qwen2", "bf16"},
                      synth_case{"tiny-qwen2", "q8_0"}, synth_case{"tiny-llama", "f16"},
                      synth_case{"tiny-llama", "q5_k"}, synth_case{"tiny-llama-untied", "f16"},
                      synth_case{"tiny-llama-untied", "q6_k"},
                      synth_case{"tiny-llama-untied", "q4_1"}, synth_case{"tiny-qwen3", "q3_k"},
                      synth_case{"tiny-llama", "q2_k"}, synth_case{"tiny-llama-untied", "q3_k_m"},
                      synth_case{"tiny-qwen2", "q5_1"}, synth_case{"tiny-gemma3", "f32"},
                      synth_case{"tiny-gemma3", "f16"}, synth_case{"tiny-gemma3", "q8_0"},
                      synth_case{"tiny-gemma3", "q4_0"}, synth_case{"tiny-gemma3", "q4_k_m"}),
    synth_name);

// Gemma 3 over a sequence 5x its local layers' window (tiny-gemma3: 20 tokens, not a multiple of
// the cache's 16-token blocks): a prefill of 45, another of 30 (its queries' windows start inside
// the first's blocks), then 25 decode steps, against the reference. The reference without the
// window, or with the global layer's linear RoPE scaling on the local layers too, lies far outside
// that bound: the test sees both.
TEST(SynthGemma3, SlidingWindowAndLocalRopeMatchReference) {
  const std::string path = uma::test::temp_dir() + "/tiny-gemma3.sliding.f32.gguf";
  auto r = uma::test::run_uma({"synth", "tiny-gemma3", "-o", path, "-t", "f32", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    auto m = load_model(path, {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    const model_config& c = (*m)->config();
    ASSERT_EQ(c.arch, arch_id::gemma3);
    EXPECT_EQ(c.sliding_window, 20);
    EXPECT_EQ(c.sliding_pattern, 6);
    EXPECT_TRUE(c.layer_is_sliding(0));
    EXPECT_TRUE(c.layer_is_sliding(4));
    EXPECT_FALSE(c.layer_is_sliding(5));
    EXPECT_FLOAT_EQ(c.layer_rope_scale(5), 0.125f);  // rope.scaling linear 8 on the global layer
    EXPECT_FLOAT_EQ(c.layer_rope_scale(0), 1.f);
    EXPECT_FLOAT_EQ(c.layer_rope_base(0), 10000.f);
    EXPECT_FLOAT_EQ(c.layer_rope_base(5), 1e6f);
    EXPECT_TRUE(c.qk_norm && c.post_norms && c.embed_scale && c.gelu);
    const int64_t nv = c.n_vocab;
    std::mt19937 rng(9);
    std::vector<int32_t> tokens;
    while (tokens.size() < 100) tokens.push_back(static_cast<int32_t>(rng() % nv));
    auto cache = (*m)->make_cache(112, 1);
    auto got = prefill_all(**m, *cache, {tokens.begin(), tokens.begin() + 45});
    auto second = prefill_all(**m, *cache, {tokens.begin() + 45, tokens.begin() + 75}, 45);
    got.insert(got.end(), second.begin(), second.end());
    for (int i = 75; i < 100; ++i) {
      auto step = prefill_all(**m, *cache, {tokens[static_cast<size_t>(i)]}, i);
      got.insert(got.end(), step.begin(), step.end());
    }
    auto want = reference_forward(**m).forward(tokens);
    ASSERT_TRUE(want.ok()) << want.message();
    const auto s = compare_logits(want->data(), got.data(), 100, nv);
    model_config no_window = c;
    no_window.sliding_window = 0;
    auto full = reference_forward(no_window, (*m)->bound()).forward(tokens);
    ASSERT_TRUE(full.ok()) << full.message();
    model_config scaled_local = c;
    scaled_local.rope_freq_scale_local = c.rope_freq_scale;
    auto scaled = reference_forward(scaled_local, (*m)->bound()).forward(tokens);
    ASSERT_TRUE(scaled.ok()) << scaled.message();
    const auto s_full = compare_logits(full->data(), got.data(), 100, nv);
    const auto s_scaled = compare_logits(scaled->data(), got.data(), 100, nv);
    std::printf(
        "tiny-gemma3 100 tokens: max_rel %.3g kl_mean %.3g top1 %.2f; against the reference "
        "without the window max_rel %.3g, with the local layers scaled %.3g\n",
        s.max_rel, s.kl_mean, s.top1, s_full.max_rel, s_scaled.max_rel);
    const auto bound = production_bound("f32");
    EXPECT_LE(s.max_rel, bound.max_rel);
    EXPECT_LE(s.kl_mean, bound.kl_mean);
    EXPECT_EQ(s.clear_argmax_mismatch, 0);
    EXPECT_GT(s_full.max_rel, 20 * bound.max_rel);
    EXPECT_GT(s_scaled.max_rel, 20 * bound.max_rel);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace uma::model
