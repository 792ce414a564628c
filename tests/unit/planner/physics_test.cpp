// The planner's formulas against hand-computed cases: dense, MoE, MLA, sliding window, hybrid,
// multi-node pipelines, prefill, energy and money, plus the physics checks quoted in
// docs/planner.md (DeepSeek V3.1 decode bound on an M3 Ultra, Kimi K2 memory).
#include <cmath>

#include <gtest/gtest.h>

#include "planner/physics.h"

namespace uma::planner {
namespace {

const catalog& cat() {
  static catalog c = [] {
    auto r = builtin_catalog();
    EXPECT_TRUE(r.ok()) << r.message();
    return *r;
  }();
  return c;
}
const model_spec& model(const char* id) {
  const auto* m = cat().find_model(id);
  EXPECT_NE(m, nullptr) << id;
  return *m;
}
const hardware_spec& hardware(const char* id) {
  const auto* h = cat().find_hardware(id);
  EXPECT_NE(h, nullptr) << id;
  return *h;
}
hardware_spec box(double mem_gib, double bw, std::optional<double> tflops = std::nullopt) {
  hardware_spec h;
  h.id = "box";
  h.kind = "desktop";
  h.memory_gb = mem_gib;
  h.bandwidth_gbs = bw;
  h.fp16_tflops = tflops;
  return h;
}

TEST(Physics, QuantTable) {
  EXPECT_NEAR(find_quant("Q4_K_M")->bpw, 4.90, 1e-9);
  EXPECT_EQ(find_quant("q4_k"), find_quant("q4_k_m"));
  EXPECT_EQ(find_quant("4-bit")->bpw, 4.5);
  EXPECT_EQ(find_quant("fp16")->bpw, 16.0);
  EXPECT_EQ(find_quant("Q8_0")->bpw, 8.5);
  EXPECT_EQ(find_quant("q9_z"), nullptr);
  // K-quant presets: Q4_K_M sits at 4.8-4.9 bits per weight; the ladder descends.
  EXPECT_GT(find_quant("q4_k_m")->bpw, 4.8);
  const auto& ladder = quant_ladder();
  for (size_t i = 1; i < ladder.size(); ++i) EXPECT_GT(ladder[i - 1]->bpw, ladder[i]->bpw);
  EXPECT_EQ(kv_elem_bytes("f16"), 2.0);
  EXPECT_EQ(kv_elem_bytes("q8_0"), 34.0 / 32.0);
  EXPECT_EQ(kv_elem_bytes("nope"), 0.0);
}

TEST(Physics, DenseMemoryAndDecode) {
  const auto& m = model("llama-3.1-8b");  // 8.03B, 32 layers, 8 KV heads x 128, vocab 128256
  const auto* q = find_quant("q4_k_m");
  EXPECT_DOUBLE_EQ(weight_bytes(m, q), 8.03e9 * 4.90 / 8);
  // K and V: 8 heads x 128 each -> 2048 values per token per layer; f16.
  EXPECT_DOUBLE_EQ(kv_values_per_token_layer(m), 2048);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(m, 8192, 2, 2.0), 2.0 * 32 * 8192 * 2048 * 2);  // 2 GiB
  // Decode reads everything but the input-embedding lookup (untied).
  double frac = (8.03e9 - 128256.0 * 4096) / 8.03e9;
  EXPECT_DOUBLE_EQ(weight_read_fraction(m, 1), frac);
  EXPECT_DOUBLE_EQ(weight_read_fraction(m, 16), frac);  // dense: batch reads the same weights
  auto hw = box(64, 100);
  EXPECT_NEAR(decode_bound_tps(m, hw, q), 100e9 / (8.03e9 * 4.90 / 8 * frac), 1e-9);
  efficiency eff;
  eff.decode = 0.5;
  workload w{q, 2000, 1, 2.0};
  auto s = decode(m, hw, w, eff, 1, *find_link("tb5-rdma"), 1000);
  double bytes = 8.03e9 * 4.90 / 8 * frac + 32.0 * 1000 * 2048 * 2;
  EXPECT_NEAR(s.per_user_tps, 0.5 * 100e9 / bytes, 1e-9);
  EXPECT_FALSE(s.compute_bound);
  // Four users share one pass over the weights: aggregate up, per-user down.
  w.users = 4;
  auto s4 = decode(m, hw, w, eff, 1, *find_link("tb5-rdma"), 1000);
  double bytes4 = 8.03e9 * 4.90 / 8 * frac + 4 * 32.0 * 1000 * 2048 * 2;
  EXPECT_NEAR(s4.aggregate_tps, 4 * 0.5 * 100e9 / bytes4, 1e-9);
  EXPECT_LT(s4.per_user_tps, s.per_user_tps);
}

TEST(Physics, MemoryFitContextAndUsers) {
  const auto& m = model("llama-3.1-8b");
  auto hw = box(16, 100);  // 16 GiB desktop: 4 GiB reserved
  EXPECT_DOUBLE_EQ(usable_bytes(hw), 12 * gib);
  auto gpu = box(24, 1000);
  gpu.kind = "gpu";
  EXPECT_DOUBLE_EQ(usable_bytes(gpu), 23 * gib);
  workload w{find_quant("q4_k_m"), 8192, 1, 2.0};
  auto need = memory_for(m, w, 1);
  double weights = 8.03e9 * 4.90 / 8;
  EXPECT_DOUBLE_EQ(need.weights, weights);
  EXPECT_DOUBLE_EQ(need.kv, 32.0 * 8192 * 2048 * 2);
  EXPECT_DOUBLE_EQ(need.overhead, gib + 0.01 * weights);
  EXPECT_TRUE(fits(m, hw, w, 1));
  // Longest context: the KV that fits in what is left, and one more token does not fit.
  int64_t ctx = max_context(m, hw, w, 1);
  double per_token = 32.0 * 2048 * 2;
  double left = 12 * gib - weights - gib - 0.01 * weights;
  EXPECT_EQ(ctx, std::min<int64_t>(m.context_length, static_cast<int64_t>(left / per_token)));
  workload at = w;
  at.ctx = ctx;
  EXPECT_TRUE(fits(m, hw, at, 1));
  at.ctx = ctx + 1;
  if (ctx < m.context_length) {
    EXPECT_FALSE(fits(m, hw, at, 1));
  }
  EXPECT_EQ(max_users(m, hw, w, 1), static_cast<int64_t>(left / (per_token * 8192)));
  // Nothing fits on a 4 GiB machine.
  EXPECT_EQ(max_context(m, box(4, 50), w, 1), 0);
  EXPECT_EQ(nodes_needed(m, box(4, 50), w, 1), 0);
}

TEST(Physics, MoeReadsOnlyActiveExperts) {
  const auto& m = model("qwen3-30b-a3b");  // 30.5B total, 3.3B active, 8 of 128 experts
  double one = 3.3 / 30.5;
  EXPECT_DOUBLE_EQ(weight_read_fraction(m, 1), one);
  // A batch of 4 touches 1 - (1 - 8/128)^4 of the routed experts; shared parts read once.
  double r = 8.0 / 128;
  double shared = (one - r) / (1 - r);
  double touched = 1 - std::pow(1 - r, 4);
  EXPECT_NEAR(weight_read_fraction(m, 4), shared + (1 - shared) * touched, 1e-12);
  EXPECT_GT(weight_read_fraction(m, 64), weight_read_fraction(m, 4));
  EXPECT_LE(weight_read_fraction(m, 100000), 1.0);
  EXPECT_NEAR(weight_read_fraction(m, 100000), 1.0, 1e-6);
  const auto* q = find_quant("q8_0");
  EXPECT_NEAR(decode_bound_tps(m, box(64, 400), q), 400e9 / (3.3e9 * 8.5 / 8), 1e-6);
}

TEST(Physics, MlaCacheIsLatentPlusRopeKey) {
  const auto& m = model("deepseek-v3.1");  // kv_lora_rank 512 + qk_rope_head_dim 64, 61 layers
  EXPECT_DOUBLE_EQ(kv_values_per_token_layer(m), 576);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(m, 1000, 1, 2.0), 61.0 * 1000 * 576 * 2);
  // Compared with caching full K/V for 128 heads x (192 + 128): ~71x smaller.
  double full = 128.0 * (192 + 128);
  EXPECT_GT(full / kv_values_per_token_layer(m), 70);
}

