// Pre-tokenizers for byte-level BPE: the regex splits each model family uses before merging, run
// with PCRE2 (UTF + UCP, JIT). A pre-tokenizer is a list of patterns applied in turn, as in
// llama.cpp: each pattern splits every current piece into its matches and the text between them
// (both kept), so the next pattern only refines earlier splits.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace uma::tok {

// The patterns for a tokenizer.ggml.pre name ("gpt-2", "llama-bpe", "qwen2", ...). Unknown or empty
// names get llama.cpp's default list. `known` (optional) is set to whether the name was recognised.
std::vector<std::string> pretokenizer_patterns(std::string_view pre, bool* known = nullptr);
// Rewrites a pattern so that \s and \S follow the Unicode White_Space property (adds U+0085),
// as Oniguruma (Hugging Face tokenizers) and llama.cpp do; PCRE2's UCP \s lacks U+0085.
std::string adapt_pattern(std::string_view pattern);

class regex_splitter {
 public:
  regex_splitter();
  ~regex_splitter();
  regex_splitter(regex_splitter&&) noexcept;
  regex_splitter& operator=(regex_splitter&&) noexcept;
  // Compiles the patterns (already adapted or not: adapt_pattern is applied here).
  static result<regex_splitter> create(const std::vector<std::string>& patterns);

  // Splits valid UTF-8 `text` into pieces (views into `text`), appended to `out`. Thread-safe.
  void split(std::string_view text, std::vector<std::string_view>& out) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace uma::tok
