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
                      synth_case{"tiny-qwen2", "q5_1"}),
    synth_name);

}  // namespace
}  // namespace uma::model