TEST(Physics, SlidingWindowLayersHoldAtMostTheWindow) {
  const auto& m = model("gemma-3-27b");  // 62 layers, 52 with a 1024 window, 16 KV heads x 128
  double per = 16.0 * 256 * 2;
  EXPECT_DOUBLE_EQ(kv_cache_bytes(m, 32768, 1, 2.0), (10.0 * 32768 + 52.0 * 1024) * per);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(m, 512, 3, 2.0), 3 * 62.0 * 512 * per);  // below the window
  const auto& oss = model("gpt-oss-20b");  // 12 of 24 layers slide over 128 tokens, 8 x 64
  EXPECT_DOUBLE_EQ(kv_cache_bytes(oss, 4096, 1, 2.0), (12.0 * 4096 + 12.0 * 128) * 8 * 128 * 2);
  // Hybrid linear attention: only every 4th layer keeps a KV cache (Qwen3.5: 15 of 60).
  const auto& hy = model("qwen3.5-397b-a17b");
  EXPECT_EQ(hy.attention_layers(), 15);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(hy, 1000, 1, 2.0), 15.0 * 1000 * 2 * 512 * 2);
}

TEST(Physics, Prefill) {
  const auto& m = model("llama-3.1-8b");
  efficiency eff;
  eff.prefill = 0.5;
  EXPECT_FALSE(prefill_tps(m, box(64, 100), eff, 2048));  // no compute figure: unknown
  double frac = (8.03e9 - 128256.0 * 4096) / 8.03e9;
  // 2 FLOPs per weight + attention: 2 x 32 heads x (128 + 128) per key, mean prefix 1024.
  double flops = 2 * 8.03e9 * frac + 32.0 * 2 * 32 * 256 * 1024;
  EXPECT_NEAR(prefill_flops_per_token(m, 2048), flops, 1);
  EXPECT_NEAR(*prefill_tps(m, box(64, 100, 100.0), eff, 2048), 0.5 * 100e12 / flops, 1e-6);
  // Windowed layers: mean of min(pos, 1024) over a 4096 prompt = 1024 - 1024^2 / 8192 = 896.
  const auto& g = model("gemma-3-27b");
  double gfrac = 1.0;  // tied embeddings: nothing skipped
  double gflops = 2 * 27.01e9 * gfrac + 2.0 * 32 * 256 * (10 * 2048.0 + 52 * 896.0);
  EXPECT_NEAR(prefill_flops_per_token(g, 4096), gflops, 1);
}

