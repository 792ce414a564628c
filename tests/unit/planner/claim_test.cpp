// Fuzzy matching of names to catalog entries and parsing/verdicts of free-text tok/s claims.
#include <gtest/gtest.h>

#include "planner/claim.h"
#include "planner/report.h"

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

std::string model_id(std::string_view text) {
  auto m = match_model(cat(), text);
  return m.entry ? cat().models[*m.entry].id : "";
}
std::string hw_id(std::string_view text) {
  auto m = match_hardware(cat(), text);
  return m.entry ? cat().hardware[*m.entry].id : "";
}

TEST(Claim, Tokens) {
  EXPECT_EQ(name_tokens("Llama-3.3-70B"), (std::vector<std::string>{"llama", "3.3", "70b"}));
  EXPECT_EQ(name_tokens("M5Max 128GB"), (std::vector<std::string>{"m5", "max", "128gb"}));
  EXPECT_EQ(name_tokens("RTX4090"), (std::vector<std::string>{"rtx", "4090"}));
  EXPECT_EQ(name_tokens("Qwen3-30B-A3B"), (std::vector<std::string>{"qwen", "3", "30b", "a3b"}));
}

TEST(Claim, FuzzyMatching) {
  EXPECT_EQ(model_id("Llama 3.3 70B"), "llama-3.3-70b");
  EXPECT_EQ(model_id("llama3.1 70b"), "llama-3.1-70b");
  EXPECT_EQ(model_id("DeepSeek V3.1"), "deepseek-v3.1");
  EXPECT_EQ(model_id("Kimi K2"), "kimi-k2");
  EXPECT_EQ(model_id("qwen3 30b a3b"), "qwen3-30b-a3b");
  EXPECT_EQ(model_id("gpt-oss-120b"), "gpt-oss-120b");
  EXPECT_EQ(model_id("banana bread"), "");
  EXPECT_EQ(model_id("llama"), "");  // one common word is not a match
  EXPECT_EQ(hw_id("RTX 4090"), "rtx-4090");
  EXPECT_EQ(hw_id("H100"), "h100-sxm");
  EXPECT_EQ(hw_id("DGX Spark"), "dgx-spark");
  const auto& m5 = *cat().find_hardware(hw_id("M5 Max 128GB"));
  EXPECT_EQ(m5.bandwidth_gbs, 614);
  EXPECT_EQ(m5.memory_gb, 128);
  const auto& m3 = *cat().find_hardware(hw_id("M3 Ultra 512GB"));
  EXPECT_EQ(m3.memory_gb, 512);
  EXPECT_EQ(hw_id("toaster"), "");
}

TEST(Claim, SeventyBOnM5MaxIsAboveTheBandwidthLimit) {
  auto c = parse_claim(cat(), "Llama 3.3 70B Q4_K_M at 25 tok/s on M5 Max 128GB", nullptr);
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->tps, 25);
  EXPECT_TRUE(c->quant_stated);
  EXPECT_EQ(c->quant->name, "q4_k_m");
  EXPECT_EQ(cat().models[c->model].id, "llama-3.3-70b");
  EXPECT_EQ(cat().hardware[c->hardware].bandwidth_gbs, 614);
  plan_options o;
  auto r = check_claim(cat(), *c, o);
  // 614 GB/s over ~42.6 GB read per token: ~14.4 tok/s at most.
  double read = (70.55e9 - 128256.0 * 8192) * 4.90 / 8;
  EXPECT_NEAR(r.bound_tps, 614e9 / read, 1e-6);
  EXPECT_EQ(r.verdict, claim_verdict::above_bound);
  EXPECT_NE(r.message.find("speculative"), std::string::npos);
  EXPECT_EQ(r.nodes_needed, 1);
}

