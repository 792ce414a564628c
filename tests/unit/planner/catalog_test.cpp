// Data validation of the shipped catalogs (data/*.csv and the copy built into the binary) and the
// catalog parser's rejection of bad rows, custom hardware specs and id resolution.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "planner/catalog.h"
#include "test_util.h"

namespace uma::planner {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Catalog, ShippedDataParsesAndEveryRowHasASource) {
  std::string hw = slurp(test::source_dir() + "/data/hardware.csv");
  std::string models = slurp(test::source_dir() + "/data/models.csv");
  ASSERT_FALSE(hw.empty());
  ASSERT_FALSE(models.empty());
  auto cat = load_catalog(hw, models);
  ASSERT_TRUE(cat.ok()) << cat.message();
  EXPECT_GE(cat->hardware.size(), 30u);
  EXPECT_GE(cat->models.size(), 30u);
  for (const auto& h : cat->hardware) {
    EXPECT_EQ(h.source_url.rfind("https://", 0), 0u) << h.id;
    EXPECT_GT(h.memory_gb, 0) << h.id;
    EXPECT_GT(h.bandwidth_gbs, 0) << h.id;
    EXPECT_FALSE(h.name.empty()) << h.id;
    for (auto v : {h.fp16_tflops, h.int8_tops, h.price_usd, h.power_typical_w, h.power_max_w}) {
      if (v) {
        EXPECT_GE(*v, 0) << h.id;
      }
    }
  }
  for (const auto& m : cat->models) {
    EXPECT_EQ(m.source_url.rfind("https://", 0), 0u) << m.id;
    EXPECT_GT(m.params_total, 0) << m.id;
    EXPECT_GT(m.params_active, 0) << m.id;
    EXPECT_LE(m.params_active, m.params_total) << m.id;
    EXPECT_GT(m.n_layers, 0) << m.id;
    EXPECT_GT(m.context_length, 0) << m.id;
  }
  // A quoted field with commas survived: the 256GB Mac Studio's name has one.
  const auto* studio = cat->find_hardware("mac-studio-m3ultra-256");
  ASSERT_NE(studio, nullptr);
  EXPECT_NE(studio->name.find(", 4TB"), std::string::npos);
  EXPECT_EQ(studio->price_usd, 8099);
  const auto* ds = cat->find_model("deepseek-v3.1");
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(ds->attention, attention_kind::mla);
  EXPECT_EQ(ds->kv_lora_rank, 512);
  EXPECT_EQ(ds->n_experts, 256);
}

TEST(Catalog, EmbeddedCopyMatchesDataFiles) {
  EXPECT_EQ(embedded_hardware_csv(), slurp(test::source_dir() + "/data/hardware.csv"));
  EXPECT_EQ(embedded_models_csv(), slurp(test::source_dir() + "/data/models.csv"));
  auto cat = builtin_catalog();
  ASSERT_TRUE(cat.ok()) << cat.message();
  EXPECT_NE(cat->find_model("kimi-k2"), nullptr);
  EXPECT_NE(cat->find_hardware("mac-studio-m3ultra-512"), nullptr);
}

const char* hw_head =
    "id,name,vendor,kind,memory_gb,mem_bandwidth_gbs,fp16_tflops,int8_tops,price_usd,"
    "power_w_typical_inference,power_w_max,interconnect,year,source_url,notes\n";

TEST(Catalog, HardwareRowsAreValidated) {
  auto ok = parse_hardware_csv(std::string(hw_head) +
                               "x,\"X, big\",V,desktop,64,200,,,1000,,90,TB5,2025,https://a.b/c,"
                               "\"multi\nline\"\n");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)[0].name, "X, big");
  EXPECT_EQ((*ok)[0].power_w(), 90);
  EXPECT_FALSE((*ok)[0].fp16_tflops);

  struct bad {
    std::string row, expect;
  };
  for (const auto& b : std::vector<bad>{
           {"x,X,V,desktop,,200,,,,,,,2025,https://a,\n", "missing required number 'memory_gb'"},
           {"x,X,V,desktop,64,-5,,,,,,,2025,https://a,\n", "must be positive"},
           {"x,X,V,desktop,64,200,,,-1,,,,2025,https://a,\n", "must not be negative"},
           {"x,X,V,desktop,64,abc,,,,,,,2025,https://a,\n", "not a number"},
           {"x,X,V,desktop,64,200,,,,,,,2025,,\n", "source_url"},
           {"x,X,V,desktop,64,200,,,,,,,2025,https://a,\nx,Y,V,desktop,8,9,,,,,,,2025,https://a,\n",
            "duplicate id"},
       }) {
    auto r = parse_hardware_csv(std::string(hw_head) + b.row);
    ASSERT_FALSE(r.ok()) << b.row;
    EXPECT_NE(r.message().find(b.expect), std::string::npos) << r.message();
    // Errors name the offending row's line (the duplicate is the second data row).
    const char* line = b.expect == "duplicate id" ? "line 3" : "line 2";
    EXPECT_NE(r.message().find(line), std::string::npos) << r.message();
  }
  EXPECT_FALSE(parse_hardware_csv("id,name\nx,y\n").ok());  // missing columns
}