TEST(Physics, MultiNodePipeline) {
  const auto& m = model("kimi-k2");  // 1T params, n_embd 7168
  const auto& studio = hardware("mac-studio-m3ultra-512");
  workload w{find_quant("4bit"), 8192, 1, 2.0};
  EXPECT_FALSE(fits(m, studio, w, 1));
  EXPECT_EQ(nodes_needed(m, studio, w, 8), 2);
  const auto& rdma = *find_link("tb5-rdma");
  const auto& tcp = *find_link("tb5-tcp");
  // Two hops of latency (activation forward, token back) + 7168 f16 values over 80 Gb/s.
  double hop = 2 * 8e-6 + 7168.0 * 2 * 8 / 80e9;
  EXPECT_NEAR(pipeline_hop_seconds(m, 2, rdma, 1), hop, 1e-15);
  EXPECT_EQ(pipeline_hop_seconds(m, 1, rdma, 1), 0);
  efficiency eff;
  eff.decode = 1.0;
  double read = 1000e9 * 4.5 / 8 * (32.0 / 1000);
  auto s = decode(m, studio, w, eff, 2, rdma, 0);
  EXPECT_NEAR(s.per_user_tps, 1 / (read / 819e9 + hop), 1e-9);
  // TCP's ~300 us per hop costs more than RDMA's.
  EXPECT_LT(decode(m, studio, w, eff, 2, tcp, 0).per_user_tps, s.per_user_tps);
  // GPUs on NVLink split every layer: the step's bytes are shared, and each of the 2 x 61
  // all-reduces pays a hop plus 2 (n-1)/n x 7168 f16 values.
  const auto& h100 = hardware("h100-sxm");
  const auto& nvlink = *find_link("nvlink");
  double reduce = 2e-6 + 2.0 * 4 / 5 * 7168 * 2 * 8 / 7200e9;
  EXPECT_NEAR(tensor_parallel_seconds(m, 5, nvlink, 1), 2 * 61 * reduce, 1e-15);
  EXPECT_NEAR(decode(m, h100, w, eff, 5, nvlink, 0).per_user_tps,
              1 / (read / 3350e9 / 5 + 2 * 61 * reduce), 1e-9);
  EXPECT_EQ(tensor_parallel_seconds(m, 1, nvlink, 1), 0);
  // Interconnect text picks the link.
  EXPECT_EQ(default_link(studio).name, "tb5-rdma");
  EXPECT_EQ(default_link(hardware("h100-sxm")).name, "nvlink");
  EXPECT_EQ(default_link(hardware("dgx-spark")).name, "200gbe-rdma");
  EXPECT_EQ(default_link(hardware("apple-m4-pro")).name, "tb5-tcp");
  EXPECT_EQ(default_link(hardware("rtx-4090")).name, "pcie4");  // "(no NVLink)"
}

