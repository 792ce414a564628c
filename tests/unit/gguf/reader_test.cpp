// Reader on real files: every GGUF shipped in shared/data (llama.cpp-made vocab files and golden
// models) parses, and what it reports matches what the README says those files contain.
#include <gtest/gtest.h>

#include <filesystem>

#include "gguf/gguf.h"
#include "test_util.h"

namespace uma::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> gguf_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(test::shared_data(dir)))
    if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(gguf_reader, every_vocab_file_parses) {
  auto files = gguf_files("vocab");
  ASSERT_FALSE(files.empty());
  for (const auto& p : files) {
    auto f = file::open(p);
    ASSERT_TRUE(f.ok()) << p << ": " << f.message();
    EXPECT_TRUE(f->version() == 2 || f->version() == 3) << p;
    EXPECT_TRUE(f->tensors().empty()) << p;
    const value* tokens = f->find("tokenizer.ggml.tokens");
    ASSERT_NE(tokens, nullptr) << p;
    ASSERT_TRUE(tokens->is_array());
    EXPECT_EQ(tokens->elem_type, value_type::string);
    EXPECT_EQ(tokens->strs.size(), tokens->count);
    EXPECT_GT(tokens->count, 1000u) << p;
    EXPECT_TRUE(f->get_string("tokenizer.ggml.model").has_value()) << p;
    EXPECT_FALSE(f->architecture().empty()) << p;
  }
}

TEST(gguf_reader, golden_models_have_expected_shapes) {
  for (const char* arch : {"llama", "qwen2", "qwen3"}) {
    for (const char* type : {"f32", "q8_0", "q4_0", "q4_k_m"}) {
      std::string p = test::shared_data(fmt::format("golden/tiny-{}.{}.gguf", arch, type));
      auto f = file::open(p);
      ASSERT_TRUE(f.ok()) << f.message();
      EXPECT_EQ(f->architecture(), arch);
      EXPECT_EQ(f->get_uint(fmt::format("{}.embedding_length", arch)), 256u) << p;
      EXPECT_EQ(f->get_uint(fmt::format("{}.block_count", arch)), 2u) << p;
      const tensor_info* emb = f->find_tensor("token_embd.weight");
      ASSERT_NE(emb, nullptr) << p;
      EXPECT_EQ(emb->n_dims, 2);
      EXPECT_EQ(emb->ne[0], 256);
      EXPECT_EQ(emb->ne[1], 512);
      EXPECT_EQ(emb->data.size(), emb->n_bytes);
      // Views point into the file, inside its data section, at aligned offsets.
      for (const auto& t : f->tensors()) {
        EXPECT_EQ(t.offset % f->alignment(), 0u) << t.name;
        EXPECT_GE(t.data.data(), f->bytes().data() + f->data_offset()) << t.name;
        EXPECT_LE(t.data.data() + t.data.size(), f->bytes().data() + f->bytes().size());
      }
    }
  }
}

TEST(gguf_reader, quants_file_tensor_types) {
  auto f = file::open(test::shared_data("golden/quants.gguf"));
  ASSERT_TRUE(f.ok()) << f.message();
  const tensor_info* src = f->find_tensor("src");
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->type, dtype::f32);
  EXPECT_EQ(src->ne[0], 512);
  EXPECT_EQ(src->ne[1], 12);
  EXPECT_EQ(src->n_bytes, 512u * 12 * 4);
  const tensor_info* q = f->find_tensor("q.q4_K");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, dtype::q4_k);
  EXPECT_EQ(q->n_bytes, 12u * 2 * 144);
  EXPECT_EQ(q->row_bytes(), 2u * 144);
}

}  // namespace
}  // namespace uma::gguf
