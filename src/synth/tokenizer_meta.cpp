// Tokenizer metadata for synthesized models (see tokenizer_meta.h): the built-in placeholder and
// the copy from a GGUF vocab file. The Hugging Face import is in tokenizer_hf.cpp.
#include "synth/tokenizer_meta.h"

#include <memory>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace uma::synth {
namespace {

constexpr int32_t token_normal = 1, token_control = 3, token_unused = 5;  // llama_token_type
constexpr std::string_view tokens_key = "tokenizer.ggml.tokens";
constexpr std::string_view types_key = "tokenizer.ggml.token_type";
constexpr std::string_view scores_key = "tokenizer.ggml.scores";

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool gpt2_printable(uint32_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

std::string pad_token(int64_t id) {
  return "[PAD" + std::to_string(id) + "]";
}

}  // namespace

std::string gpt2_byte_token(uint8_t b) {
  uint32_t cp = b;
  if (!gpt2_printable(b)) {
    // Non-printable bytes take U+0100 + their rank among the non-printable bytes.
    uint32_t rank = 0;
    for (uint32_t x = 0; x < b; ++x)
      if (!gpt2_printable(x)) ++rank;
    cp = 256 + rank;
  }
  std::string s;
  append_utf8(s, cp);
  return s;
}

result<tokenizer_meta> placeholder_tokenizer(int64_t n_vocab) {
  if (n_vocab < 258)
    return make_error("placeholder vocab needs at least 258 tokens, got {}", n_vocab);
  tokenizer_meta m;
  m.n_tokens = n_vocab;
  m.description =
      "built-in byte-level placeholder vocab (256 GPT-2 byte tokens + <|synth_N|> fillers; no "
      "merges, so text tokenizes to one token per byte)";
  m.write = [](gguf::writer& w, int64_t n) -> status {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    tokens.reserve(static_cast<size_t>(n));
    types.reserve(static_cast<size_t>(n));
    for (int b = 0; b < 256; ++b) {
      tokens.push_back(gpt2_byte_token(static_cast<uint8_t>(b)));
      types.push_back(token_normal);
    }
    for (int64_t id = 256; id < n; ++id) {
      tokens.push_back("<|synth_" + std::to_string(id) + "|>");
      types.push_back(id < 258 ? token_control : token_unused);
    }
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", "default");
    w.set_array_string(tokens_key, tokens);
    w.set_array_i32(types_key, types);
    w.set_array_string("tokenizer.ggml.merges", std::vector<std::string>{});
    w.set_u32("tokenizer.ggml.bos_token_id", 256);
    w.set_u32("tokenizer.ggml.eos_token_id", 257);
    w.set_bool("tokenizer.ggml.add_bos_token", false);
    return {};
  };
  return m;
}

result<tokenizer_meta> tokenizer_from_gguf(const std::string& path) {
  auto opened = gguf::file::open(path);
  if (!opened) return make_error("--vocab {}: {}", path, opened.message());
  auto f = std::make_shared<gguf::file>(std::move(opened).value());
  const gguf::value* tokens = f->find(tokens_key);
  if (tokens == nullptr || !tokens->is_array() || tokens->elem_type != gguf::value_type::string)
    return make_error("--vocab {}: no {} string array", path, tokens_key);
  if (tokens->count == 0) return make_error("--vocab {}: empty vocab", path);
  for (std::string_view key : {types_key, scores_key}) {
    const gguf::value* v = f->find(key);
    if (v == nullptr) continue;
    if (!v->is_array() || v->count != tokens->count || v->elem_type == gguf::value_type::string ||
        v->elem_type == gguf::value_type::array)
      return make_error("--vocab {}: {} is not a numeric array of {} entries", path, key,
                        tokens->count);
  }
  tokenizer_meta m;
  m.n_tokens = static_cast<int64_t>(tokens->count);
  const auto model = f->get_string("tokenizer.ggml.model").value_or("?");
  std::string name = path.substr(path.find_last_of('/') + 1);
  m.description = "tokenizer copied from " + name + " (" + std::string(model) + ", " +
                  std::to_string(m.n_tokens) + " tokens)";
  m.write = [f](gguf::writer& w, int64_t n) -> status {
    for (const auto& [key, v] : f->metadata()) {
      if (!key.starts_with("tokenizer.")) continue;
      const int64_t have = static_cast<int64_t>(v.count);
      const bool padded = n > have && (key == tokens_key || key == types_key || key == scores_key);
      if (!padded) {
        w.set_value(key, v);
      } else if (key == tokens_key) {
        std::vector<std::string> t(v.strs.begin(), v.strs.end());
        for (int64_t id = have; id < n; ++id) t.push_back(pad_token(id));
        w.set_array_string(key, t);
      } else if (key == types_key) {
        std::vector<int32_t> t;
        t.reserve(static_cast<size_t>(n));
        for (int64_t i = 0; i < have; ++i)
          t.push_back(static_cast<int32_t>(v.array_int(static_cast<uint64_t>(i))));
        t.resize(static_cast<size_t>(n), token_unused);
        w.set_array_i32(key, t);
      } else {
        std::vector<float> t;
        t.reserve(static_cast<size_t>(n));
        for (int64_t i = 0; i < have; ++i)
          t.push_back(static_cast<float>(v.array_double(static_cast<uint64_t>(i))));
        t.resize(static_cast<size_t>(n), -1000.0f);
        w.set_array_f32(key, t);
      }
    }
    return {};
  };
  return m;
}

}  // namespace uma::synth
