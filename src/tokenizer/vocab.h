// A tokenizer vocabulary as stored in GGUF metadata (tokenizer.ggml.*): the plain data every
// tokenizer algorithm is built from. Loaded from a GGUF file, imported from a Hugging Face
// tokenizer.json (hf_import.h), or written back into GGUF metadata (hf_import.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace uma::gguf {
class file;
}

namespace uma::tok {

// tokenizer.ggml.model: "gpt2" (byte-level BPE), "llama" (SentencePiece BPE), "bert" (WordPiece).
enum class vocab_kind { bpe, spm, wpm };
const char* vocab_kind_gguf_name(vocab_kind k);

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class token_type : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

inline constexpr int32_t no_token = -1;

struct vocab {
  vocab_kind kind = vocab_kind::bpe;
  std::string pre;                  // tokenizer.ggml.pre ("llama-bpe", "qwen2", ...); "" = default
  std::vector<std::string> tokens;  // id -> text
  std::vector<float> scores;        // id -> score (SPM merge priority); may be empty
  std::vector<token_type> types;    // id -> type; same size as tokens
  std::vector<std::string> merges;  // BPE merges "left right", rank = index
  // Per-token flags for added tokens (from tokenizer.json): strip whitespace around matches.
  std::vector<uint8_t> lstrip, rstrip;  // empty or same size as tokens

  int32_t bos = no_token, eos = no_token, eot = no_token, eom = no_token, unk = no_token,
          pad = no_token, sep = no_token, cls = no_token, mask = no_token;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix =
      true;  // SPM: prefix the text with a space (tokenizer.ggml.add_space_prefix)
  bool ignore_merges = false;  // BPE: a whole pre-token that is a token is emitted as is
  bool normalize_nfc = false;  // apply NFC before pre-tokenizing (Qwen2's tokenizer.json)
  bool clean_spaces = true;    // decoding: clean_up_tokenization_spaces
  std::string chat_template;   // tokenizer.chat_template ("" if none)

  size_t size() const { return tokens.size(); }
  // Checks lengths, special-token ids, merges (both halves and the result must be tokens).
  status validate() const;
};

// The chat models' end-of-turn token where the file names none: the first control (or
// user-defined) token among <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|end_of_turn|>
// (Gemma's GGUF files carry only <eos>, yet its turns end in <end_of_turn>; llama.cpp finds such
// tokens by their text too), or no_token.
int32_t find_end_of_turn(const vocab& v);

// Reads tokenizer.ggml.* from an opened GGUF file and validates it; without
// tokenizer.ggml.eot_token_id the end of turn is find_end_of_turn's.
result<vocab> load_vocab(const gguf::file& f);
// Opens `path`: a .gguf file, or a Hugging Face tokenizer.json (see hf_import.h), chosen by
// content (GGUF magic) so any file name works.
result<vocab> load_vocab_file(const std::string& path);

}  // namespace uma::tok
