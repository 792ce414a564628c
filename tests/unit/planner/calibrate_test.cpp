// Calibration from `uma bench --json`: efficiencies derived from measurements, and validation of
// the JSON (missing, negative, non-numeric and inconsistent fields).
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "planner/calibrate.h"
#include "test_util.h"

namespace uma::planner {
namespace {

TEST(Calibrate, DecodeEfficiencyIsMeasuredOverRoofline) {
  efficiency d;
  auto c = calibrate_from_bench(
      R"({"model":"tiny.gguf","bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,
          "tg_roofline_ratio":0.6,"pp_tps":200,"peak_rss_mb":900,"weight_bytes":8e8})",
      nullptr, d);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_DOUBLE_EQ(c->eff.decode, 0.6);
  EXPECT_DOUBLE_EQ(c->eff.prefill, d.prefill);  // no int8 peak: prefill not calibrated
  EXPECT_NE(c->eff.source.find("tiny.gguf"), std::string::npos);
  EXPECT_FALSE(c->notes.empty());

  // With the benched machine's catalog row, the bandwidth shortfall is folded in.
  hardware_spec hw;
  hw.id = "box";
  hw.bandwidth_gbs = 50;
  auto h = calibrate_from_bench(R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50})", &hw, d);
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_DOUBLE_EQ(h->eff.decode, 0.6 * 40 / 50);
}

// The bench names its CPU; the plan's source line carries it. A non-string name is refused.
TEST(Calibrate, SourceNamesTheBenchedCpu) {
  efficiency d;
  auto c = calibrate_from_bench(R"({"model":"m.gguf","bandwidth_gbs":40,"tg_tps":30,
      "roofline_tps":50,"cpu_name":"AMD EPYC","cpu_uarch":"zen4"})",
                                nullptr, d);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->cpu, "AMD EPYC (zen4)");
  EXPECT_EQ(c->eff.source, "calibrated from uma bench on m.gguf, AMD EPYC (zen4)");
  auto u = calibrate_from_bench(
      R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,"cpu_name":"X","cpu_uarch":""})",
      nullptr, d);
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_EQ(u->cpu, "X");  // an unknown microarchitecture adds nothing
  EXPECT_EQ(u->eff.source, "calibrated from uma bench, X");
  auto bad = calibrate_from_bench(
      R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,"cpu_name":7})", nullptr, d);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'cpu_name' must be a string"), std::string::npos) << bad.message();
}

TEST(Calibrate, PrefillFromInt8PeakAndParams) {
  efficiency d;
  auto c = calibrate_from_bench(R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,
      "pp_tps":100,"int8_tops":2.0,"matmul_params":1e9})",
                                nullptr, d);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_DOUBLE_EQ(c->eff.prefill, 100 * 2 * 1e9 / 2e12);  // 0.1
  // A prompt after cached tokens (`uma bench --depth`) also did its attention's FLOPs, which the
  // planner's prefill model counts too.
  auto deep = calibrate_from_bench(R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,
      "pp_tps":100,"int8_tops":2.0,"matmul_params":1e9,"pp_attention_flops_per_token":1e9})",
                                   nullptr, d);
  ASSERT_TRUE(deep.ok()) << deep.message();
  EXPECT_DOUBLE_EQ(deep->eff.prefill, 100 * (2 * 1e9 + 1e9) / 2e12);  // 0.15
  auto r = calibrate_from_bench(
      R"({"bandwidth_gbs":40,"tg_tps":30,"tg_roofline_ratio":0.75,"pp_peak_ratio":0.3})", nullptr,
      d);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_DOUBLE_EQ(r->roofline_tps, 40);
  EXPECT_DOUBLE_EQ(r->eff.decode, 0.75);
  EXPECT_DOUBLE_EQ(r->eff.prefill, 0.3);
}

// Real output of `uma bench --json` (tiny-llama.q4_k_m.gguf on the 2-core dev box), kept as a
// fixture so the planner keeps reading the field names the bench actually writes.
TEST(Calibrate, ReadsRealBenchOutput) {
  std::ifstream in(test::source_dir() + "/tests/unit/planner/data/bench_tiny_llama.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str());
  efficiency d;
  auto c = calibrate_from_bench(ss.str(), nullptr, d);
  ASSERT_TRUE(c.ok()) << c.message();
  double tg = j["tg_tps"], roof = j["roofline_tps"];
  EXPECT_DOUBLE_EQ(c->eff.decode, tg / roof);
  EXPECT_NEAR(c->eff.decode, j["tg_roofline_ratio"].get<double>(), 1e-9);
  // pp_tps x 2 x matmul_params / int8 peak agrees with the bench's own pp_peak_ratio.
  double pre = j["pp_tps"].get<double>() * 2 * j["matmul_params"].get<double>() /
               (j["int8_tops"].get<double>() * 1e12);
  EXPECT_DOUBLE_EQ(c->eff.prefill, pre);
  EXPECT_NEAR(c->eff.prefill, j["pp_peak_ratio"].get<double>(), 1e-6);
  EXPECT_EQ(c->model, j["model"].get<std::string>());
}

TEST(Calibrate, RejectsBadJson) {
  efficiency d;
  struct bad {
    const char* json;
    const char* expect;
  };
  for (
      const auto& b : std::vector<bad>{
          {"not json", "not valid JSON"},
          {"[1,2]", "expected an object"},
          {R"([{"tg_tps":30}])", "array of them: pass one"},
          {R"({"tg_tps":30,"roofline_tps":50})", "missing required field 'bandwidth_gbs'"},
          {R"({"bandwidth_gbs":40,"roofline_tps":50})", "missing required field 'tg_tps'"},
          {R"({"bandwidth_gbs":40,"tg_tps":30})", "roofline_tps"},
          {R"({"bandwidth_gbs":-40,"tg_tps":30,"roofline_tps":50})", "must not be negative"},
          {R"({"bandwidth_gbs":40,"tg_tps":0,"roofline_tps":50})", "must be positive"},
          {R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,"pp_tps":-1})", "pp_tps"},
          {R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,"pp_attention_flops_per_token":-1})",
           "pp_attention_flops_per_token"},
          {R"({"bandwidth_gbs":"fast","tg_tps":30,"roofline_tps":50})", "must be a number"},
          {R"({"bandwidth_gbs":40,"tg_tps":300,"roofline_tps":50})", "inconsistent"},
          {R"({"bandwidth_gbs":40,"tg_tps":30,"roofline_tps":50,"model":3})", "'model'"},
      }) {
    auto r = calibrate_from_bench(b.json, nullptr, d);
    ASSERT_FALSE(r.ok()) << b.json;
    EXPECT_NE(r.message().find(b.expect), std::string::npos) << r.message();
  }
}

}  // namespace
}  // namespace uma::planner
