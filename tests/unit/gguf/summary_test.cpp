// gguf::summarize on files built in the test: KV-cache arithmetic (defaults, per-layer head counts,
// distinct key/value lengths), missing or absurd hyperparameters, and per-format totals.
#include <gtest/gtest.h>

#include "gguf/summary.h"
#include "gguf/writer.h"

namespace uma::gguf {
namespace {

struct built {
  std::vector<std::byte> bytes;
  file f;
};

built build(writer& w) {
  auto bytes = w.write_to_memory();
  EXPECT_TRUE(bytes.ok());
  built b{std::move(*bytes), {}};
  auto f = file::parse(b.bytes);
  EXPECT_TRUE(f.ok()) << f.message();
  b.f = std::move(*f);
  return b;
}

TEST(gguf_summary, kv_defaults_to_embedding_over_heads) {
  writer w;
  w.set_string("general.architecture", "toy");
  w.set_u32("toy.block_count", 3);
  w.set_u32("toy.embedding_length", 512);
  w.set_u32("toy.attention.head_count", 8);  // head dim 64, kv heads = heads
  w.set_u32("toy.context_length", 1000);
  auto b = build(w);
  summary s = summarize(b.f);
  EXPECT_EQ(s.key_length, 64u);
  EXPECT_EQ(s.value_length, 64u);
  EXPECT_EQ(s.n_head_kv, 8u);
  EXPECT_EQ(s.kv_context, 1000u);
  EXPECT_EQ(s.kv_bytes, 3u * 8 * (64 + 64) * 1000 * 2);
  EXPECT_EQ(summarize(b.f, 10).kv_bytes, 3u * 8 * 128 * 10 * 2);
}

TEST(gguf_summary, per_layer_kv_heads_and_distinct_lengths) {
  writer w;
  w.set_string("general.architecture", "toy");
  w.set_u32("toy.block_count", 3);
  const int32_t heads[] = {2, 0, 4};  // e.g. a layer without attention
  w.set_array_i32("toy.attention.head_count_kv", heads);
  w.set_u32("toy.attention.key_length", 192);
  w.set_u32("toy.attention.value_length", 128);
  auto b = build(w);
  summary s = summarize(b.f, 7);
  EXPECT_EQ(s.kv_bytes, (2u + 0 + 4) * (192 + 128) * 7 * 2);
}

TEST(gguf_summary, missing_or_absurd_fields_are_reported_not_fatal) {
  {
    writer w;  // no architecture at all
    auto b = build(w);
    summary s = summarize(b.f);
    EXPECT_FALSE(s.kv_bytes);
    EXPECT_EQ(s.kv_missing, "general.architecture");
  }
  {
    writer w;
    w.set_string("general.architecture", "toy");
    w.set_u32("toy.block_count", 2);
    w.set_u32("toy.embedding_length", 512);
    w.set_u32("toy.attention.head_count", 0);  // no division by zero
    auto b = build(w);
    summary s = summarize(b.f, 10);
    EXPECT_FALSE(s.kv_bytes);
    EXPECT_EQ(s.kv_missing, "toy.attention.key_length");
  }
  {
    writer w;
    w.set_string("general.architecture", "toy");
    w.set_u32("toy.block_count", 2);
    w.set_u32("toy.attention.head_count", 8);
    w.set_u32("toy.attention.key_length", 64);
    auto b = build(w);
    summary s = summarize(b.f);  // no context length and none given
    EXPECT_FALSE(s.kv_bytes);
    EXPECT_EQ(s.kv_missing, "toy.context_length");
  }
  {
    writer w;
    w.set_string("general.architecture", "toy");
    w.set_u64("toy.block_count", 1ull << 40);
    w.set_u64("toy.attention.head_count", 1ull << 20);
    w.set_u64("toy.attention.key_length", 1ull << 20);
    auto b = build(w);
    summary s = summarize(b.f, 1ull << 20);  // overflows 64 bits
    EXPECT_FALSE(s.kv_bytes);
    EXPECT_FALSE(s.kv_missing.empty());
  }
  {
    writer w;
    w.set_string("general.architecture", "toy");
    w.set_string("toy.block_count", "two");  // wrong type: treated as absent
    auto b = build(w);
    summary s = summarize(b.f, 10);
    EXPECT_FALSE(s.n_layer);
    EXPECT_EQ(s.kv_missing, "toy.block_count");
  }
}

TEST(gguf_summary, formats_and_vocab) {
  writer w;
  w.set_string("general.architecture", "toy");
  w.set_array_string("tokenizer.ggml.tokens", std::vector<std::string>{"a", "b", "c"});
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.chat_template", "{{ x }}");
  const int64_t e[] = {32, 3}, n[] = {32}, k[] = {256, 2};
  auto zero = [](std::span<std::byte>) -> status { return {}; };
  ASSERT_TRUE(w.add_tensor("token_embd.weight", dtype::q8_0, e, zero).ok());
  ASSERT_TRUE(w.add_tensor("norm", dtype::f32, n, zero).ok());
  ASSERT_TRUE(w.add_tensor("ffn", dtype::q4_k, k, zero).ok());
  ASSERT_TRUE(w.add_tensor("ffn2", dtype::q4_k, k, zero).ok());
  auto b = build(w);
  summary s = summarize(b.f);
  EXPECT_EQ(s.parameters, 96u + 32 + 512 + 512);
  EXPECT_EQ(s.weight_bytes, 3u * 34 + 128 + 2 * 288);
  ASSERT_EQ(s.formats.size(), 3u);  // ordered by type id: f32, q8_0, q4_k
  EXPECT_EQ(s.formats[0].type, dtype::f32);
  EXPECT_EQ(s.formats[1].type, dtype::q8_0);
  EXPECT_EQ(s.formats[2].type, dtype::q4_k);
  EXPECT_EQ(s.formats[2].tensors, 2u);
  EXPECT_EQ(s.formats[2].bytes, 576u);
  EXPECT_EQ(s.vocab_size, 3u);
  EXPECT_EQ(s.tokenizer_model, "gpt2");
  EXPECT_TRUE(s.chat_template);
}

}  // namespace
}  // namespace uma::gguf
