// Pre-tokenizer patterns per model family (the regexes of each model's tokenizer.json, as listed
// by llama.cpp for its tokenizer.ggml.pre names) and the PCRE2 splitter that runs them.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include <mutex>

namespace uma::tok {

namespace {

// GPT-2's original split.
constexpr const char* gpt2_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3 / tiktoken cl100k style: digits in groups of up to three.
constexpr const char* llama3_pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: as Llama 3 but single digits.
constexpr const char* qwen2_pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* gpt2_no_tail =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// CJK ranges used by the DeepSeek splits.
constexpr const char* deepseek_cjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// DeepSeek LLM's cased-letter class (from its tokenizer.json), in UTF-8.
constexpr const char* deepseek_llm_letters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-"
    "\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1"
    "\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd"
    "\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d"
    "\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-"
    "\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4"
    "\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d"
    "\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4"
    "\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"
    "\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\\x{10400}-\\x{1044f}"
    "\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}"
    "\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+";

}  // namespace

std::vector<std::string> pretokenizer_patterns(std::string_view pre, bool* known) {
  if (known) *known = true;
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" ||
      pre == "dbrx" || pre == "smaug-bpe" || pre == "chatglm-bpe" || pre == "pixtral" ||
      pre == "midm-2.0" || pre == "lfm2")
    return {llama3_pattern};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2" || pre == "hunyuan" ||
      pre == "grok-2")
    return {qwen2_pattern};
  if (pre == "deepseek-llm")
    return {R"([\r\n])",
            deepseek_llm_letters,
            R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
            R"(\s+$)",
            deepseek_cjk,
            R"(\p{N}+)"};
  if (pre == "deepseek-coder")
    return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", deepseek_cjk, R"(\p{N})"};
  if (pre == "falcon") return {R"([\p{P}\$\+<=>\^~\|`]+)", gpt2_no_tail, R"([0-9][0-9][0-9])"};
  if (pre == "starcoder" || pre == "refact" || pre == "command-r" || pre == "smollm" ||
      pre == "codeshell" || pre == "exaone" || pre == "minerva-7b")
    return {R"(\p{N})", gpt2_no_tail};
  if (pre == "gpt-2" || pre == "phi-2" || pre == "mpt" || pre == "olmo" || pre == "jais" ||
      pre == "jina-es" || pre == "jina-de" || pre == "gigachat" || pre == "jina-v1-en" ||
      pre == "jina-v2-es" || pre == "jina-v2-de" || pre == "jina-v2-code" || pre == "roberta-bpe" ||
      pre == "trillion")
    return {gpt2_no_tail};
  if (pre == "poro-chat" || pre == "bloom" || pre == "gpt3-finnish")
    return {R"( ?[^(\s|.,!?…。，、।۔،)]+)"};
  if (pre == "viking") return {R"( ?[^(\s|.,!?…。，、।۔،)]+)", R"(\p{N})"};
  if (known) *known = pre.empty() || pre == "default";
  // llama.cpp's default list (also used for an unrecognised name).
  return {R"([\p{P}\$\+<=>\^~\|]+)", gpt2_no_tail, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
}

std::string adapt_pattern(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 16);
  int in_class = 0;  // inside [...]
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char d = p[i + 1];
      if (d == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (d == 'S') {
        if (in_class) {
          out += "\\S";  // rare; keep PCRE2's meaning
        } else {
          out += "[^\\s\\x{85}]";
        }
      } else {
        out += c;
        out += d;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = 1;
      out += c;
      // a ']' right after '[' or '[^' is literal
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += '^';
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        out += ']';
        ++i;
      }
      continue;
    }
    if (c == ']' && in_class) in_class = 0;
    out += c;
  }
  return out;
}

struct regex_splitter::impl {
  std::vector<pcre2_code*> codes;
  std::vector<bool> jit;
  ~impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

regex_splitter::regex_splitter() = default;
regex_splitter::~regex_splitter() = default;
regex_splitter::regex_splitter(regex_splitter&&) noexcept = default;
regex_splitter& regex_splitter::operator=(regex_splitter&&) noexcept = default;

result<regex_splitter> regex_splitter::create(const std::vector<std::string>& patterns) {
  regex_splitter s;
  s.impl_ = std::make_unique<impl>();
  for (const auto& raw : patterns) {
    std::string p = adapt_pattern(raw);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &off, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return make_error("pre-tokenizer regex \"{}\" does not compile at offset {}: {}", raw, off,
                        reinterpret_cast<const char*>(msg));
    }
    s.impl_->codes.push_back(code);
    s.impl_->jit.push_back(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0);
  }
  return s;
}

namespace {
struct match_data_holder {
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  ~match_data_holder() { pcre2_match_data_free(md); }
};
}  // namespace

void regex_splitter::split(std::string_view text, std::vector<std::string_view>& out) const {
  if (text.empty()) return;
  thread_local match_data_holder holder;
  pcre2_match_data* md = holder.md;
  std::vector<std::string_view> cur{text}, next;
  for (size_t k = 0; k < impl_->codes.size(); ++k) {
    pcre2_code* code = impl_->codes[k];
    const bool jit = impl_->jit[k];
    next.clear();
    for (std::string_view piece : cur) {
      auto subj = reinterpret_cast<PCRE2_SPTR>(piece.data());
      const size_t n = piece.size();
      size_t start = 0, last = 0;
      while (start < n) {
        int rc = jit ? pcre2_jit_match(code, subj, n, start, PCRE2_NO_UTF_CHECK, md, nullptr)
                     : pcre2_match(code, subj, n, start, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc < 0) break;  // no match (or a resource limit): the rest stays one piece
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
          // empty match: move on by one character
          start = ms + 1;
          while (start < n && (static_cast<unsigned char>(piece[start]) & 0xC0) == 0x80) ++start;
          continue;
        }
        if (ms > last) next.push_back(piece.substr(last, ms - last));
        next.push_back(piece.substr(ms, me - ms));
        last = start = me;
      }
      if (last < n) next.push_back(piece.substr(last));
    }
    cur.swap(next);
  }
  out.insert(out.end(), cur.begin(), cur.end());
}

}  // namespace uma::tok
