// Loading and validating a vocabulary from GGUF metadata (the keys llama.cpp writes).
#include "tokenizer/vocab.h"

#include <cstdio>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "gguf/gguf.h"
#include "tokenizer/hf_import.h"

namespace uma::tok {

const char* vocab_kind_gguf_name(vocab_kind k) {
  switch (k) {
    case vocab_kind::bpe:
      return "gpt2";
    case vocab_kind::spm:
      return "llama";
    case vocab_kind::wpm:
      return "bert";
  }
  return "gpt2";
}

status vocab::validate() const {
  const size_t n = tokens.size();
  if (n == 0) return make_error("vocabulary has no tokens");
  if (n > 0x7fffffff) return make_error("vocabulary too large ({} tokens)", n);
  if (types.size() != n)
    return make_error("token_type has {} entries but tokens has {}", types.size(), n);
  if (!scores.empty() && scores.size() != n)
    return make_error("scores has {} entries but tokens has {}", scores.size(), n);
  if (!lstrip.empty() && lstrip.size() != n) return make_error("lstrip flags size mismatch");
  if (!rstrip.empty() && rstrip.size() != n) return make_error("rstrip flags size mismatch");
  for (size_t i = 0; i < n; ++i) {
    auto t = static_cast<int32_t>(types[i]);
    if (t < 0 || t > 6) return make_error("token {} has invalid token type {}", i, t);
  }
  const std::pair<const char*, int32_t> specials[] = {
      {"bos", bos}, {"eos", eos}, {"eot", eot}, {"eom", eom},   {"unk", unk},
      {"pad", pad}, {"sep", sep}, {"cls", cls}, {"mask", mask},
  };
  for (auto [name, id] : specials) {
    if (id != no_token && (id < 0 || static_cast<size_t>(id) >= n))
      return make_error("special token {} id {} is outside the vocabulary (size {})", name, id, n);
  }
  if (add_bos && bos == no_token) return make_error("add_bos is set but there is no bos token");
  if (add_eos && eos == no_token) return make_error("add_eos is set but there is no eos token");
  if (kind == vocab_kind::bpe) {
    std::unordered_set<std::string_view> known(tokens.begin(), tokens.end());
    std::string joined;
    for (size_t r = 0; r < merges.size(); ++r) {
      std::string_view m = merges[r];
      size_t sp = m.find(' ', 1);
      if (sp == std::string_view::npos || sp + 1 >= m.size())
        return make_error("merge {} (\"{}\") is not of the form \"left right\"", r, m);
      std::string_view a = m.substr(0, sp), b = m.substr(sp + 1);
      if (!known.count(a)) return make_error("merge {} names unknown token \"{}\"", r, a);
      if (!known.count(b)) return make_error("merge {} names unknown token \"{}\"", r, b);
      joined.assign(a);
      joined.append(b);
      if (!known.count(joined))
        return make_error("merge {} produces \"{}\", which is not a token", r, joined);
    }
  } else if (!merges.empty()) {
    // SPM/WPM vocabularies carry no merges; ignore any rather than fail.
  }
  return {};
}

namespace {

result<int32_t> special_id(const gguf::file& f, const char* key) {
  const gguf::value* v = f.find(key);
  if (v == nullptr) return no_token;
  auto i = v->as_int();
  if (!i) return make_error("{} is not an integer", key);
  if (*i < 0 || *i > 0x7fffffff) {
    // llama.cpp writes -1 (as u32 0xFFFFFFFF in some converters) for "none".
    if (*i == -1 || *i == 0xFFFFFFFFll) return no_token;
    return make_error("{} = {} is not a valid token id", key, *i);
  }
  return static_cast<int32_t>(*i);
}

}  // namespace

result<vocab> load_vocab(const gguf::file& f) {
  vocab v;
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return make_error("GGUF has no tokenizer.ggml.model");
  if (*model == "gpt2") {
    v.kind = vocab_kind::bpe;
  } else if (*model == "llama") {
    v.kind = vocab_kind::spm;
  } else if (*model == "bert") {
    v.kind = vocab_kind::wpm;
  } else {
    return make_error("unsupported tokenizer.ggml.model \"{}\" (supported: gpt2, llama, bert)",
                      *model);
  }
  if (auto p = f.get_string("tokenizer.ggml.pre")) v.pre = std::string(*p);

  const gguf::value* toks = f.find("tokenizer.ggml.tokens");
  if (toks == nullptr || !toks->is_array() || toks->elem_type != gguf::value_type::string)
    return make_error("tokenizer.ggml.tokens is missing or not an array of strings");
  const size_t n = toks->strs.size();
  v.tokens.reserve(n);
  for (auto s : toks->strs) v.tokens.emplace_back(s);

  if (const gguf::value* sc = f.find("tokenizer.ggml.scores")) {
    if (!sc->is_array() || sc->elem_type == gguf::value_type::string ||
        sc->elem_type == gguf::value_type::array)
      return make_error("tokenizer.ggml.scores is not a numeric array");
    if (sc->count != n)
      return make_error("tokenizer.ggml.scores has {} entries but tokens has {}", sc->count, n);
    v.scores.resize(n);
    for (size_t i = 0; i < n; ++i) v.scores[i] = static_cast<float>(sc->array_double(i));
  }
  v.types.assign(n, token_type::normal);
  if (const gguf::value* ty = f.find("tokenizer.ggml.token_type")) {
    if (!ty->is_array() || ty->elem_type == gguf::value_type::string ||
        ty->elem_type == gguf::value_type::array || ty->elem_type == gguf::value_type::f32 ||
        ty->elem_type == gguf::value_type::f64)
      return make_error("tokenizer.ggml.token_type is not an integer array");
    if (ty->count != n)
      return make_error("tokenizer.ggml.token_type has {} entries but tokens has {}", ty->count, n);
    for (size_t i = 0; i < n; ++i) {
      int64_t t = ty->array_int(i);
      if (t < 0 || t > 6) return make_error("token {} has invalid token type {}", i, t);
      v.types[i] = static_cast<token_type>(t);
    }
  }
  if (const gguf::value* me = f.find("tokenizer.ggml.merges")) {
    if (!me->is_array() || me->elem_type != gguf::value_type::string)
      return make_error("tokenizer.ggml.merges is not an array of strings");
    v.merges.reserve(me->strs.size());
    for (auto s : me->strs) v.merges.emplace_back(s);
  }
  UMA_ASSIGN(v.bos, special_id(f, "tokenizer.ggml.bos_token_id"));
  UMA_ASSIGN(v.eos, special_id(f, "tokenizer.ggml.eos_token_id"));
  UMA_ASSIGN(v.eot, special_id(f, "tokenizer.ggml.eot_token_id"));
  UMA_ASSIGN(v.eom, special_id(f, "tokenizer.ggml.eom_token_id"));
  if (v.eot == no_token) v.eot = find_end_of_turn(v);
  UMA_ASSIGN(v.unk, special_id(f, "tokenizer.ggml.unknown_token_id"));
  UMA_ASSIGN(v.pad, special_id(f, "tokenizer.ggml.padding_token_id"));
  UMA_ASSIGN(v.sep, special_id(f, "tokenizer.ggml.seperator_token_id"));
  UMA_ASSIGN(v.cls, special_id(f, "tokenizer.ggml.cls_token_id"));
  UMA_ASSIGN(v.mask, special_id(f, "tokenizer.ggml.mask_token_id"));

  // Defaults as in llama.cpp: SPM adds BOS, BPE/WPM depend on the model.
  v.add_bos = v.kind == vocab_kind::spm || v.kind == vocab_kind::wpm;
  v.add_eos = v.kind == vocab_kind::wpm;
  if (v.kind == vocab_kind::wpm) {
    if (v.bos == no_token) v.bos = v.cls;
    if (v.eos == no_token) v.eos = v.sep;
  }
  if (auto b = f.get_bool("tokenizer.ggml.add_bos_token")) v.add_bos = *b;
  if (auto b = f.get_bool("tokenizer.ggml.add_eos_token")) v.add_eos = *b;
  v.add_space_prefix = v.kind == vocab_kind::spm;
  if (auto b = f.get_bool("tokenizer.ggml.add_space_prefix")) v.add_space_prefix = *b;
  if (v.add_bos && v.bos == no_token) v.add_bos = false;
  if (v.add_eos && v.eos == no_token) v.add_eos = false;
  if (auto t = f.get_string("tokenizer.chat_template")) v.chat_template = std::string(*t);

  // Pre-tokenizer specific settings, as llama.cpp derives them from tokenizer.ggml.pre.
  const std::string& pre = v.pre;
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
      pre == "pixtral" || pre == "tekken") {
    v.ignore_merges = true;
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") v.normalize_nfc = true;
  if (pre == "deepseek-llm" || pre == "deepseek-coder" || pre == "command-r" || pre == "qwen2" ||
      pre == "deepseek-r1-qwen" || pre == "stablelm2" || pre == "tekken")
    v.clean_spaces = false;
  UMA_TRY(v.validate());
  return v;
}

int32_t find_end_of_turn(const vocab& v) {
  for (std::string_view text :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|end_of_turn|>"}) {
    for (size_t i = 0; i < v.tokens.size(); ++i) {
      if (v.tokens[i] == text && i < v.types.size() &&
          (v.types[i] == token_type::control || v.types[i] == token_type::user_defined))
        return static_cast<int32_t>(i);
    }
  }
  return no_token;
}

result<vocab> load_vocab_file(const std::string& path) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return make_error("cannot open {}", path);
  unsigned char head[4] = {0, 0, 0, 0};
  size_t got = std::fread(head, 1, 4, fp);
  std::fclose(fp);
  uint32_t m = static_cast<uint32_t>(head[0]) | (static_cast<uint32_t>(head[1]) << 8) |
               (static_cast<uint32_t>(head[2]) << 16) | (static_cast<uint32_t>(head[3]) << 24);
  if (got == 4 && m == gguf::magic) {
    UMA_ASSIGN(auto f, gguf::file::open(path));
    auto r = load_vocab(f);
    if (!r.ok()) return make_error("{}: {}", path, r.message());
    return r;
  }
  return load_hf_tokenizer(path);
}

}  // namespace uma::tok