TEST(Claim, VariantsAndVerdicts) {
  plan_options o;
  auto slow = parse_claim(cat(), "llama-3.1-8b q8_0: 30 tokens per second on an RTX 4090",
                          find_quant("q4_k_m"));
  ASSERT_TRUE(slow.ok()) << slow.message();
  EXPECT_EQ(slow->quant->name, "q8_0");
  EXPECT_EQ(check_claim(cat(), *slow, o).verdict, claim_verdict::plausible);

  auto tight =
      parse_claim(cat(), "Qwen3 30B-A3B 4-bit 180 t/s on M4 Max 128GB", find_quant("q4_k_m"));
  ASSERT_TRUE(tight.ok()) << tight.message();
  EXPECT_EQ(tight->quant->name, "4bit");
  auto tr = check_claim(cat(), *tight, o);
  // 546 GB/s / (3.3e9 x 4.5 / 8) = 294 tok/s bound; 180 is above 60% of it.
  EXPECT_NEAR(tr.bound_tps, 546e9 / (3.3e9 * 4.5 / 8), 1e-6);
  EXPECT_EQ(tr.verdict, claim_verdict::optimistic);

  // "2x": a two-machine pipeline; the bound pays two hops of Thunderbolt 5 RDMA.
  auto two = parse_claim(cat(), "Kimi K2 4bit 30 tok/s on 2x M3 Ultra 512GB", nullptr);
  ASSERT_TRUE(two.ok()) << two.message();
  EXPECT_EQ(two->nodes, 2);
  EXPECT_EQ(cat().hardware[two->hardware].memory_gb, 512);
  auto tw = check_claim(cat(), *two, o);
  const auto& kimi = cat().models[two->model];
  double read = 1000e9 * 4.5 / 8 * 0.032;
  double hop = 2 * 8e-6 + 7168.0 * 2 * 8 / 80e9;
  EXPECT_NEAR(tw.bound_tps, 1 / (read / 819e9 + hop), 1e-9);
  EXPECT_EQ(kimi.id, "kimi-k2");
  EXPECT_EQ(tw.nodes_needed, 2);
  EXPECT_EQ(tw.message.find("does not fit"), std::string::npos) << tw.message;
  auto one =
      check_claim(cat(), *parse_claim(cat(), "Kimi K2 4bit 30 tok/s on M3 Ultra", nullptr), o);
  EXPECT_NE(one.message.find("does not fit in 1 machine"), std::string::npos) << one.message;

  // An ambiguous name still answers, and says what else it matched.
  auto amb = parse_claim(cat(), "Llama 70B at 10 tok/s on RTX 5090", nullptr);
  ASSERT_TRUE(amb.ok());
  EXPECT_FALSE(amb->model_alternatives.empty());
  EXPECT_FALSE(check_claim(cat(), *amb, o).also_matches.empty());

  auto nq = parse_claim(cat(), "DeepSeek R1 at 20 tok/s on M3 Ultra", find_quant("q4_k_m"));
  ASSERT_TRUE(nq.ok()) << nq.message();
  EXPECT_FALSE(nq->quant_stated);
  EXPECT_EQ(nq->quant->name, "q4_k_m");
}

TEST(Claim, SaysClearlyWhatItCannotParse) {
  auto none = parse_claim(cat(), "Llama 3.3 70B is fast on M5 Max", nullptr);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("no tok/s figure"), std::string::npos);
  auto nomodel = parse_claim(cat(), "a mystery model at 25 tok/s on M5 Max", nullptr);
  ASSERT_FALSE(nomodel.ok());
  EXPECT_NE(nomodel.message().find("no catalog model"), std::string::npos);
  auto nohw = parse_claim(cat(), "Llama 3.3 70B at 25 tok/s on my toaster", nullptr);
  ASSERT_FALSE(nohw.ok());
  EXPECT_NE(nohw.message().find("no catalog hardware"), std::string::npos);
  auto badq = parse_claim(cat(), "Llama 3.3 70B q9_x at 25 tok/s on M5 Max", nullptr);
  ASSERT_FALSE(badq.ok());
  EXPECT_NE(badq.message().find("unknown weight format"), std::string::npos);
  EXPECT_FALSE(parse_claim(cat(), "", nullptr).ok());
}

}  // namespace
}  // namespace uma::planner