TEST(Physics, EnergyAndMoney) {
  EXPECT_NEAR(kwh_per_mtok(100, 50), 100.0 * 20000 / 3.6e6, 1e-12);
  // $3000 over 3 years at 50% busy = 13140 busy hours; + 0.1 kW x $0.15; 180k tokens per hour.
  EXPECT_NEAR(own_usd_per_mtok(3000, 3, 0.5, 100, 0.15, 50),
              (3000.0 / 13140 + 0.1 * 0.15) / (50 * 3600.0) * 1e6, 1e-9);
  EXPECT_NEAR(rent_usd_per_mtok(2.39, 0.5, 100), 2.39 / 0.5 / (100 * 3600.0) * 1e6, 1e-9);
  // Each owned hour replaces 0.5 rented hours ($1.195) and costs $0.015 of power.
  auto be = break_even_hours(3000, 100, 0.15, 2.39, 50, 100);
  ASSERT_TRUE(be);
  EXPECT_NEAR(*be, 3000 / (2.39 * 0.5 - 0.015), 1e-9);
  EXPECT_FALSE(break_even_hours(3000, 100, 0.15, 0.01, 50, 1000));  // renting always cheaper
}

// The physics checks of docs/planner.md.
TEST(Physics, DeepSeekV31DecodeBoundOnM3Ultra) {
  const auto& m = model("deepseek-v3.1");
  const auto& hw = hardware("apple-m3-ultra");
  const auto* q = find_quant("4bit");
  double bytes = weight_bytes(m, q) * weight_read_fraction(m, 1);
  EXPECT_NEAR(bytes, 37e9 * 4.5 / 8, 1e3);  // 20.8 GB per token: only active experts
  EXPECT_GT(bytes, 18e9);
  EXPECT_LT(bytes, 21e9);
  double bound = decode_bound_tps(m, hw, q);
  EXPECT_NEAR(bound, 819e9 / (37e9 * 4.5 / 8), 1e-6);  // 39.4 tok/s
  EXPECT_GT(bound, 35);
  EXPECT_LT(bound, 45);
}

TEST(Physics, KimiK2NeedsTwoM3Ultras) {
  const auto& m = model("kimi-k2");
  const auto& hw = hardware("mac-studio-m3ultra-512");
  workload w{find_quant("4bit"), 32768, 1, 2.0};
  auto need = memory_for(m, w, 1);
  EXPECT_DOUBLE_EQ(need.weights, 1000e9 * 4.5 / 8);  // 562.5 GB of weights alone
  EXPECT_GT(need.total(), 512 * gib);
  EXPECT_FALSE(fits(m, hw, w, 1));
  EXPECT_EQ(nodes_needed(m, hw, w, 8), 2);
  EXPECT_EQ(max_context(m, hw, w, 1), 0);
}

}  // namespace
}  // namespace uma::planner
