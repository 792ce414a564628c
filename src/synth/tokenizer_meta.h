// Where a synthesized model's tokenizer.* metadata comes from: a built-in byte-level placeholder
// (no files needed), a GGUF vocab file (keys copied), or a Hugging Face tokenizer.json (imported by
// src/tokenizer). Internal to src/synth.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "gguf/writer.h"
#include "util/status.h"

namespace uma::synth {

struct tokenizer_meta {
  std::string description;  // in words, for general.description and the CLI
  int64_t n_tokens = 0;     // tokens the tokenizer defines
  // Writes the tokenizer.* keys for a model of n_vocab >= n_tokens tokens: the extra ids become
  // unused "[PAD<id>]" tokens, as llama.cpp's converter pads a vocab to the embedding size.
  std::function<status(gguf::writer&, int64_t n_vocab)> write;
};

// 256 byte tokens (GPT-2 byte-to-unicode spelling, id = byte value) then "<|synth_<id>|>" fillers;
// id 256 is BOS and 257 EOS (control), the rest unused. tokenizer.ggml.model "gpt2", pre "default",
// no merges.
result<tokenizer_meta> placeholder_tokenizer(int64_t n_vocab);
// Copies every tokenizer.* key of a GGUF file (e.g. ../shared/data/vocab/ggml-vocab-*.gguf).
result<tokenizer_meta> tokenizer_from_gguf(const std::string& path);
// Imports a Hugging Face tokenizer.json (and the tokenizer_config.json beside it for the chat
// template and special tokens).
result<tokenizer_meta> tokenizer_from_hf(const std::string& path);

// The GPT-2 byte-level spelling of byte b (printable bytes as themselves, others shifted to
// U+0100+).
std::string gpt2_byte_token(uint8_t b);

}  // namespace uma::synth
