// The tokenizer front end: builds lookup tables from a vocabulary, splits text around special
// tokens (leftmost-longest), dispatches fragments to the BPE / SPM / WPM algorithm (models.cpp),
// and turns ids back into text, including the streaming decoder.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace uma::tok {

tokenizer::tokenizer() = default;
tokenizer::~tokenizer() = default;
tokenizer::tokenizer(tokenizer&&) noexcept = default;
tokenizer& tokenizer::operator=(tokenizer&&) noexcept = default;

const tok::vocab& tokenizer::get_vocab() const {
  return impl_->v;
}
size_t tokenizer::size() const {
  return impl_->v.tokens.size();
}

result<tokenizer> tokenizer::create(vocab v) {
  UMA_TRY(v.validate());
  tokenizer t;
  t.impl_ = std::make_unique<impl>();
  impl& m = *t.impl_;
  m.v = std::move(v);
  const auto& toks = m.v.tokens;
  m.token_to_id.reserve(toks.size() * 2);
  for (size_t i = 0; i < toks.size(); ++i) {
    m.token_to_id[toks[i]] = static_cast<int32_t>(i);  // a duplicate text maps to the last id
    m.max_token_len = std::max(m.max_token_len, toks[i].size());
  }
  // Special tokens: control, user-defined and unknown tokens with non-empty text.
  for (size_t i = 0; i < toks.size(); ++i) {
    token_type ty = m.v.types[i];
    if (toks[i].empty()) continue;
    if (ty != token_type::control && ty != token_type::user_defined && ty != token_type::unknown)
      continue;
    // SPM/WPM vocabularies mark <unk>, <s>, </s> as control/unknown; they are matched like any
    // other special token (llama.cpp does the same).
    m.specials_by_byte[static_cast<unsigned char>(toks[i][0])].push_back(
        {toks[i], static_cast<int32_t>(i), ty != token_type::user_defined});
  }
  for (auto& list : m.specials_by_byte) {
    std::stable_sort(list.begin(), list.end(), [](const special_entry& a, const special_entry& b) {
      return a.text.size() > b.text.size();
    });
  }
  m.byte_token.fill(no_token);
  m.byte_fallback.fill(no_token);
  if (m.v.kind == vocab_kind::bpe) {
    const auto& enc = byte_level_encode_table();
    for (int b = 0; b < 256; ++b) m.byte_token[b] = m.lookup(enc[b]);
    std::vector<std::pair<uint64_t, uint64_t>> entries;
    entries.reserve(m.v.merges.size());
    std::string joined;
    for (size_t r = 0; r < m.v.merges.size(); ++r) {
      std::string_view s = m.v.merges[r];
      size_t sp = s.find(' ', 1);
      std::string_view a = s.substr(0, sp), b = s.substr(sp + 1);
      joined.assign(a);
      joined.append(b);
      int32_t ia = m.lookup(a), ib = m.lookup(b), im = m.lookup(joined);
      entries.push_back({merge_table::pack(ia, ib),
                         (static_cast<uint64_t>(r) << 32) | static_cast<uint32_t>(im)});
    }
    m.merges.build(entries);
    UMA_ASSIGN(m.splitter, regex_splitter::create(pretokenizer_patterns(m.v.pre)));
  } else if (m.v.kind == vocab_kind::spm) {
    char buf[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      m.byte_fallback[b] = m.lookup(buf);
    }
    m.spm_split_newline = true;
    for (const auto& t : toks) {
      if (t.size() > 1 && t.find('\n') != std::string::npos) {
        m.spm_split_newline = false;
        break;
      }
    }
  }
  return t;
}

int32_t tokenizer::find_token(std::string_view text) const {
  return impl_->lookup(text);
}

bool tokenizer::is_control(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= size()) return false;
  return impl_->v.types[static_cast<size_t>(id)] == token_type::control;
}

bool tokenizer::is_eog(int32_t id) const {
  const vocab& v = impl_->v;
  return id != no_token && (id == v.eos || id == v.eot || id == v.eom);
}

namespace {

struct fragment {
  std::string_view text;  // raw text when id == no_token
  int32_t id = no_token;
};

// Length of the whitespace run at the start (forward) or end (backward) of s.
size_t leading_ws(std::string_view s) {
  size_t i = 0;
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    utf8_step st = utf8_decode(p + i, s.size() - i);
    if (!st.ok || !cpt_is_whitespace(st.cp)) break;
    i += st.len;
  }
  return i;
}
size_t trailing_ws(std::string_view s) {
  size_t n = s.size();
  while (n > 0) {
    size_t start = n - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && n - start < 4)
      --start;
    auto* p = reinterpret_cast<const unsigned char*>(s.data() + start);
    utf8_step st = utf8_decode(p, n - start);
    if (!st.ok || st.len != n - start || !cpt_is_whitespace(st.cp)) break;
    n = start;
  }
  return s.size() - n;
}

}  // namespace

