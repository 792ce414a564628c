// Bridges between Hugging Face tokenizer files and GGUF metadata, used by `uma synth` (to give a
// synthetic model a real tokenizer) and `uma tokenize -m tokenizer.json`.
//
//   UMA_ASSIGN(tok::vocab v, tok::load_hf_tokenizer("models/tokenizer.json"));
//   gguf::writer w;
//   tok::write_vocab_metadata(v, w);   // tokenizer.ggml.* + tokenizer.chat_template
//
// Supported: byte-level BPE tokenizer.json files (GPT-2, Llama 3, Qwen2/Qwen3 and others whose
// split regex matches a known pre-tokenizer) and SentencePiece-style BPE with byte fallback
// (Llama 2, Mistral). tokenizer_config.json next to tokenizer.json, if present, supplies the chat
// template, the bos/eos/pad/unk names and add_bos_token/add_eos_token.
#pragma once

#include <string>

#include "tokenizer/vocab.h"
#include "util/status.h"

namespace uma::gguf {
class writer;
}

namespace uma::tok {

// Reads tokenizer.json (and tokenizer_config.json from the same directory when it exists) into a
// validated vocabulary.
result<vocab> load_hf_tokenizer(const std::string& tokenizer_json_path);

// Writes the vocabulary as llama.cpp's tokenizer.ggml.* keys (model, pre, tokens, token_type,
// scores, merges, special ids, add_* flags) and tokenizer.chat_template.
void write_vocab_metadata(const vocab& v, gguf::writer& w);

}  // namespace uma::tok
