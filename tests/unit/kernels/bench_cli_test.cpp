// `uma bench` end to end on a tiny golden model (probes skipped or sized down so it stays fast):
// the JSON carries every documented field with consistent values; bad arguments fail in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "test_util.h"
#include "util/cpu_features.h"

namespace uma {
namespace {

TEST(bench_cli, json_has_the_documented_fields) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "16", "--tg", "4", "--reps", "2",
                          "--threads", "2", "--bw-mib", "64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* k :
       {"bandwidth_gbs", "pp_tps", "tg_tps", "roofline_tps", "tg_roofline_ratio", "peak_rss_mb",
        "model", "weight_bytes", "int8_tops", "pp_peak_ratio", "backend", "threads", "reps"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["reps"], 2);
  EXPECT_EQ(j["pp_samples"].size(), 2u);
  EXPECT_EQ(j["tg_samples"].size(), 2u);
  EXPECT_GT(j["bandwidth_gbs"].get<double>(), 0);
  EXPECT_GT(j["weight_bytes"].get<double>(), 0);
  EXPECT_GT(j["pp_tps"].get<double>(), 0);
  EXPECT_GT(j["tg_tps"].get<double>(), 0);
  // roofline = bandwidth / bytes per token (weights + the KV cache read), ratio = measured /
  // roofline
  EXPECT_EQ(j["depth"], 0);
  EXPECT_GT(j["kv_bytes_per_token"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(j["bytes_per_token"].get<double>(),
                   j["weight_bytes"].get<double>() + j["kv_bytes_per_token"].get<double>());
  EXPECT_NEAR(j["roofline_tps"].get<double>(),
              j["bandwidth_gbs"].get<double>() * 1e9 / j["bytes_per_token"].get<double>(),
              1e-6 * j["roofline_tps"].get<double>());
  EXPECT_NEAR(j["tg_roofline_ratio"].get<double>(),
              j["tg_tps"].get<double>() / j["roofline_tps"].get<double>(), 1e-9);
  EXPECT_LE(j["pp_tps_min"].get<double>(), j["pp_tps"].get<double>());
  EXPECT_GE(j["pp_tps_max"].get<double>(), j["pp_tps"].get<double>());
  // The bandwidth read before each decode repetition and after the last; each repetition's ratio
  // is its tok/s over the mean of the two readings around it.
  const auto& around = j["bandwidth_around_tg_gbs"];
  const auto& per_rep = j["tg_roofline_ratio_bracketed_samples"];
  ASSERT_EQ(around.size(), 3u);
  // The rooflines' bandwidth is the best read in the run: the start-up probe's (the best of its
  // passes, at least 8) or one of those around decode.
  ASSERT_GE(j["bandwidth_samples"].size(), 8u);
  double best = 0;
  for (const auto& v : j["bandwidth_samples"]) best = std::max(best, v.get<double>());
  EXPECT_DOUBLE_EQ(j["bandwidth_startup_gbs"].get<double>(), best);
  for (const auto& v : around) best = std::max(best, v.get<double>());
  EXPECT_DOUBLE_EQ(j["bandwidth_gbs"].get<double>(), best);
  ASSERT_EQ(per_rep.size(), 2u);
  for (size_t r = 0; r < 2; ++r) {
    const double bw = 0.5 * (around[r].get<double>() + around[r + 1].get<double>());
    EXPECT_NEAR(per_rep[r].get<double>(),
                j["tg_samples"][r].get<double>() * j["bytes_per_token"].get<double>() / (bw * 1e9),
                1e-9 * per_rep[r].get<double>());
  }
  EXPECT_GT(j["tg_roofline_ratio_bracketed"].get<double>(), 0);
  // Every decoded token's time (2 reps x 4 tokens): the median, p90 and max of them, the median's
  // tok/s and ratio, the stalls (over 1.5x the median) and their time beyond the median; each
  // repetition's tokens fit in the repetition's own time (its tok/s).
  std::vector<double> ms;
  for (const auto& v : j["tg_token_ms_samples"]) ms.push_back(v.get<double>());
  ASSERT_EQ(ms.size(), 8u);
  for (size_t r = 0; r < 2; ++r) {
    double sum = 0;
    for (size_t i = 0; i < 4; ++i) sum += ms[4 * r + i];
    EXPECT_GT(sum, 0);
    EXPECT_LE(sum, 4e3 / j["tg_samples"][r].get<double>() * (1 + 1e-9));
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double med = 0.5 * (sorted[3] + sorted[4]);
  EXPECT_DOUBLE_EQ(j["tg_token_ms_median"].get<double>(), med);
  EXPECT_DOUBLE_EQ(j["tg_token_ms_p90"].get<double>(), sorted[7]);  // rank ceil(0.9 x 8) = 8
  EXPECT_DOUBLE_EQ(j["tg_token_ms_max"].get<double>(), sorted[7]);
  EXPECT_NEAR(j["tg_tps_token_median"].get<double>(), 1e3 / med, 1e-9 * 1e3 / med);
  EXPECT_NEAR(j["tg_roofline_ratio_token_median"].get<double>(),
              1e3 / med / j["roofline_tps"].get<double>(), 1e-9);
  int stalled = 0;
  double total = 0, lost = 0;
  for (double t : ms) {
    total += t;
    if (t > 1.5 * med) ++stalled, lost += t - med;
  }
  EXPECT_EQ(j["tg_stalled_tokens"].get<int>(), stalled);
  EXPECT_NEAR(j["tg_stalled_time_share"].get<double>(), lost / total, 1e-12);
  // How often the pool left a late worker out of a job: a count, 0 unless a core was busy.
  ASSERT_TRUE(j.contains("pool_workers_left_out"));
  EXPECT_TRUE(j["pool_workers_left_out"].is_number_unsigned());
  // Likewise the int8 peak around each prefill repetition: pp tok/s over (the mean of the two
  // readings / 2 x params), params from the start-up ratio (pp_peak_tps = int8 peak / 2 params).
  const auto& peaks = j["int8_peak_around_pp_gops"];
  const auto& pp_rep = j["pp_peak_ratio_bracketed_samples"];
  ASSERT_EQ(peaks.size(), 3u);
  ASSERT_EQ(pp_rep.size(), 2u);
  const double two_params = j["int8_tops"].get<double>() * 1e12 / j["pp_peak_tps"].get<double>();
  for (size_t r = 0; r < 2; ++r) {
    const double peak = 0.5 * (peaks[r].get<double>() + peaks[r + 1].get<double>());
    ASSERT_GT(peak, 0);
    EXPECT_NEAR(pp_rep[r].get<double>(),
                j["pp_samples"][r].get<double>() * two_params / (peak * 1e9),
                1e-6 * pp_rep[r].get<double>());
  }
  EXPECT_GT(j["pp_peak_ratio_bracketed"].get<double>(), 0);
  // The FLOPs a prefill token does: every layer's matmuls, the output matrix (tied: the
  // embedding table, vocab x embedding) only for the last of the 16 tokens.
  auto info = test::run_uma({"inspect", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto ij = nlohmann::json::parse(info.out);
  const double out = ij["tokenizer"]["vocab_size"].get<double>() *
                     ij["hyperparameters"]["embedding_length"].get<double>();
  const double params = j["matmul_params"].get<double>();
  EXPECT_DOUBLE_EQ(j["pp_flops_per_token"].get<double>(), 2 * (params - out) + 2 * out / 16);
  const double done = j["pp_flops_per_token"].get<double>() / (2 * params);
  EXPECT_NEAR(j["pp_done_peak_ratio"].get<double>(), j["pp_peak_ratio"].get<double>() * done, 1e-9);
  EXPECT_NEAR(j["pp_done_peak_ratio_bracketed"].get<double>(),
              j["pp_peak_ratio_bracketed"].get<double>() * done, 1e-9);
  // The probes' 64 MiB buffers are not part of the peak RSS (the tiny model's run needs far less).
  EXPECT_LT(j["peak_rss_mb"].get<double>(),
            j["rss_anon_mb"].get<double>() + j["rss_file_mb"].get<double>() + 48.0);
}

// --depth N decodes after N cached tokens and counts the KV cache reads in the bytes per token:
// the token at position p reads p + 1 positions, so tg 4 after 10 reads 12.5 positions on average
// (4 after none: 2.5). One position's bytes come from `uma inspect`'s KV cache size.
// The figures name the CPU they came from (text and JSON), as cpu_features reads it: the dev
// VMs have moved between hosts whose vector units differ 2x in rate.
TEST(bench_cli, names_the_cpu) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1",
                          "--threads", "1", "--no-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["cpu_name"], cpu().name);
  EXPECT_EQ(j["cpu_uarch"], cpu().uarch);
  EXPECT_EQ(j["cpu_id"], cpu().id);
  EXPECT_EQ(j["cpu"], cpu().describe());
#if defined(__x86_64__)
  EXPECT_EQ(j["cpu_id"].get<std::string>().rfind("x86 family ", 0), 0u) << j["cpu_id"];
#endif
  auto text = test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1",
                             "--threads", "1", "--no-probe"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("cpu: " + cpu().identity() + "; " + cpu().describe() + "; 1 threads"),
            std::string::npos)
      << text.out;
}

// `uma bench --json` on `model` (one repetition, two threads, no probes) with pp, tg and depth;
// null (and a test failure) if it did not exit 0.
nlohmann::json bench_json_at_depth(const std::string& model, int pp, int tg, int depth) {
  auto r = test::run_uma({"bench", "-m", model, "--pp", std::to_string(pp), "--tg",
                          std::to_string(tg), "--depth", std::to_string(depth), "--reps", "1",
                          "--threads", "2", "--no-probe", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
}

// A mixture of experts (tiny-qwen3moe: 8 experts, 2 used): its matmul parameters and bytes per
// token count the router and the experts a token uses, 2 of 8, not all 8.
TEST(bench_cli, moe_counts_the_experts_a_token_uses) {
  const std::string model = test::temp_dir() + "/bench-tiny-qwen3moe.f32.gguf";
  auto s = test::run_uma({"synth", "tiny-qwen3moe", "-t", "f32", "-o", model, "--seed", "2"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto j = bench_json_at_depth(model, 4, 2, 0);
  ASSERT_FALSE(j.is_null());
  // Per layer: q 512 x 256, k and v 256 x 256, o 256 x 512, router 8 x 256, 2 of 8 experts of
  // 3 x 256 x 256; 2 layers; the untied output 512 x 256.
  const double layer = 512 * 256 + 2 * 256 * 256 + 256 * 512 + 8 * 256 + 2 * 3 * 256 * 256;
  EXPECT_EQ(j["matmul_params"].get<double>(), 2 * layer + 512 * 256);
  // F32: four bytes a parameter, plus the embedding row and the norms.
  const double bytes = j["weight_bytes"].get<double>();
  EXPECT_GE(bytes, 4 * (2 * layer + 512 * 256));
  EXPECT_LT(bytes, 4 * (2 * layer + 512 * 256) + 64 * 1024);
  std::filesystem::remove(model);
}

TEST(bench_cli, depth_counts_the_kv_cache_read_per_token) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto info = test::run_uma({"inspect", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto ij = nlohmann::json::parse(info.out);
  const double per_position = ij["memory"]["kv_cache"]["bytes"].get<double>() /
                              ij["memory"]["kv_cache"]["context"].get<double>();
  ASSERT_GT(per_position, 0);
  for (int depth : {0, 10}) {
    const auto j = bench_json_at_depth(model, 8, 4, depth);
    ASSERT_FALSE(j.is_null());
    EXPECT_EQ(j["depth"], depth);
    EXPECT_NEAR(j["kv_bytes_per_token"].get<double>(), (depth + 2.5) * per_position, 1e-6);
    EXPECT_GT(j["tg_tps"].get<double>(), 0);
  }
}

// --depth N puts N tokens in the cache before the prefill too (as llama-bench's -d), so the
// prompt's attention reads them: its FLOPs a token grow with the depth (tiny-qwen3: 2 layers x 8
// query heads x (64 + 64) x 2 a key seen), and depth plus the prompt must fit the context
// (4096), where before the prompt ran from an empty cache and only max(pp, depth) + tg had to.
TEST(bench_cli, depth_comes_before_the_prefill_too) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto info = test::run_uma({"inspect", "--json", model});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto hp = nlohmann::json::parse(info.out)["hyperparameters"];
  const double per_key = 2.0 * hp["block_count"].get<double>() * hp["head_count"].get<double>() *
                         (hp["key_length"].get<double>() + hp["value_length"].get<double>());
  for (int depth : {0, 100}) {
    const auto j = bench_json_at_depth(model, 8, 2, depth);
    ASSERT_FALSE(j.is_null());
    // Prompt token i (0-based) sees depth + i + 1 keys: depth + 4.5 on average over 8.
    EXPECT_NEAR(j["pp_attention_flops_per_token"].get<double>(), (depth + 4.5) * per_key, 1e-3);
    EXPECT_GT(j["pp_tps"].get<double>(), 0);
  }
  auto over = test::run_uma({"bench", "-m", model, "--pp", "2048", "--tg", "2", "--depth", "2100",
                             "--reps", "1", "--threads", "2", "--no-probe"});
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.err.find("context length (4096)"), std::string::npos) << over.err;
}

// --pp and --depth prefill in forwards of --ubatch tokens (default 512, as the engine's
// sessions): the activations of a forward grow with its tokens, so a 2048-token prompt in one
// forward holds far more memory beyond the weights and the KV cache than in forwards of 64
// (tiny-qwen3: ~33 MB against ~6 on the dev VM).
TEST(bench_cli, ubatch_prefills_in_forwards_of_that_many_tokens) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  double beyond[2] = {0, 0};
  for (int i = 0; i < 2; ++i) {
    const std::string ub = i == 0 ? "0" : "64";
    auto r =
        test::run_uma({"bench", "-m", model, "--pp", "2048", "--tg", "2", "--depth", "100",
                       "--reps", "1", "--threads", "2", "--no-probe", "--json", "--ubatch", ub});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["ubatch"], std::stoi(ub));
    EXPECT_GT(j["pp_tps"].get<double>(), 0);
    beyond[i] = j["rss_beyond_weights_mb"].get<double>() - j["kv_cache_faulted_mb"].get<double>();
  }
  EXPECT_LT(beyond[1] + 12.0, beyond[0])
      << "whole prompt " << beyond[0] << " MB, in 64s " << beyond[1] << " MB";
  auto bad = test::run_uma({"bench", "-m", model, "--ubatch", "-1", "--no-probe"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--ubatch"), std::string::npos) << bad.err;
}

// Decode's attention tasks split into parts (model::attention_part_tasks): tiny-qwen2 has 2 KV
// heads, fewer than 4 a thread on 2 threads, so after 600 cached tokens each head's keys span two
// parts of 512 and a token runs 2 layers x 2 heads x 2 parts = 8 part tasks; from an empty cache
// one part each, no split. The part length is --attn-part-keys.
TEST(bench_cli, reports_the_attention_part_tasks_a_token_ran) {
  const std::string model = test::shared_data("golden/tiny-qwen2.q4_0.gguf");
  for (const int depth : {0, 600}) {
    auto r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "4", "--depth",
                            std::to_string(depth), "--reps", "1", "--threads", "2", "--no-probe",
                            "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tg_attention_part_tasks_per_token"].get<double>(), depth > 0 ? 8.0 : 0.0) << depth;
    EXPECT_EQ(j["attn_part_keys"], 512);
  }
  // --attn-part-keys 256: three parts (keys 0-255, 256-511, 512-603), 12 part tasks a token.
  auto r =
      test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "4", "--depth", "600", "--reps",
                     "1", "--threads", "2", "--no-probe", "--json", "--attn-part-keys", "256"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tg_attention_part_tasks_per_token"].get<double>(), 12.0);
  r = test::run_uma({"bench", "-m", model, "--attn-part-keys", "0", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--attn-part-keys"), std::string::npos) << r.err;
}

// Comma lists: --depth / --pp / --tg run every combination with one model load (a JSON array of
// one object each, depth outermost), --batch decodes each size over 1 at every point (batch_runs);
// one value each keeps the single object. A bad element or too many runs is a clear error.
TEST(bench_cli, lists_run_every_combination) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r =
      test::run_uma({"bench", "-m", model, "--pp", "8,16", "--tg", "2", "--depth", "0,20", "--reps",
                     "1", "--threads", "2", "--no-probe", "--json", "--batch", "1,2,3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 4u);
  const int want[4][2] = {{0, 8}, {0, 16}, {20, 8}, {20, 16}};  // (depth, pp)
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j[i]["depth"], want[i][0]) << i;
    EXPECT_EQ(j[i]["pp"], want[i][1]) << i;
    EXPECT_EQ(j[i]["tg"], 2);
    EXPECT_GT(j[i]["pp_tps"].get<double>(), 0);
    EXPECT_GT(j[i]["tg_tps"].get<double>(), 0);
    EXPECT_EQ(j[i]["batch"], nlohmann::json({1, 2, 3}));
    ASSERT_EQ(j[i]["batch_runs"].size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      EXPECT_EQ(j[i]["batch_runs"][k]["batch"], int(k) + 2);
      EXPECT_GT(j[i]["batch_runs"][k]["batch_tg_tps"].get<double>(), 0);
    }
    // The prompt's attention FLOPs follow each point's depth.
    if (i >= 2) {
      EXPECT_GT(j[i]["pp_attention_flops_per_token"].get<double>(),
                j[i - 2]["pp_attention_flops_per_token"].get<double>());
    }
  }
  r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1", "--threads",
                     "2", "--no-probe", "--depth", "0,20", "--batch", "1,2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* row : {"\npp8 ", "\ntg2 ", "\npp8@d20 ", "\ntg2@d20 ", "\ntg2x2 "})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << r.out;
  r = test::run_uma({"bench", "-m", model, "--pp", "8,0", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--pp"), std::string::npos) << r.err;
  r = test::run_uma({"bench", "-m", model, "--depth", "1,x", "--no-probe"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--depth"), std::string::npos) << r.err;
  std::string many = "1";
  for (int i = 2; i <= 20; ++i) many.append(",").append(std::to_string(i));
  r = test::run_uma({"bench", "-m", model, "--pp", many, "--tg", many, "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("at most"), std::string::npos) << r.err;
}

// --attn-bf16: the JSON says whether prompt attention took BF16 products (where the CPU has
// them; elsewhere a note on stderr and f32), the text says so on its backend line; a prompt of 64
// tokens after 100 runs through them (the prefill's calls have 64 x 2 query rows).
TEST(bench_cli, attn_bf16_is_reported) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  const std::vector<std::string> args = {"bench", "-m",        model,    "--pp",      "64",
                                         "--tg",  "2",         "--reps", "1",         "--depth",
                                         "100",   "--threads", "2",      "--no-probe"};
  auto off = args, on = args;
  off.push_back("--json");
  on.insert(on.end(), {"--json", "--attn-bf16"});
  auto r = test::run_uma(off);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["attn_bf16"], false);
  r = test::run_uma(on);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const bool has = kernels::attn_bf16_available();
  EXPECT_EQ(nlohmann::json::parse(r.out)["attn_bf16"], has);
  EXPECT_EQ(r.err.find("no BF16 products") == std::string::npos, has) << r.err;
  auto text = args;
  text.push_back("--attn-bf16");
  r = test::run_uma(text);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("BF16 products in prompt attention") != std::string::npos, has) << r.out;
}

// The share of the mapping on 2 MiB pages is reported (whole pages, at most the file), with and
// without --reread (which must not change what is benchmarked: same weights, same bytes per token).
TEST(bench_cli, reports_the_weights_on_huge_pages) {
  const std::string model = test::temp_dir() + "/bench-huge.gguf";
  auto made = test::run_uma({"synth", "tiny-qwen3", "-o", model, "-t", "q4_0", "--seed", "4"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const double file_mb = static_cast<double>(std::filesystem::file_size(model)) / (1 << 20);
  double bytes[2] = {0, 0};
  for (int reread = 0; reread < 2; ++reread) {
    std::vector<std::string> args = {"bench", "-m",     model, "--pp",      "8", "--tg",
                                     "2",     "--reps", "1",   "--threads", "2", "--no-probe"};
    if (reread) args.push_back("--reread");
    auto text = test::run_uma(args);
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("weights on 2 MiB pages: "), std::string::npos) << text.out;
    args.push_back("--json");
    auto r = test::run_uma(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    const double huge = j["weights_huge_pages_mb"].get<double>();
    EXPECT_GE(huge, 0.0);
    EXPECT_LE(huge, file_mb);
    EXPECT_EQ(std::fmod(huge, 2.0), 0.0) << huge;
    bytes[reread] = j["weight_bytes"].get<double>();
  }
  EXPECT_EQ(bytes[0], bytes[1]);
}

TEST(bench_cli, repack_reports_the_interleaved_copies_as_weights) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto plain = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1",
                              "--threads", "2", "--no-probe", "--json"});
  auto packed = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1",
                               "--threads", "2", "--no-probe", "--json", "--repack=all"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  const auto a = nlohmann::json::parse(plain.out), b = nlohmann::json::parse(packed.out);
  EXPECT_EQ(a["repacked_weights_mb"].get<double>(), 0.0);
  const bool native =
      std::string(b["backend"]) == "avx512-vnni" || std::string(b["backend"]) == "amx";
  if (native) {
    // Every matrix of the model except the token embedding's rows (tied output: copied).
    EXPECT_GT(b["repacked_weights_mb"].get<double>(), 0.5);
    EXPECT_LE(b["repacked_weights_mb"].get<double>() * (1 << 20), b["weight_bytes"].get<double>());
  } else {
    EXPECT_EQ(b["repacked_weights_mb"].get<double>(), 0.0);
  }
  // The copies are not overhead: RSS beyond the weights stays that of the zero-copy run (+- 8 MiB
  // of allocator and page-rounding noise).
  EXPECT_NEAR(b["rss_beyond_weights_mb"].get<double>(), a["rss_beyond_weights_mb"].get<double>(),
              8.0);
  EXPECT_EQ(a["weight_bytes"], b["weight_bytes"]);
  EXPECT_EQ(a["repack"], "none");
  EXPECT_EQ(b["repack"], "all");
}

// Plain --repack copies only the types whose decode the backend measured faster from a copy: on
// Zen 5 (and AMD parts not measured) with AVX-512 only Q4_K (since 2026-12-06 22:38): none of a
// Q4_0 model's matrices (Q4_0, its output Q6_K), a K mix's Q4_K but not its Q6_K ones; Zen 4 only
// Q3_K and Q2_K (since 2026-12-07): a Q3_K_M mix's Q3_K but not its Q4_K / Q5_K / Q6_K ones,
// nothing of the Q4_0 and Q4_K_M models; elsewhere (Intel) every type, as --repack=all.
TEST(bench_cli, repack_alone_copies_only_the_types_that_gain) {
  const bool zen4 = uma::cpu().amd && uma::cpu().uarch == "zen4";
  const std::string q3 = test::temp_dir() + "/repack_faster.q3_k_m.gguf";
  ASSERT_EQ(
      test::run_uma({"synth", "tiny-qwen3", "-o", q3, "-t", "q3_k_m", "--seed", "5"}).exit_code, 0);
  for (const char* type : {"q4_0", "q4_k_m", "q3_k_m"}) {
    SCOPED_TRACE(type);
    const std::string model =
        std::string(type) == "q3_k_m"
            ? q3
            : test::shared_data(std::string("golden/tiny-qwen3.") + type + ".gguf");
    double mb[2] = {0, 0};
    std::string backend;
    for (int all = 0; all < 2; ++all) {
      auto r =
          test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1", "--threads",
                         "2", "--no-probe", "--json", all ? "--repack=all" : "--repack"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const auto j = nlohmann::json::parse(r.out);
      EXPECT_EQ(j["repack"], all ? "all" : "faster");
      mb[all] = j["repacked_weights_mb"].get<double>();
      backend = j["backend"];
    }
    if (backend != "avx512-vnni" && backend != "amx") {
      EXPECT_EQ(mb[0], 0.0);
      EXPECT_EQ(mb[1], 0.0);
    } else if (zen4) {
      EXPECT_GT(mb[1], 0.0);
      if (std::string(type) == "q3_k_m") {
        EXPECT_GT(mb[0], 0.0);    // the Q3_K matrices
        EXPECT_LT(mb[0], mb[1]);  // not the others
      } else {
        EXPECT_EQ(mb[0], 0.0);
      }
    } else if (uma::cpu().amd) {
      EXPECT_GT(mb[1], 0.0);
      if (std::string(type) != "q4_k_m") {
        EXPECT_EQ(mb[0], 0.0);
      } else {
        EXPECT_GT(mb[0], 0.0);    // the Q4_K matrices
        EXPECT_LT(mb[0], mb[1]);  // not the Q6_K ones
      }
    } else {
      EXPECT_GT(mb[0], 0.0);
      EXPECT_EQ(mb[0], mb[1]);
    }
  }
}

// --timeline: one more decode pass split by operation. Every operation is reported, none
// negative, the shares sum to one, and the parts add up to no more than the pass (the forwards'
// own time) and most of it; without the flag the fields are absent.
TEST(bench_cli, timeline_splits_a_decode_pass_by_operation) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "8", "--reps", "1",
                          "--threads", "2", "--no-probe", "--json", "--timeline"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("decode_timeline_us_per_token"));
  const auto& us = j["decode_timeline_us_per_token"];
  const auto& share = j["decode_timeline_share"];
  double sum_us = 0, sum_share = 0;
  for (const char* op :
       {"qkv", "attention", "o", "gate_up", "down", "layer_glue", "output", "other"}) {
    ASSERT_TRUE(us.contains(op)) << op;
    EXPECT_GE(us[op].get<double>(), 0.0) << op;
    sum_us += us[op].get<double>();
    sum_share += share[op].get<double>();
  }
  EXPECT_EQ(us.size(), 8u);
  EXPECT_GT(us["qkv"].get<double>(), 0.0);
  EXPECT_GT(us["output"].get<double>(), 0.0);
  EXPECT_NEAR(sum_share, 1.0, 1e-9);
  const double pass_us = 1e6 / j["decode_timeline_tps"].get<double>();
  EXPECT_LE(sum_us, pass_us * (1 + 1e-9));
  EXPECT_GE(sum_us, 0.5 * pass_us);
  r = test::run_uma(
      {"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1", "--no-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(nlohmann::json::parse(r.out).contains("decode_timeline_us_per_token"));
  r = test::run_uma(
      {"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1", "--no-probe", "--timeline"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("decode timeline"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("layer_glue"), std::string::npos) << r.out;
}

// --kv-type q8_0: the cache holds 34 bytes per 32 values instead of 64 (F16), and the bytes a
// decoded token reads and the reserved cache say so; the JSON names the type. An unknown type is
// refused before anything is benchmarked.
TEST(bench_cli, kv_type_q8_0_halves_the_cache_bytes) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  nlohmann::json by_type[2];
  int i = 0;
  for (const char* kv : {"f16", "q8_0"}) {
    auto r =
        test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "4", "--depth", "10", "--reps",
                       "1", "--threads", "2", "--no-probe", "--json", "--kv-type", kv});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    by_type[i] = nlohmann::json::parse(r.out);
    EXPECT_EQ(by_type[i]["kv_type"], kv);
    EXPECT_GT(by_type[i]["tg_tps"].get<double>(), 0);
    ++i;
  }
  EXPECT_NEAR(by_type[1]["kv_bytes_per_token"].get<double>(),
              by_type[0]["kv_bytes_per_token"].get<double>() * 34 / 64, 1e-6);
  EXPECT_NEAR(by_type[1]["kv_cache_reserved_mb"].get<double>(),
              by_type[0]["kv_cache_reserved_mb"].get<double>() * 34 / 64, 1e-6);
  // The same blocks faulted in, at the format's bytes; some, and not more than reserved.
  EXPECT_NEAR(by_type[1]["kv_cache_faulted_mb"].get<double>(),
              by_type[0]["kv_cache_faulted_mb"].get<double>() * 34 / 64, 1e-6);
  EXPECT_GT(by_type[0]["kv_cache_faulted_mb"].get<double>(), 0);
  EXPECT_LE(by_type[0]["kv_cache_faulted_mb"].get<double>(),
            by_type[0]["kv_cache_reserved_mb"].get<double>());
  auto r = test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1",
                          "--no-probe", "--kv-type", "q4_0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("kv-type"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("tg2"), std::string::npos);
}

// Load-time lists: --kv-type f16,q8_0 and --attn-bf16 0,1 load the model once per combination
// (KV type outermost, every point of the other lists on each load), each run's JSON naming what
// ran and its own KV bytes; BF16 asked for where the CPU has none runs once, as f32 (with the
// note). The text table has a header and a footer per load. The loads count towards the run
// limit; a bad --attn-bf16 value is refused before anything runs.
TEST(bench_cli, load_time_lists_load_the_model_once_each) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  const std::vector<std::string> args = {
      "bench", "-m",         model,       "--pp",     "8",           "--tg",
      "2",     "--depth",    "0,10",      "--reps",   "1",           "--threads",
      "2",     "--no-probe", "--kv-type", "f16,q8_0", "--attn-bf16", "0,1"};
  auto json_args = args;
  json_args.push_back("--json");
  auto r = test::run_uma(json_args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  const bool has = kernels::attn_bf16_available();
  const std::vector<bool> bf16s = has ? std::vector<bool>{false, true} : std::vector<bool>{false};
  ASSERT_EQ(j.size(), 2 * bf16s.size() * 2) << r.out;  // kv types x bf16 values x depths
  size_t i = 0;
  for (const char* kv : {"f16", "q8_0"})
    for (const bool bf : bf16s)
      for (const int depth : {0, 10}) {
        EXPECT_EQ(j[i]["kv_type"], kv) << i;
        EXPECT_EQ(j[i]["attn_bf16"], bf) << i;
        EXPECT_EQ(j[i]["depth"], depth) << i;
        EXPECT_GT(j[i]["tg_tps"].get<double>(), 0) << i;
        ++i;
      }
  // Each load's cache: q8_0 holds 34 bytes per 32 values where f16 holds 64.
  const size_t q8 = 2 * bf16s.size();
  EXPECT_NEAR(j[q8 + 1]["kv_bytes_per_token"].get<double>(),
              j[1]["kv_bytes_per_token"].get<double>() * 34 / 64, 1e-6);
  EXPECT_NEAR(j[q8]["kv_cache_reserved_mb"].get<double>(),
              j[0]["kv_cache_reserved_mb"].get<double>() * 34 / 64, 1e-6);
  EXPECT_EQ(r.err.find("no BF16 products") == std::string::npos, has) << r.err;
  r = test::run_uma(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t n_loads = 2 * bf16s.size();
  for (size_t l = 1; l <= n_loads; ++l)
    EXPECT_NE(r.out.find(fmt::format("== load {} of {}: ", l, n_loads)), std::string::npos)
        << r.out;
  size_t footers = 0;
  for (size_t at = r.out.find("\nmemory: "); at != std::string::npos;
       at = r.out.find("\nmemory: ", at + 1))
    ++footers;
  EXPECT_EQ(footers, n_loads) << r.out;
  EXPECT_NE(r.out.find("q8_0 KV cache, f32 products"), std::string::npos) << r.out;
  // 129 prompt sizes x 2 KV types: 258 runs, over the limit (256) whatever the CPU.
  std::string many = "1";
  for (int k = 2; k <= 129; ++k) many.append(",").append(std::to_string(k));
  r = test::run_uma({"bench", "-m", model, "--pp", many, "--kv-type", "f16,q8_0", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--kv-type"), std::string::npos) << r.err;
  for (const char* bad : {"2", "1,yes", "", "0,,1"}) {
    r = test::run_uma({"bench", "-m", model, "--tg", "2", "--no-probe", "--attn-bf16", bad});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_NE(r.err.find("--attn-bf16"), std::string::npos) << bad << r.err;
    EXPECT_EQ(r.out.find("tg2"), std::string::npos) << bad;
  }
}

// --threads 1,2 loads the model once per thread count (0 is one per physical core; a repeated
// count runs once), outermost of the load-time lists; each object names its count, and each
// load's header and footer say it. A bad value in the list is refused.
TEST(bench_cli, threads_list_loads_once_per_count) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1",
                          "--no-probe", "--json", "--threads", "1,2,1", "--kv-type", "f16,q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 4u) << r.out;
  const std::pair<int, const char*> want[4] = {{1, "f16"}, {1, "q8_0"}, {2, "f16"}, {2, "q8_0"}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(j[i]["threads"], want[i].first) << i;
    EXPECT_EQ(j[i]["kv_type"], want[i].second) << i;
    EXPECT_GT(j[i]["tg_tps"].get<double>(), 0) << i;
  }
  r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1", "--no-probe",
                     "--threads", "1,2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("== load 1 of 2: 1 thread, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("== load 2 of 2: 2 threads, "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backend " + std::string(kernels::matmul_backend_name()) + ", 1 thread, "),
            std::string::npos)
      << r.out;
  r = test::run_uma({"bench", "-m", model, "--tg", "2", "--no-probe", "--threads", "1,-3"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--threads"), std::string::npos) << r.err;
}

TEST(bench_cli, repack_rejects_an_unknown_mode) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "4", "--tg", "2", "--reps", "1",
                          "--no-probe", "--repack=fastest"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("repack"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("tg2"), std::string::npos);  // nothing was benchmarked
}

TEST(bench_cli, bad_arguments_fail_with_one_line) {
  auto r = test::run_uma({"bench", "-m", "/nonexistent/model.gguf", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  r = test::run_uma({"bench", "--pp", "0", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  // Longer than the model's context (tiny-qwen3: 4096): refused before any cache is made.
  const std::string tiny = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  r = test::run_uma({"bench", "-m", tiny, "--depth", "5000", "--tg", "4", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("context length (4096)"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  r = test::run_uma({"bench", "--depth", "-1", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--depth"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  for (const char* b : {"0", "257", "-3"}) {
    r = test::run_uma({"bench", "-m", tiny, "--batch", b, "--no-probe"});
    EXPECT_EQ(r.exit_code, 1) << b;
    EXPECT_NE(r.err.find("--batch values must be between 1 and 256"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  }
  // A thread count past the pool's limit (100000 ended the process in std::terminate when the
  // system refused a thread), a probe buffer past half the memory (99999999 MiB read 0 GB/s).
  for (const std::vector<std::string>& a :
       {std::vector<std::string>{"bench", "-m", tiny, "--threads", "100000", "--no-probe"},
        std::vector<std::string>{"bench", "-m", tiny, "--bw-mib", "99999999"},
        std::vector<std::string>{"bench", "-m", tiny, "--bw-mib", "0"},
        std::vector<std::string>{"run", "-m", tiny, "-p", "hi", "--threads", "1025"},
        std::vector<std::string>{"synth", "qwen3-0.6b", "-o", test::temp_dir() + "/never.gguf",
                                 "--threads", "1025"}}) {
    r = test::run_uma(a);
    EXPECT_EQ(r.exit_code, 1) << a[1] << " " << a.back();
    EXPECT_NE(r.err.find("must be between"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
  }
}

// The KV cache is reserved for --batch sequences of the whole context up front: a batch that
// cannot fit the machine's memory is refused with a message, not a failed allocation (qwen3-0.6b:
// 256 sequences x 40016 positions x 112 KiB is ~1 TiB).
TEST(bench_cli, batch_larger_than_memory_is_refused) {
  const std::string path = test::temp_dir() + "/bench-qwen3-0.6b.q4_0.gguf";
  auto s = test::run_uma({"synth", "qwen3-0.6b", "-o", path, "-t", "q4_0", "--seed", "3"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = test::run_uma({"bench", "-m", path, "--batch", "256", "--depth", "40000", "--pp", "1",
                          "--tg", "1", "--no-probe"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("more than this machine's"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1);
}

// --batch B decodes B sequences in lock-step (one forward of B tokens per step) after the batch-1
// decode: aggregate tok/s, its ratio to batch 1, and the ceiling of a step that reads the weights
// once and each sequence's KV cache (bandwidth), or computes 2 x params per token (int8 peak).
TEST(bench_cli, batch_decodes_several_sequences_at_once) {
  const std::string model = test::shared_data("golden/tiny-qwen3.q4_0.gguf");
  auto r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "4", "--depth", "6", "--batch",
                          "3", "--reps", "2", "--threads", "2", "--bw-mib", "64", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch"], 3);
  ASSERT_EQ(j["batch_tg_samples"].size(), 2u);
  EXPECT_GT(j["batch_tg_tps"].get<double>(), 0);
  EXPECT_NEAR(j["batch_speedup"].get<double>(),
              j["batch_tg_tps"].get<double>() / j["tg_tps"].get<double>(), 1e-9);
  const double step_bytes =
      j["weight_bytes"].get<double>() + 3 * j["kv_bytes_per_token"].get<double>();
  EXPECT_DOUBLE_EQ(j["batch_bytes_per_step"].get<double>(), step_bytes);
  const double bw_tps = 3 * j["bandwidth_gbs"].get<double>() * 1e9 / step_bytes;
  EXPECT_NEAR(j["batch_roofline_tps"].get<double>(),
              std::min(bw_tps, j["pp_peak_tps"].get<double>()),
              1e-6 * j["batch_roofline_tps"].get<double>());
  EXPECT_NEAR(j["batch_roofline_ratio"].get<double>(),
              j["batch_tg_tps"].get<double>() / j["batch_roofline_tps"].get<double>(), 1e-9);
  // Without --batch the fields are absent and batch reads 1.
  r = test::run_uma({"bench", "-m", model, "--pp", "8", "--tg", "2", "--reps", "1", "--threads",
                     "2", "--no-probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto one = nlohmann::json::parse(r.out);
  EXPECT_EQ(one["batch"], 1);
  EXPECT_FALSE(one.contains("batch_tg_tps"));
}

}  // namespace
}  // namespace uma