TEST(Catalog, ModelRowsAreValidated) {
  std::string head =
      "id,name,family,gguf_arch,params_total_b,params_active_b,n_layers,n_embd,n_heads,"
      "n_kv_heads,head_dim,attention,kv_lora_rank,qk_rope_head_dim,v_head_dim,sliding_window,"
      "sliding_layers,n_experts,n_experts_active,n_shared_experts,n_dense_layers,ffn_dim,"
      "moe_ffn_dim,vocab_size,context_length,tied_embeddings,release,source_url,notes\n";
  std::string good =
      "m,M,f,llama,8,8,32,4096,32,8,128,gqa,,,,,,,,,,14336,,128256,8192,false,,"
      "https://x/y,\n";
  ASSERT_TRUE(parse_models_csv(head + good).ok());
  struct bad {
    std::string row, expect;
  };
  for (const auto& b : std::vector<bad>{
           {"m,M,f,llama,8,9,32,4096,32,8,128,gqa,,,,,,,,,,1,,1,8192,false,,https://x,\n",
            "params_active_b exceeds"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,mla,,,,,,,,,,1,,1,8192,false,,https://x,\n",
            "kv_lora_rank"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,gqa+sliding,,,,,,,,,,1,,1,8192,false,,https://x,\n",
            "sliding_window"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,gqa,,,,,,8,9,,,1,,1,8192,false,,https://x,\n",
            "n_experts_active exceeds"},
           {"m,M,f,llama,8,8,-32,4096,32,8,128,gqa,,,,,,,,,,1,,1,8192,false,,https://x,\n",
            "n_layers"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,gqa,,,,,,,,,,1,,1,,false,,https://x,\n",
            "context_length"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,weird,,,,,,,,,,1,,1,8192,false,,https://x,\n",
            "unknown attention"},
           {"m,M,f,llama,8,8,32,4096,32,8,128,gqa,,,,,,,,,,1,,1,8192,maybe,,https://x,\n",
            "tied_embeddings"},
       }) {
    auto r = parse_models_csv(head + b.row);
    ASSERT_FALSE(r.ok()) << b.row;
    EXPECT_NE(r.message().find(b.expect), std::string::npos) << r.message();
  }
}

TEST(Catalog, CustomHardware) {
  auto h = parse_custom_hardware("custom:mem=128,bw=614,tflops=50,price=3499,watts=90,name=My box");
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(h->memory_gb, 128);
  EXPECT_EQ(h->bandwidth_gbs, 614);
  EXPECT_EQ(h->fp16_tflops, 50);
  EXPECT_EQ(h->price_usd, 3499);
  EXPECT_EQ(h->power_w(), 90);
  EXPECT_EQ(h->name, "My box");
  for (const char* bad : {"custom:", "custom:mem=128", "custom:bw=100", "custom:mem=-1,bw=100",
                          "custom:mem=64,bw=0", "custom:mem=64,bw=x", "custom:mem=64,bw=100,foo=1",
                          "custom:mem=64,,bw=100", "custom:mem64,bw=100", "nope:mem=1,bw=1"}) {
    EXPECT_FALSE(parse_custom_hardware(bad).ok()) << bad;
  }
}

TEST(Catalog, ResolveGivesHints) {
  auto cat = builtin_catalog();
  ASSERT_TRUE(cat.ok());
  auto hw = resolve_hardware(*cat, "m3-ultra");
  ASSERT_FALSE(hw.ok());
  EXPECT_NE(hw.message().find("did you mean"), std::string::npos) << hw.message();
  auto m = resolve_model(*cat, "no-such-model-xyz");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.message().find("unknown model"), std::string::npos);
  EXPECT_FALSE(resolve_model(*cat, "/nonexistent/x.gguf").ok());
  EXPECT_TRUE(resolve_hardware(*cat, "custom:mem=8,bw=50").ok());
}

}  // namespace
}  // namespace uma::planner
