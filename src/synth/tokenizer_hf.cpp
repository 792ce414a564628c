// `uma synth --tokenizer tokenizer.json`: a real Hugging Face tokenizer (and the chat template from
// tokenizer_config.json beside it) for a synthesized model, via src/tokenizer's importer.
#include <memory>

#include "synth/tokenizer_meta.h"
#include "tokenizer/hf_import.h"

namespace uma::synth {

result<tokenizer_meta> tokenizer_from_hf(const std::string& path) {
  auto loaded = tok::load_hf_tokenizer(path);
  if (!loaded) return make_error("--tokenizer {}: {}", path, loaded.message());
  auto v = std::make_shared<tok::vocab>(std::move(loaded).value());
  tokenizer_meta m;
  m.n_tokens = static_cast<int64_t>(v->size());
  m.description = "tokenizer imported from " + path + " (" + tok::vocab_kind_gguf_name(v->kind) +
                  ", " + std::to_string(m.n_tokens) + " tokens" +
                  (v->chat_template.empty() ? "" : ", with chat template") + ")";
  m.write = [v](gguf::writer& w, int64_t n) -> status {
    // Pad to the embedding size with unused tokens, as llama.cpp's converter does.
    for (int64_t id = static_cast<int64_t>(v->size()); id < n; ++id) {
      v->tokens.push_back("[PAD" + std::to_string(id) + "]");
      v->types.push_back(tok::token_type::unused);
      if (!v->scores.empty()) v->scores.push_back(-1000.0f);
      if (!v->lstrip.empty()) v->lstrip.push_back(0);
      if (!v->rstrip.empty()) v->rstrip.push_back(0);
    }
    tok::write_vocab_metadata(*v, w);
    return {};
  };
  return m;
}

}  // namespace uma::synth
