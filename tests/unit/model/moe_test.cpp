// qwen3moe, the mixture of experts (archs/qwen3moe.cpp, blocks.cpp moe_block), on tiny-qwen3moe
// (`uma synth`: 8 experts of width 256, 2 used per token) and tiny-qwen3moe-all (4 experts, all
// used). A router makes the logits jump where a token's last chosen expert and the best one left
// out nearly tie: any rounding difference (the F16 KV cache, 8-bit activations) may swap them,
// and with 8-bit activations (a few 1e-2 in a router logit) some pair of a random prompt's
// tokens and layers always does. So F32 / F16 weights are compared on prompts whose routing the
// reference sees clearly (reference_forward::min_route_gap above what their rounding moves),
// found among seeded candidates; the quantized types on tiny-qwen3moe-all, whose logits are
// continuous (every expert used, the router only weighs them); the choice itself is tested on
// its own (route_experts).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "model/blocks.h"
#include "model/reference.h"
#include "model_test_util.h"

namespace uma::model {
namespace {

using namespace uma::model::testing;

// The first of seeded random prompts of n tokens whose routing gap in the reference is at least
// `gap` (empty if none of 300 is).
std::vector<int32_t> clear_prompt(const model& m, int n, double gap, uint32_t seed,
                                  double* seen = nullptr) {
  const int64_t nv = m.config().n_vocab;
  for (uint32_t s = seed; s < seed + 300; ++s) {
    std::mt19937 rng(s);
    std::vector<int32_t> t;
    while (static_cast<int>(t.size()) < n) t.push_back(static_cast<int32_t>(rng() % nv));
    reference_forward ref(m);
    if (!ref.forward(t).ok()) return {};
    if (ref.min_route_gap() >= gap) {
      if (seen != nullptr) *seen = ref.min_route_gap();
      return t;
    }
  }
  return {};
}

// The tiny model for a weight type: top-2 of 8 for F32 / F16, every expert for 8-bit activations.
std::string moe_model(const std::string& type) {
  return type == "f32" || type == "f16" ? "qwen3moe" : "qwen3moe-all";
}
// A router logit margin F32 / F16 weights cannot cross (production against the reference: the
// F16 KV cache and F16 rounding move a router logit by ~1e-4 .. 1e-3).
constexpr double clear_gap = 0.02;

// A 24-token prompt (the first from `seed` on whose routing gap is at least `gap`) in one
// prefill, every position against the reference under the type's bound (docs/model.md).
void expect_reference_logits(model& m, const std::string& type, double gap, uint32_t seed,
                             const std::string& label) {
  double seen = INFINITY;
  const auto tokens = clear_prompt(m, 24, gap, seed, &seen);
  ASSERT_FALSE(tokens.empty()) << "no prompt with a clear routing";
  auto cache = m.make_cache(32, 1);
  const auto got = prefill_all(m, *cache, tokens);
  auto want = reference_forward(m).forward(tokens);
  ASSERT_TRUE(want.ok()) << want.message();
  const auto bound = production_bound(type);
  const auto s = compare_logits(want->data(), got.data(), 24, m.config().n_vocab, bound.tie);
  std::printf("%s %s (routing gap %.3g): max_rel %.3g kl_mean %.3g top1 %.2f\n", label.c_str(),
              type.c_str(), seen, s.max_rel, s.kl_mean, s.top1);
  EXPECT_LE(s.max_rel, bound.max_rel);
  EXPECT_LE(s.kl_mean, bound.kl_mean);
  EXPECT_EQ(s.clear_argmax_mismatch, 0);
}

class Moe : public ::testing::TestWithParam<const char*> {};

// Every position of a 24-token prompt in one prefill, against the reference, under the
// architecture-independent bound of the type (docs/model.md).
TEST_P(Moe, ProductionMatchesReference) {
  const std::string type = GetParam();
  auto m = load_model(golden_model(moe_model(type), type), {.n_threads = 2});
  ASSERT_TRUE(m.ok()) << m.message();
  const model_config& c = (*m)->config();
  ASSERT_EQ(c.arch, arch_id::qwen3moe);
  const bool top2 = moe_model(type) == "qwen3moe";
  ASSERT_EQ(c.n_expert, top2 ? 8 : 4);
  ASSERT_EQ(c.n_expert_used, top2 ? 2 : 4);
  ASSERT_EQ(c.n_ff_exp, 256);
  expect_reference_logits(**m, type, top2 ? clear_gap : 0.0, 100, "tiny-" + moe_model(type));
}

INSTANTIATE_TEST_SUITE_P(Types, Moe, ::testing::Values("f32", "f16", "q8_0", "q4_0", "q4_k_m"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           return std::string(i.param);
                         });

// llama with experts (Mixtral's layout, tiny-llama-moe: 4 experts, 2 used): the same block after
// llama's attention, against the reference on a clearly routed prompt, F32 and F16.
TEST(MoeLlama, MixtralLayoutMatchesReference) {
  for (const std::string type : {"f32", "f16"}) {
    auto m = load_model(golden_model("llama-moe", type), {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    const model_config& c = (*m)->config();
    ASSERT_EQ(c.arch, arch_id::llama);
    ASSERT_EQ(c.n_expert, 4);
    ASSERT_EQ(c.n_expert_used, 2);
    expect_reference_logits(**m, type, clear_gap, 300, "tiny-llama-moe");
  }
}

// The production path over batch shapes: a prefill of 10 then decode steps (one token: its
// experts in two jobs) against one prefill of everything (expert by expert over the tokens that
// chose it); two sequences in one batch, prefill and batched decode, against each alone; the x16
// copies (--repack=all) against the rows.
TEST(MoeBatches, DecodePrefillAndSequencesAgree) {
  for (const char* type : {"f32", "q4_0"}) {
    SCOPED_TRACE(type);
    const bool top2 = moe_model(type) == "qwen3moe";
    auto m = load_model(golden_model(moe_model(type), type), {.n_threads = 2});
    ASSERT_TRUE(m.ok()) << m.message();
    const int64_t nv = (*m)->config().n_vocab;
    const auto a = clear_prompt(**m, 40, top2 ? clear_gap : 0.0, 200);
    const auto b = clear_prompt(**m, 20, top2 ? clear_gap : 0.0, 500);
    ASSERT_FALSE(a.empty() || b.empty());
    // A prefill of 40 tokens: expert by expert.
    auto c1 = (*m)->make_cache(64, 1);
    const auto whole = prefill_all(**m, *c1, a);
    // 10 tokens, then decode steps (one token: its experts in two jobs).
    auto c2 = (*m)->make_cache(64, 1);
    auto steps = prefill_all(**m, *c2, {a.begin(), a.begin() + 10});
    for (int i = 10; i < 40; ++i) {
      const auto r = prefill_all(**m, *c2, {a[static_cast<size_t>(i)]}, i);
      steps.insert(steps.end(), r.begin(), r.end());
    }
    const auto s = compare_logits(whole.data(), steps.data(), 40, nv, path_tie);
    std::printf("tiny-%s %s prefill + decode vs one prefill: max_abs %.3g kl_mean %.3g\n",
                moe_model(type).c_str(), type, s.max_abs, s.kl_mean);
    EXPECT_LE(s.kl_mean, 1e-3);
    EXPECT_EQ(s.clear_argmax_mismatch, 0);
    if (std::string(type) == "f32") {
      EXPECT_LE(s.max_abs, 1e-3);
    }

    // Two sequences in one batch: their first 10 tokens interleaved, then decode steps of both
    // (batched decode: 2 tokens' pairs in one job), against each alone.
    auto c3 = (*m)->make_cache(64, 2);
    std::vector<float> got_a, got_b;
    batch both;
    const auto run = [&] {
      std::vector<float> out(both.size() * static_cast<size_t>(nv));
      ASSERT_TRUE((*m)->forward(both, *c3, out.data()).ok());
      for (size_t i = 0; i < both.size(); ++i) {
        auto& dst = both.seq_ids[i] == 0 ? got_a : got_b;
        dst.insert(dst.end(), out.begin() + static_cast<std::ptrdiff_t>(i * nv),
                   out.begin() + static_cast<std::ptrdiff_t>((i + 1) * nv));
      }
      both.clear();
    };
    for (size_t i = 0; i < 10; ++i) {
      both.add(a[i], static_cast<int32_t>(i), 0, true);
      both.add(b[i], static_cast<int32_t>(i), 1, true);
    }
    run();
    for (size_t i = 10; i < a.size(); ++i) {
      both.add(a[i], static_cast<int32_t>(i), 0, true);
      if (i < b.size()) both.add(b[i], static_cast<int32_t>(i), 1, true);
      run();
    }
    auto c4 = (*m)->make_cache(64, 1);
    const auto alone_b = prefill_all(**m, *c4, b);
    for (const auto& [x, y, n] :
         {std::tuple{&got_a, &whole, 40}, std::tuple{&got_b, &alone_b, 20}}) {
      ASSERT_EQ(x->size(), y->size());
      const auto t = compare_logits(y->data(), x->data(), n, nv, path_tie);
      EXPECT_LE(t.kl_mean, 1e-3);
      EXPECT_EQ(t.clear_argmax_mismatch, 0);
    }

    auto packed = load_model(golden_model(moe_model(type), type),
                             {.n_threads = 2, .repack = repack_mode::all});
    ASSERT_TRUE(packed.ok()) << packed.message();
    auto c5 = (*packed)->make_cache(64, 1);
    const auto from_copies = prefill_all(**packed, *c5, a);
    const auto r = compare_logits(whole.data(), from_copies.data(), 40, nv, path_tie);
    EXPECT_LE(r.kl_mean, 1e-3);
    EXPECT_EQ(r.clear_argmax_mismatch, 0);
  }
}

// route_experts against sorting: the k most probable (ties to the lower id), ascending, weights
// proportional to their probabilities and summing to 1; exact ties resolved the same way.
TEST(MoeRouting, PicksTheMostProbableAndRenormalizes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (const int64_t ne : {1, 2, 3, 8, 17, 128}) {
    for (int64_t k = 1; k <= std::min<int64_t>(ne, 9); ++k) {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<float> logits(static_cast<size_t>(ne));
        for (auto& v : logits) v = nd(rng);
        if (rep % 4 == 1 && ne > 2) logits[1] = logits[2];                // an exact tie
        if (rep % 4 == 2) std::fill(logits.begin(), logits.end(), 0.5f);  // all tied
        std::vector<float> p(static_cast<size_t>(ne)), w(static_cast<size_t>(k));
        std::vector<int32_t> ids(static_cast<size_t>(k));
        route_experts(logits.data(), ne, k, p.data(), ids.data(), w.data());
        std::vector<int32_t> order(static_cast<size_t>(ne));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
          return logits[static_cast<size_t>(x)] > logits[static_cast<size_t>(y)];
        });
        std::vector<int32_t> want(order.begin(), order.begin() + k);
        std::sort(want.begin(), want.end());
        ASSERT_EQ(ids, want) << "ne " << ne << " k " << k << " rep " << rep;
        double sum = 0, psum = 0;
        for (int64_t j = 0; j < k; ++j) {
          sum += w[static_cast<size_t>(j)];
          psum += p[static_cast<size_t>(ids[static_cast<size_t>(j)])];
        }
        EXPECT_NEAR(sum, 1.0, 1e-5);
        for (int64_t j = 0; j < k; ++j)
          EXPECT_NEAR(w[static_cast<size_t>(j)],
                      p[static_cast<size_t>(ids[static_cast<size_t>(j)])] / psum, 1e-6);
      }
    }
  }
}

// Bytes a decoded token reads: the router and 2 of the 8 experts' matrices a layer, not all 8.
TEST(MoeBatches, DecodeBytesCountTheExpertsUsed) {
  auto m = load_model(golden_model("qwen3moe", "q4_0"), {.n_threads = 1});
  ASSERT_TRUE(m.ok()) << m.message();
  const weights& w = (*m)->bound();
  uint64_t all_experts = 0, rest = w.output.bytes() + w.token_embd.row_bytes;
  for (const layer_weights& l : w.layers) {
    all_experts += l.gate_exps.bytes() + l.up_exps.bytes() + l.down_exps.bytes();
    rest += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes() + l.ffn_gate_inp.bytes();
  }
  const uint64_t b = (*m)->weight_bytes();
  EXPECT_GE(b, rest + all_experts / 4);
  EXPECT_LT(b, rest + all_experts / 4 + 64 * 1024);  // + norms and the embedding row's slack
  EXPECT_EQ(w.layers[0].gate_exps.expert(3).data,
            static_cast<const char*>(w.layers[0].gate_exps.all.data) +
                3 * 256 * w.layers[0].gate_exps.all.row_bytes);
}

}  // namespace
}  // namespace uma::model
