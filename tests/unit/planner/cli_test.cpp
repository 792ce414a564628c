// `uma plan` end to end through the real binary: each view, JSON output, calibration, and a
// one-line error with exit code 1 for every kind of bad input.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace uma {
namespace {

using nlohmann::json;

void expect_one_line_error(const std::vector<std::string>& args, const std::string& needle) {
  auto r = test::run_uma(args);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_EQ(r.err.rfind("uma plan: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(PlanCli, ModelAcrossHardwareTiers) {
  auto r = test::run_uma({"plan", "llama-3.1-8b"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rtx-4090"), std::string::npos);
  EXPECT_NE(r.out.find("mac-studio-m3ultra-512"), std::string::npos);
  EXPECT_NE(r.out.find("Sources:"), std::string::npos);
  EXPECT_NE(r.out.find("https://huggingface.co/meta-llama/Llama-3.1-8B"), std::string::npos);
}

TEST(PlanCli, JsonMatchesPhysics) {
  auto r = test::run_uma({"plan", "deepseek-v3.1", "--quant", "4bit", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["view"], "model");
  EXPECT_NEAR(j["read_bytes_per_token"].get<double>(), 37e9 * 4.5 / 8, 1e4);
  bool seen = false;
  for (const auto& row : j["rows"]) {
    if (row["hardware"]["id"] == "apple-m3-ultra") {
      seen = true;
      EXPECT_NEAR(row["decode_bound_tps"].get<double>(), 819e9 / (37e9 * 4.5 / 8), 1e-6);
      EXPECT_EQ(row["nodes"], 1);  // 377 GB of weights fit one 512 GiB machine
    }
    if (row["hardware"]["id"] == "rtx-4090") {
      EXPECT_EQ(row["nodes"], 0);  // more than 8 cards of 24 GB
    }
    EXPECT_FALSE(row["hardware"]["source_url"].get<std::string>().empty());
  }
  EXPECT_TRUE(seen);
}

TEST(PlanCli, KimiK2NeedsTwoNodes) {
  auto r = test::run_uma({"plan", "kimi-k2", "--quant", "4bit", "--hardware",
                          "mac-studio-m3ultra-512", "--ctx", "32k", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 1u);
  const auto& row = j["rows"][0];
  EXPECT_FALSE(row["fits_one_node"].get<bool>());
  EXPECT_EQ(row["nodes"], 2);
  EXPECT_EQ(row["link"], "tb5-rdma");
  EXPECT_GT(row["memory_total_bytes"].get<double>(), 512.0 * (1 << 30));
}

TEST(PlanCli, HardwareViewAndList) {
  auto r = test::run_uma({"plan", "--hardware", "rtx-4090"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("largest model that fits"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not load even at"), std::string::npos) << r.out;
  auto j = test::run_uma({"plan", "--hardware", "custom:mem=128,bw=614", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto parsed = json::parse(j.out);
  EXPECT_EQ(parsed["view"], "hardware");
  EXPECT_GE(parsed["rows"].size(), 30u);
  auto list = test::run_uma({"plan", "--list-hardware"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("dgx-spark"), std::string::npos);
  EXPECT_NE(list.out.find("https://"), std::string::npos);
}

TEST(PlanCli, CheckClaim) {
  auto r = test::run_uma(
      {"plan", "check", "Llama 3.3 70B Q4_K_M at 25 tok/s on M5 Max 128GB", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["verdict"], "above_bound");
  EXPECT_EQ(j["model"]["id"], "llama-3.3-70b");
  EXPECT_LT(j["decode_bound_tps"].get<double>(), 25.0);
  expect_one_line_error({"plan", "check", "something is fast"}, "can't parse claim");
  expect_one_line_error({"plan", "check"}, "check needs a claim");
}

TEST(PlanCli, Calibrate) {
  std::string dir = test::temp_dir();
  {
    std::ofstream(dir + "/bench.json")
        << R"({"model":"m.gguf","bandwidth_gbs":50,"tg_tps":20,"roofline_tps":40,"pp_tps":10})";
    std::ofstream(dir + "/bad.json") << R"({"bandwidth_gbs":50,"tg_tps":-20,"roofline_tps":40})";
  }
  auto r = test::run_uma({"plan", "llama-3.1-8b", "--hardware", "rtx-4090", "--calibrate",
                          dir + "/bench.json", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_DOUBLE_EQ(j["options"]["decode_efficiency"].get<double>(), 0.5);
  // Predicted decode scales with the calibrated efficiency: 0.5 of the 0.6 default.
  auto d = test::run_uma({"plan", "llama-3.1-8b", "--hardware", "rtx-4090", "--json"});
  json jd = json::parse(d.out);
  EXPECT_LT(j["rows"][0]["decode_tps"].get<double>(), jd["rows"][0]["decode_tps"].get<double>());
  expect_one_line_error({"plan", "llama-3.1-8b", "--calibrate", dir + "/bad.json"},
                        "must not be negative");
  expect_one_line_error({"plan", "llama-3.1-8b", "--calibrate", dir + "/missing.json"},
                        "cannot read");
}

TEST(PlanCli, GgufPath) {
  auto r = test::run_uma({"plan", test::shared_data("golden/tiny-llama.q4_k_m.gguf"), "--hardware",
                          "apple-m1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["model"]["arch"], "llama");
  EXPECT_EQ(j["rows"][0]["nodes"], 1);
}

TEST(PlanCli, BadInputIsOneLineErrorAndExit1) {
  expect_one_line_error({"plan", "no-such-model"}, "unknown model 'no-such-model'");
  expect_one_line_error({"plan", "llama-3.1-8b", "--hardware", "no-such-hw"}, "unknown hardware");
  expect_one_line_error({"plan", "--hardware", "custom:mem=128"}, "custom hardware needs");
  expect_one_line_error({"plan", "--hardware", "custom:mem=abc,bw=5"}, "not a number");
  expect_one_line_error({"plan", "--hardware", "custom:mem=-8,bw=5"}, "must be positive");
  expect_one_line_error({"plan", "llama-3.1-8b", "--ctx", "-5"}, "--ctx must be positive");
  expect_one_line_error({"plan", "llama-3.1-8b", "--users", "0"}, "--users must be positive");
  expect_one_line_error({"plan", "llama-3.1-8b", "--users", "two"}, "--users must be a number");
  expect_one_line_error({"plan", "llama-3.1-8b", "--quant", "q9"}, "unknown quantization");
  expect_one_line_error({"plan", "llama-3.1-8b", "--utilisation", "1.5"}, "at most 1");
  expect_one_line_error({"plan", "llama-3.1-8b", "--kwh-price", "-0.1"}, "non-negative");
  expect_one_line_error({"plan", "llama-3.1-8b", "--link", "carrier-pigeon"}, "unknown --link");
  expect_one_line_error({"plan", "/nonexistent/model.gguf"}, "/nonexistent/model.gguf");
  expect_one_line_error({"plan"}, "give a MODEL");
  std::string dir = test::temp_dir();
  std::ofstream(dir + "/hw.csv") << "id,name,kind,memory_gb,mem_bandwidth_gbs,source_url\n"
                                    "x,X,desktop,-64,100,https://a\n";
  expect_one_line_error({"plan", "--list-hardware", "--hardware-csv", dir + "/hw.csv"},
                        "memory_gb");
}

}  // namespace
}  // namespace uma