void tokenizer::encode(std::string_view input, const encode_options& o,
                       std::vector<int32_t>& out) const {
  const impl& m = *impl_;
  const vocab& v = m.v;
  std::string repaired;
  if (!is_valid_utf8(input)) {
    repaired = sanitize_utf8(input);
    input = repaired;
  }
  // 1. Split around special tokens, leftmost-longest.
  std::vector<fragment> frags;
  size_t raw_start = 0, i = 0;
  const size_t n = input.size();
  while (i < n) {
    const auto& cands = m.specials_by_byte[static_cast<unsigned char>(input[i])];
    const special_entry* hit = nullptr;
    for (const auto& c : cands) {
      if (c.control && !o.parse_special) continue;
      if (c.text.size() <= n - i && input.compare(i, c.text.size(), c.text) == 0) {
        hit = &c;
        break;
      }
    }
    if (hit == nullptr) {
      ++i;
      continue;
    }
    std::string_view before = input.substr(raw_start, i - raw_start);
    size_t id = static_cast<size_t>(hit->id);
    if (!v.lstrip.empty() && v.lstrip[id]) before.remove_suffix(trailing_ws(before));
    if (!before.empty()) frags.push_back({before, no_token});
    frags.push_back({{}, hit->id});
    i += hit->text.size();
    if (!v.rstrip.empty() && v.rstrip[id]) i += leading_ws(input.substr(i));
    raw_start = i;
  }
  if (raw_start < n) frags.push_back({input.substr(raw_start), no_token});

  // 2. Encode.
  if (o.add_special && v.add_bos && v.bos != no_token) out.push_back(v.bos);
  bool prev_special = true;  // SPM adds its prefix space at the start and after special tokens
  for (const fragment& f : frags) {
    if (f.id != no_token) {
      out.push_back(f.id);
      prev_special = true;
      continue;
    }
    switch (v.kind) {
      case vocab_kind::bpe:
        m.encode_bpe(f.text, out);
        break;
      case vocab_kind::spm:
        m.encode_spm(f.text, v.add_space_prefix && prev_special, out);
        break;
      case vocab_kind::wpm:
        m.encode_wpm(f.text, out);
        break;
    }
    prev_special = false;
  }
  if (o.add_special && v.add_eos && v.eos != no_token) out.push_back(v.eos);
}

std::vector<int32_t> tokenizer::encode(std::string_view text, const encode_options& o) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  encode(text, o, out);
  return out;
}

std::string tokenizer::token_to_piece(int32_t id, bool special) const {
  const vocab& v = impl_->v;
  if (id < 0 || static_cast<size_t>(id) >= v.tokens.size()) return {};
  const std::string& text = v.tokens[static_cast<size_t>(id)];
  switch (v.types[static_cast<size_t>(id)]) {
    case token_type::control:
      return special ? text : std::string();
    case token_type::unknown:
      if (v.kind == vocab_kind::spm) return "\xe2\x96\x85";  // as llama.cpp renders <unk>
      return special ? text : std::string();
    case token_type::user_defined:
      return text;
    case token_type::byte:
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
        auto hex = [](char c) {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          return -1;
        };
        int hi = hex(text[3]), lo = hex(text[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
      }
      return text;  // a byte-typed token that is not "<0xXX>": its text
    default:
      break;
  }
  if (v.kind == vocab_kind::bpe) return byte_level_decode(text);
  // SPM and WPM mark spaces with U+2581.
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, "\xe2\x96\x81") == 0) {
      out += ' ';
      i += 3;
    } else {
      out += text[i++];
    }
  }
  return out;
}

namespace {
void clean_up_spaces(std::string& s) {
  static const std::pair<const char*, const char*> rules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (auto [from, to] : rules) {
    std::string_view f(from);
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t hit; (hit = s.find(f, pos)) != std::string::npos; pos = hit + f.size()) {
      out.append(s, pos, hit - pos);
      out += to;
    }
    out.append(s, pos);
    s.swap(out);
  }
}
}  // namespace

std::string tokenizer::decode(std::span<const int32_t> ids, const decode_options& o) const {
  const vocab& v = impl_->v;
  std::string out;
  for (int32_t id : ids) out += token_to_piece(id, o.special);
  if (o.strip_leading && v.kind != vocab_kind::bpe && !out.empty() && out[0] == ' ' &&
      (v.kind == vocab_kind::wpm || v.add_space_prefix))
    out.erase(0, 1);
  if (o.clean_spaces) clean_up_spaces(out);
  return out;
}

stream_decoder::stream_decoder(const tokenizer& t, decode_options o) : t_(&t), o_(o) {}

std::string stream_decoder::push(int32_t id) {
  pending_ += t_->token_to_piece(id, o_.special);
  const vocab& v = t_->get_vocab();
  if (first_ && !pending_.empty()) {
    first_ = false;
    if (o_.strip_leading && v.kind != vocab_kind::bpe && pending_[0] == ' ' &&
        (v.kind == vocab_kind::wpm || v.add_space_prefix))
      pending_.erase(0, 1);
  }
  // Emit everything up to the last position where an incomplete character could still complete.
  std::string out;
  auto* p = reinterpret_cast<const unsigned char*>(pending_.data());
  size_t n = pending_.size(), i = 0;
  while (i < n) {
    utf8_step s = utf8_decode(p + i, n - i);
    if (s.truncated) break;  // wait for more bytes
    if (s.ok) {
      out.append(pending_, i, s.len);
    } else {
      append_utf8(out, replacement_char);
    }
    i += s.len;
  }
  pending_.erase(0, i);
  return out;
}

std::string stream_decoder::flush() {
  std::string out = sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace uma::tok
