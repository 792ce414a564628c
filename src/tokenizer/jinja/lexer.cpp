// Jinja tokenizer (see lexer.h). Mirrors jinja2.lexer.Lexer.tokeniter for the default delimiters.
#include "tokenizer/jinja/lexer.h"

#include <cctype>
#include <cstdlib>

#include "tokenizer/jinja/value.h"

namespace uma::jinja {

namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string normalize(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out += in[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

// Decodes a Python string literal body (the part between quotes).
std::string unescape(std::string_view s, int line) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    char e = s[++i];
    auto hex = [&](size_t n) -> uint32_t {
      if (i + n >= s.size()) fail("truncated escape in string", line);
      std::string h(s.substr(i + 1, n));
      for (char x : h)
        if (!std::isxdigit(static_cast<unsigned char>(x))) fail("bad escape in string", line);
      i += n;
      return static_cast<uint32_t>(std::strtoul(h.c_str(), nullptr, 16));
    };
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\n':
        break;  // line continuation
      case 'x':
        utf8_append(out, hex(2));
        break;
      case 'u':
        utf8_append(out, hex(4));
        break;
      case 'U':
        utf8_append(out, hex(8));
        break;
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<uint32_t>(s[++i] - '0');
          utf8_append(out, v);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class lexer {
 public:
  explicit lexer(std::string src) : src_(std::move(src)) {}

  std::vector<token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_));
        advance_to(src_.size());
        break;
      }
      std::string text = src_.substr(pos_, tag - pos_);
      char tc = src_[tag + 1];
      size_t q = tag + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      if (sign == '-') {
        text = py_rstrip(text);
      } else if (sign != '+' && tc != '{') {  // lstrip_blocks
        size_t nl = text.rfind('\n');
        size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
          bool all_ws = true;
          for (size_t k = l_pos; k < text.size(); ++k) all_ws = all_ws && is_ws(text[k]);
          if (all_ws) text.resize(l_pos);
        }
      }
      emit_text(std::move(text));
      advance_to(q);
      if (tc == '#') {
        line_starting = comment();
      } else if (tc == '%' && raw_block()) {
        line_starting = last_end_newline_;
      } else {
        line_starting = tag_body(tc == '%');
      }
    }
    out_.push_back(token{tok::eof, {}, 0, 0, line_});
    return std::move(out_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#'))
        return p;
    }
    return std::string::npos;
  }

  void advance_to(size_t p) {
    for (size_t k = pos_; k < p; ++k)
      if (src_[k] == '\n') ++line_;
    pos_ = p;
  }

  void emit_text(std::string text) {
    if (!text.empty()) out_.push_back(token{tok::text, std::move(text), 0, 0, line_});
  }

  // After a closing `%}` / `#}`: '-' eats all whitespace, '+' nothing, plain one newline.
  // Returns whether the consumed end ends with a newline (Jinja2's line_starting).
  bool finish_end(char sign, size_t after, bool trim_newline) {
    size_t p = after;
    if (sign == '-') {
      while (p < src_.size() && is_ws(src_[p])) ++p;
    } else if (sign != '+' && trim_newline && p < src_.size() && src_[p] == '\n') {
      ++p;
    }
    bool nl = p > after ? src_[p - 1] == '\n' : false;
    advance_to(p);
    return nl;
  }

  bool comment() {
    int start_line = line_;
    size_t e = src_.find("#}", pos_);
    if (e == std::string::npos) fail("missing end of comment tag", start_line);
    char sign = 0;
    if (e > pos_ && (src_[e - 1] == '-' || src_[e - 1] == '+')) sign = src_[e - 1];
    advance_to(e + 2);
    return finish_end(sign, e + 2, true);
  }

  // {% raw %}...{% endraw %}: emitted as text. Returns false when the tag is not `raw`.
  bool raw_block() {
    size_t p = pos_;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    while (p < src_.size() && is_ws(src_[p])) ++p;
    char sign = 0;
    if (p < src_.size() && src_[p] == '-') sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return false;
    p += 2;
    if (sign == '-')
      while (p < src_.size() && is_ws(src_[p])) ++p;
    int start_line = line_;
    advance_to(p);
    for (size_t t = src_.find("{%", pos_); t != std::string::npos; t = src_.find("{%", t + 1)) {
      size_t k = t + 2;
      char open_sign = 0;
      if (k < src_.size() && (src_[k] == '-' || src_[k] == '+')) open_sign = src_[k++];
      while (k < src_.size() && is_ws(src_[k])) ++k;
      if (src_.compare(k, 6, "endraw") != 0) continue;
      k += 6;
      while (k < src_.size() && is_ws(src_[k])) ++k;
      char end_sign = 0;
      if (k < src_.size() && (src_[k] == '-' || src_[k] == '+')) end_sign = src_[k++];
      if (src_.compare(k, 2, "%}") != 0) continue;
      std::string text = src_.substr(pos_, t - pos_);
      if (open_sign == '-') text = py_rstrip(text);
      emit_text(std::move(text));
      advance_to(k + 2);
      last_end_newline_ = finish_end(end_sign, k + 2, true);
      return true;
    }
    fail("missing end of raw directive", start_line);
  }

  // Tokens of a {{ ... }} or {% ... %} tag; returns line_starting after its end.
  bool tag_body(bool block) {
    out_.push_back(token{block ? tok::block_begin : tok::var_begin, {}, 0, 0, line_});
    int start_line = line_;
    std::string balance;
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size())
        fail(block ? "unexpected end of template, expected '%}'"
                   : "unexpected end of template, "
                     "expected '}}'",
             start_line);
      if (balance.empty()) {
        char c = src_[pos_];
        char sign = (c == '-' || c == '+') ? c : 0;
        size_t e = pos_ + (sign ? 1 : 0);
        if (block && src_.compare(e, 2, "%}") == 0) {
          out_.push_back(token{tok::block_end, {}, 0, 0, line_});
          advance_to(e + 2);
          return finish_end(sign, e + 2, true);
        }
        if (!block && sign != '+' && src_.compare(e, 2, "}}") == 0) {
          out_.push_back(token{tok::var_end, {}, 0, 0, line_});
          advance_to(e + 2);
          return finish_end(sign, e + 2, false);
        }
      }
      lex_one(balance);
    }
  }

  void lex_one(std::string& balance) {
    char c = src_[pos_];
    size_t n = src_.size();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = pos_;
      while (e < n && (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) ++e;
      out_.push_back(token{tok::name, src_.substr(pos_, e - pos_), 0, 0, line_});
      advance_to(e);
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = pos_;
      auto digits = [&] {
        while (e < n && (std::isdigit(static_cast<unsigned char>(src_[e])) ||
                         (src_[e] == '_' && e + 1 < n &&
                          std::isdigit(static_cast<unsigned char>(src_[e + 1])))))
          ++e;
      };
      digits();
      bool is_float = false;
      if (e + 1 < n && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
        ++e;
        digits();
        is_float = true;
      }
      if (e < n && (src_[e] == 'e' || src_[e] == 'E')) {
        size_t k = e + 1;
        if (k < n && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < n && std::isdigit(static_cast<unsigned char>(src_[k]))) {
          e = k;
          digits();
          is_float = true;
        }
      }
      std::string lit;
      for (size_t k = pos_; k < e; ++k)
        if (src_[k] != '_') lit += src_[k];
      token t{is_float ? tok::floating : tok::integer, lit, 0, 0, line_};
      if (is_float) {
        t.f = std::strtod(lit.c_str(), nullptr);
      } else {
        errno = 0;
        t.i = std::strtoll(lit.c_str(), nullptr, 10);
        if (errno == ERANGE) fail("integer literal too large", line_);
      }
      out_.push_back(std::move(t));
      advance_to(e);
      return;
    }
    if (c == '\'' || c == '"') {
      size_t e = pos_ + 1;
      while (e < n && src_[e] != c) e += src_[e] == '\\' ? 2 : 1;
      if (e >= n) fail("unterminated string", line_);
      int l = line_;
      std::string body = unescape(std::string_view(src_).substr(pos_ + 1, e - pos_ - 1), l);
      out_.push_back(token{tok::string, std::move(body), 0, 0, l});
      advance_to(e + 1);
      return;
    }
    static const char* two[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : two) {
      if (src_.compare(pos_, 2, op) == 0) {
        out_.push_back(token{tok::op, op, 0, 0, line_});
        advance_to(pos_ + 2);
        return;
      }
    }
    static const std::string single = "+-/*%~[](){}<>=.:|,;";
    if (single.find(c) == std::string::npos)
      fail(std::string("unexpected char '") + c + "'", line_);
    if (c == '(' || c == '[' || c == '{') {
      if (balance.size() > 512) fail("brackets nested too deeply", line_);
      balance += c == '(' ? ')' : c == '[' ? ']' : '}';
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty() || balance.back() != c)
        fail(std::string("unexpected '") + c + "'", line_);
      balance.pop_back();
    }
    out_.push_back(token{tok::op, std::string(1, c), 0, 0, line_});
    advance_to(pos_ + 1);
  }

  std::string src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool last_end_newline_ = false;
  std::vector<token> out_;
};

}  // namespace

std::string py_rstrip(std::string_view s) {
  auto cps = utf8_decode(s);
  size_t e = cps.size();
  while (e > 0 && py_isspace(cps[e - 1])) --e;
  if (e == cps.size()) return std::string(s);
  return utf8_encode(cps, 0, e);
}

std::vector<token> lex(std::string_view source) {
  return lexer(normalize(source)).run();
}

}  // namespace uma::jinja
