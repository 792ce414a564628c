// Python str semantics for the interpreter (see strings.h).
#include "tokenizer/jinja/strings.h"

#include <utf8proc.h>

#include "tokenizer/jinja/value.h"

namespace uma::jinja::py {

namespace {
uint32_t to_upper(uint32_t c) {
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
uint32_t to_lower(uint32_t c) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
uint32_t to_title(uint32_t c) {
  return static_cast<uint32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c)));
}
bool is_cased(uint32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
}  // namespace

bool is_cased_upper(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_LU;
}
bool is_cased_lower(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_LL;
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, side sd) {
  auto cps = utf8_decode(s);
  std::vector<uint32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](uint32_t c) {
    if (!chars) return py_isspace(c);
    for (uint32_t x : set)
      if (x == c) return true;
    return false;
  };
  size_t b = 0, e = cps.size();
  if (sd != side::right)
    while (b < e && strip_it(cps[b])) ++b;
  if (sd != side::left)
    while (e > b && strip_it(cps[e - 1])) --e;
  if (b == 0 && e == cps.size()) return std::string(s);
  return utf8_encode(cps, b, e);
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               long maxsplit, bool from_right) {
  std::vector<std::string> out;
  if (!sep) {
    auto cps = utf8_decode(s);
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0, n = cps.size();
    if (!from_right) {
      while (i < n) {
        while (i < n && py_isspace(cps[i])) ++i;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<long>(words.size()) == maxsplit) {
          size_t e = n;
          while (e > i && py_isspace(cps[e - 1])) --e;
          words.emplace_back(i, e);
          break;
        }
        size_t b = i;
        while (i < n && !py_isspace(cps[i])) ++i;
        words.emplace_back(b, i);
      }
      for (auto [b, e] : words) out.push_back(utf8_encode(cps, b, e));
    } else {
      size_t e = n;
      while (e > 0) {
        while (e > 0 && py_isspace(cps[e - 1])) --e;
        if (e == 0) break;
        if (maxsplit >= 0 && static_cast<long>(words.size()) == maxsplit) {
          size_t b = 0;
          while (b < e && py_isspace(cps[b])) ++b;
          words.emplace_back(b, e);
          break;
        }
        size_t end = e;
        while (e > 0 && !py_isspace(cps[e - 1])) --e;
        words.emplace_back(e, end);
      }
      for (auto it = words.rbegin(); it != words.rend(); ++it)
        out.push_back(utf8_encode(cps, it->first, it->second));
    }
    return out;
  }
  if (sep->empty()) fail("empty separator");
  if (!from_right) {
    size_t pos = 0;
    while (true) {
      if (maxsplit >= 0 && static_cast<long>(out.size()) == maxsplit) break;
      size_t f = s.find(*sep, pos);
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  std::vector<std::string> rev;
  size_t end = s.size();
  while (true) {
    if (maxsplit >= 0 && static_cast<long>(rev.size()) == maxsplit) break;
    if (end < sep->size()) break;
    size_t f = s.rfind(*sep, end - sep->size());
    if (f == std::string_view::npos) break;
    rev.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
    end = f;
  }
  rev.emplace_back(s.substr(0, end));
  return {rev.rbegin(), rev.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  auto cps = utf8_decode(s);
  std::vector<std::string> out;
  size_t i = 0, start = 0, n = cps.size();
  while (i < n) {
    uint32_t c = cps[i];
    size_t eol = 0;
    if (c == '\r' && i + 1 < n && cps[i + 1] == '\n')
      eol = 2;
    else if (c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d ||
             c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029)
      eol = 1;
    if (!eol) {
      ++i;
      continue;
    }
    out.push_back(utf8_encode(cps, start, keepends ? i + eol : i));
    i += eol;
    start = i;
  }
  if (start < n) out.push_back(utf8_encode(cps, start, n));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view repl, long count) {
  std::string out;
  if (old.empty()) {
    auto cps = utf8_decode(s);
    long done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += repl;
        ++done;
      }
      if (i < cps.size()) utf8_append(out, cps[i]);
    }
    return out;
  }
  size_t pos = 0;
  long done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(repl);
    pos = f + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

std::string upper(std::string_view s) {
  std::string out;
  for (uint32_t c : utf8_decode(s)) {
    if (c == 0xDF) {
      out += "SS";  // Python's full case mapping of 'ß'
      continue;
    }
    utf8_append(out, to_upper(c));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out;
  for (uint32_t c : utf8_decode(s)) utf8_append(out, to_lower(c));
  return out;
}

std::string title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : utf8_decode(s)) {
    if (c == 0xDF && !prev_cased)
      out += "Ss";
    else
      utf8_append(out, prev_cased ? to_lower(c) : to_title(c));
    prev_cased = is_cased(c);
  }
  return out;
}

std::string capitalize(std::string_view s) {
  auto cps = utf8_decode(s);
  std::string out;
  for (size_t i = 0; i < cps.size(); ++i)
    utf8_append(out, i == 0 ? to_title(cps[i]) : to_lower(cps[i]));
  return out;
}

long find(std::string_view s, std::string_view sub, bool from_right) {
  size_t f = from_right ? s.rfind(sub) : s.find(sub);
  if (f == std::string_view::npos) return -1;
  return static_cast<long>(utf8_length(s.substr(0, f)));
}

long count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<long>(utf8_length(s)) + 1;
  long n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size()))
    ++n;
  return n;
}

}  // namespace uma::jinja::py
