// Reading a model's shape and exact weight bytes from GGUF files: a real llama.cpp file from the
// golden set, and small MoE / MLA / sliding-window files written here.
#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "planner/catalog.h"
#include "planner/physics.h"
#include "test_util.h"

namespace uma::planner {
namespace {

TEST(GgufModel, GoldenTinyLlama) {
  std::string path = test::shared_data("golden/tiny-llama.q4_k_m.gguf");
  auto m = model_from_gguf(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->arch, "llama");
  EXPECT_EQ(m->n_layers, 2);
  EXPECT_EQ(m->n_embd, 256);
  EXPECT_EQ(m->n_heads, 8);
  EXPECT_EQ(m->n_kv_heads, 2);
  EXPECT_EQ(m->head_dim, 32);
  EXPECT_EQ(m->vocab, 512);
  EXPECT_FALSE(m->tied_embeddings);
  // Exact bytes: the sum of the tensor table; decode skips the token-embedding lookup.
  auto f = gguf::file::open(path);
  ASSERT_TRUE(f.ok());
  double all = 0, embd = 0;
  for (const auto& t : f->tensors()) {
    all += static_cast<double>(t.n_bytes);
    if (t.name == "token_embd.weight") embd = static_cast<double>(t.n_bytes);
  }
  EXPECT_GT(embd, 0);
  EXPECT_DOUBLE_EQ(weight_bytes(*m, nullptr), all);
  EXPECT_DOUBLE_EQ(*m->file_read_bytes, all - embd);
  EXPECT_DOUBLE_EQ(weight_read_fraction(*m, 1), (all - embd) / all);
  // KV: 2 KV heads x (32 + 32) values x 2 layers per token, f16.
  EXPECT_DOUBLE_EQ(kv_cache_bytes(*m, 100, 1, 2.0), 100.0 * 2 * 2 * 64 * 2);
}

std::string write_model(const std::string& name, const std::function<void(gguf::writer&)>& fill) {
  gguf::writer w;
  fill(w);
  std::string path = test::temp_dir() + "/" + name + ".gguf";
  auto st = w.write(path);
  EXPECT_TRUE(st.ok()) << st.message();
  return path;
}

void add_f32(gguf::writer& w, const std::string& name, std::vector<int64_t> ne,
             std::vector<std::vector<float>>& keep) {
  int64_t n = 1;
  for (auto d : ne) n *= d;
  keep.emplace_back(static_cast<size_t>(n), 0.5f);
  auto bytes = std::as_bytes(std::span<const float>(keep.back()));
  auto st = w.add_tensor_bytes(name, dtype::f32, ne, bytes);
  ASSERT_TRUE(st.ok()) << st.message();
}

TEST(GgufModel, MoeReadsActiveExpertsOnly) {
  std::vector<std::vector<float>> keep;
  std::string path = write_model("moe", [&](gguf::writer& w) {
    w.set_string("general.architecture", "qwen3moe");
    w.set_u32("qwen3moe.block_count", 1);
    w.set_u32("qwen3moe.embedding_length", 16);
    w.set_u32("qwen3moe.attention.head_count", 4);
    w.set_u32("qwen3moe.attention.head_count_kv", 2);
    w.set_u32("qwen3moe.context_length", 1024);
    w.set_u32("qwen3moe.expert_count", 8);
    w.set_u32("qwen3moe.expert_used_count", 2);
    add_f32(w, "token_embd.weight", {16, 32}, keep);
    add_f32(w, "output.weight", {16, 32}, keep);
    add_f32(w, "blk.0.attn_q.weight", {16, 16}, keep);
    add_f32(w, "blk.0.ffn_up_exps.weight", {16, 8, 8}, keep);
  });
  auto m = model_from_gguf(path);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_TRUE(m->is_moe());
  EXPECT_EQ(m->head_dim, 4);  // embedding_length / head_count when key_length is absent
  double embd = 16 * 32 * 4, out = embd, q = 16 * 16 * 4, exps = 16 * 8 * 8 * 4;
  EXPECT_DOUBLE_EQ(*m->file_weight_bytes, embd + out + q + exps);
  EXPECT_DOUBLE_EQ(*m->file_read_bytes, out + q + exps * 2 / 8);
  EXPECT_EQ(m->file_quant, "f32");
  EXPECT_EQ(m->vocab, 32);
}

TEST(GgufModel, MlaAndSlidingFromMetadata) {
  std::vector<std::vector<float>> keep;
  std::string mla = write_model("mla", [&](gguf::writer& w) {
    w.set_string("general.architecture", "deepseek2");
    w.set_u32("deepseek2.block_count", 3);
    w.set_u32("deepseek2.embedding_length", 32);
    w.set_u32("deepseek2.attention.head_count", 4);
    w.set_u32("deepseek2.attention.kv_lora_rank", 16);
    w.set_u32("deepseek2.rope.dimension_count", 8);
    add_f32(w, "token_embd.weight", {32, 10}, keep);
  });
  auto m = model_from_gguf(mla);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->attention, attention_kind::mla);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(*m, 10, 1, 2.0), 3.0 * 10 * (16 + 8) * 2);
  EXPECT_TRUE(m->tied_embeddings);
  EXPECT_DOUBLE_EQ(*m->file_read_bytes, 32 * 10 * 4);  // tied: the table is the output head

  std::string swa = write_model("swa", [&](gguf::writer& w) {
    w.set_string("general.architecture", "gemma3");
    w.set_u32("gemma3.block_count", 12);
    w.set_u32("gemma3.embedding_length", 32);
    w.set_u32("gemma3.attention.head_count", 4);
    w.set_u32("gemma3.attention.head_count_kv", 1);
    w.set_u32("gemma3.attention.key_length", 8);
    w.set_u32("gemma3.attention.sliding_window", 64);
    add_f32(w, "token_embd.weight", {32, 10}, keep);
  });
  auto g = model_from_gguf(swa);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->attention, attention_kind::sliding);
  EXPECT_EQ(g->sliding_layers, 10);  // one global layer in six
  EXPECT_DOUBLE_EQ(kv_cache_bytes(*g, 1000, 1, 2.0), (2.0 * 1000 + 10.0 * 64) * 16 * 2);
}

TEST(GgufModel, Errors) {
  std::vector<std::vector<float>> keep;
  std::string noshape = write_model("noshape", [&](gguf::writer& w) {
    w.set_string("general.architecture", "llama");
    add_f32(w, "token_embd.weight", {4, 4}, keep);
  });
  auto r = model_from_gguf(noshape);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("llama.block_count"), std::string::npos) << r.message();
  auto missing = model_from_gguf(test::temp_dir() + "/absent.gguf");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace uma::planner
