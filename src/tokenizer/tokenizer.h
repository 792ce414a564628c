// Text <-> token ids for a vocabulary: byte-level BPE (GPT-2 family, Llama 3, Qwen2, ...),
// SentencePiece BPE with byte fallback (Llama 2, Mistral, Phi-3) and WordPiece (BERT), with
// special-token recognition, decoding, and an incremental decoder for streaming.
//
//   UMA_ASSIGN(auto v, tok::load_vocab_file(path));
//   UMA_ASSIGN(auto t, tok::tokenizer::create(std::move(v)));
//   std::vector<int32_t> ids = t.encode("Hello", {.add_special = true});
//
// Input text that is not valid UTF-8 is repaired first (see unicode.h for the policy).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"
#include "util/status.h"

namespace uma::tok {

struct encode_options {
  bool add_special = false;   // add BOS/EOS as the vocabulary asks (add_bos/add_eos)
  bool parse_special = true;  // recognise control tokens ("<|im_start|>") written in the text;
                              // false for untrusted text (user-defined tokens are still matched,
                              // as in llama.cpp)
};

struct decode_options {
  bool special = false;       // render control tokens' text (otherwise they decode to "")
  bool strip_leading = true;  // SPM/WPM: drop the space the tokenizer added in front
  bool clean_spaces = false;  // HF clean_up_tokenization_spaces (" ," -> ",", ...)
};

class tokenizer {
 public:
  tokenizer();
  ~tokenizer();
  tokenizer(tokenizer&&) noexcept;
  tokenizer& operator=(tokenizer&&) noexcept;

  // Validates the vocabulary and builds lookup tables, merge ranks and the pre-tokenizer.
  static result<tokenizer> create(vocab v);

  const tok::vocab& get_vocab() const;
  size_t size() const;

  std::vector<int32_t> encode(std::string_view text, const encode_options& o = {}) const;
  void encode(std::string_view text, const encode_options& o, std::vector<int32_t>& out) const;

  // The bytes one token stands for (may be part of a UTF-8 character). Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool special = false) const;
  std::string decode(std::span<const int32_t> ids, const decode_options& o = {}) const;
  // Token id of an exact token text, or no_token.
  int32_t find_token(std::string_view text) const;
  bool is_control(int32_t id) const;
  // End of generation: eos, eot, eom.
  bool is_eog(int32_t id) const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// Streaming detokenizer: feed ids one at a time, get back only whole UTF-8 characters. Bytes that
// can never form a character are emitted as U+FFFD as soon as that is certain; flush() emits the
// tail (an incomplete character becomes U+FFFD).
class stream_decoder {
 public:
  explicit stream_decoder(const tokenizer& t, decode_options o = {});
  std::string push(int32_t id);
  std::string flush();

 private:
  const tokenizer* t_;
  decode_options o_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace uma::tok
