// Hugging Face tokenizer.json import for `uma synth --tokenizer` (pending
// src/tokenizer/hf_import.h).
#include "synth/tokenizer_meta.h"

namespace uma::synth {

result<tokenizer_meta> tokenizer_from_hf(const std::string& path) {
  return make_error("--tokenizer {}: Hugging Face import not available in this build", path);
}

}  // namespace uma::synth
