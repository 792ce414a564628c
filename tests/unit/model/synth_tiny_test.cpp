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
  const std::string path = synth_model("tiny-gemma3", "f32", 5);
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
}

// Gemma 3's local layers in window-sized rings (kv_window: tiny-gemma3's 20 keys and appends of
// 8 positions: 6 blocks, 96 positions a sequence), two sequences of 300 and 170 tokens: a prefill
// of 130 (run in pieces of 8), one mixed batch of both sequences, then decode steps of both in one
// batch; every position against the reference. Then truncation back within the rings' reach
// (continued with other tokens, against their reference) and past it (the sequence empties).
TEST(SynthGemma3, LocalLayersInWindowRingsMatchReference) {
  const std::string path = synth_model("tiny-gemma3", "f32", 5);
  {
    auto m = load_model(path, {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    const model_config& c = (*m)->config();
    const int64_t nv = c.n_vocab;
    kv_window win{c.sliding_window, {}, 8};
    for (int64_t il = 0; il < c.n_layer; ++il) win.layers.push_back(c.layer_is_sliding(il));
    kv_cache cache(c.n_layer, c.n_head_kv, c.kv_width(), c.v_width(), 16, 40, 2, 320, 0, 0,
                   kernels::kv_format::f16, win);
    ASSERT_EQ(cache.ring_blocks(), 6);
    const kv_cache whole(c.n_layer, c.n_head_kv, c.kv_width(), c.v_width(), 16, 40, 2, 320);
    EXPECT_LT(cache.bytes(), whole.bytes() / 2);
    std::mt19937 rng(21);
    std::vector<int32_t> tok[2];
    for (int s = 0; s < 2; ++s)
      while (tok[s].size() < (s == 0 ? 300u : 170u))
        tok[s].push_back(static_cast<int32_t>(rng() % nv));
    std::vector<float> got[2];
    batch b;
    std::vector<float> out;
    const auto run = [&] {
      out.assign(b.n_logits() * static_cast<size_t>(nv), 0.f);
      const status st = (*m)->forward(b, cache, out.data());
      ASSERT_TRUE(st.ok()) << st.message();
      for (size_t i = 0, row = 0; i < b.size(); ++i, ++row)
        got[b.seq_ids[i]].insert(got[b.seq_ids[i]].end(), out.begin() + row * nv,
                                 out.begin() + (row + 1) * nv);
      b.clear();
    };
    for (int i = 0; i < 130; ++i) b.add(tok[0][size_t(i)], i, 0, true);
    run();
    for (int i = 130; i < 170; ++i) b.add(tok[0][size_t(i)], i, 0, true);
    for (int i = 0; i < 40; ++i) b.add(tok[1][size_t(i)], i, 1, true);
    run();
    for (int i = 170, j = 40; i < 300; ++i, ++j) {
      b.add(tok[0][size_t(i)], i, 0, true);
      if (j < 170) b.add(tok[1][size_t(j)], j, 1, true);
      run();
    }
    const auto bound = production_bound("f32");
    for (int s = 0; s < 2; ++s) {
      auto want = reference_forward(**m).forward(tok[s]);
      ASSERT_TRUE(want.ok()) << want.message();
      const auto rows = static_cast<int64_t>(tok[s].size());
      ASSERT_EQ(got[s].size(), size_t(rows * nv));
      const auto st = compare_logits(want->data(), got[s].data(), rows, nv);
      std::printf("tiny-gemma3 in rings, sequence %d (%lld tokens): max_rel %.3g kl_mean %.3g\n", s,
                  static_cast<long long>(rows), st.max_rel, st.kl_mean);
      EXPECT_LE(st.max_rel, bound.max_rel);
      EXPECT_LE(st.kl_mean, bound.kl_mean);
      EXPECT_EQ(st.clear_argmax_mismatch, 0);
    }
    // Back to 290 (its window, 271..289, is in the rings) and on with other tokens.
    EXPECT_EQ(cache.ring_from(0), 208);
    cache.truncate(0, 290);
    ASSERT_EQ(cache.seq_length(0), 290);
    std::vector<int32_t> other(tok[0].begin(), tok[0].begin() + 290);
    got[0].clear();
    for (int i = 290; i < 300; ++i) {
      other.push_back(static_cast<int32_t>(rng() % nv));
      b.add(other.back(), i, 0, true);
    }
    run();
    {
      auto want = reference_forward(**m).forward(other);
      ASSERT_TRUE(want.ok()) << want.message();
      const auto st = compare_logits(want->data() + 290 * nv, got[0].data(), 10, nv);
      EXPECT_LE(st.max_rel, bound.max_rel);
      EXPECT_EQ(st.clear_argmax_mismatch, 0);
    }
    cache.truncate(0, 100);  // its window reaches below the rings' positions: emptied
    EXPECT_EQ(cache.seq_length(0), 0);
    EXPECT_EQ(cache.seq_length(1), 170);
    // A cache whose windowed layer is a global one of the model's is refused.
    kv_window wrong = win;
    wrong.layers[5] = true;
    kv_cache bad(c.n_layer, c.n_head_kv, c.kv_width(), c.v_width(), 16, 40, 1, 320, 0, 0,
                 kernels::kv_format::f16, wrong);
    b.add(tok[0][0], 0, 0, true);
    out.assign(static_cast<size_t>(nv), 0.f);
    EXPECT_FALSE((*m)->forward(b, bad, out.data()).ok());
    EXPECT_EQ(bad.seq_length(0), 0);
    // make_cache gives the sliding layers rings where they are shorter than the context, and
    // cache_bytes says what it reserves.
    for (const int64_t ctx : {112, 4096}) {
      auto made = (*m)->make_cache(ctx, 2);
      EXPECT_EQ(made->ring_blocks() > 0, ctx == 4096) << ctx;
      EXPECT_EQ(made->window(0), ctx == 4096 ? c.sliding_window : 0);
      EXPECT_EQ(made->window(5), 0);
      EXPECT_DOUBLE_EQ(double(made->bytes()), (*m)->cache_bytes(ctx, 2)) << ctx;
    }
  }
}

}  // namespace
}  // namespace uma::model
