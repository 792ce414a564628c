// Implementation of unicode.h: the UTF-8 decoder (maximal-subpart replacement), the byte-level
// alphabet and utf8proc wrappers.
#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>

namespace uma::tok {

utf8_step utf8_decode(const unsigned char* p, size_t n) {
  utf8_step s;
  if (n == 0) return s;
  unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1, true, false};
  uint32_t need;
  uint32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return s;  // invalid lead byte: one U+FFFD for this byte
  }
  uint32_t i = 1;
  for (; i <= need; ++i) {
    if (i >= n) {
      s.len = i;
      s.truncated = true;
      return s;
    }
    unsigned char b = p[i];
    unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      s.len = i;  // the maximal subpart ends before this byte
      return s;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, need + 1, true, false};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_valid_utf8(std::string_view in) {
  auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size(), i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    utf8_step s = utf8_decode(p + i, n - i);
    if (!s.ok) return false;
    i += s.len;
  }
  return true;
}

std::string sanitize_utf8(std::string_view in) {
  if (is_valid_utf8(in)) return std::string(in);
  std::string out;
  out.reserve(in.size() + 16);
  auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size(), i = 0;
  while (i < n) {
    utf8_step s = utf8_decode(p + i, n - i);
    if (s.ok) {
      out.append(in.data() + i, s.len);
    } else {
      append_utf8(out, replacement_char);
    }
    i += s.len;
  }
  return out;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view in) {
  std::vector<uint32_t> out;
  out.reserve(in.size());
  auto* p = reinterpret_cast<const unsigned char*>(in.data());
  size_t n = in.size(), i = 0;
  while (i < n) {
    utf8_step s = utf8_decode(p + i, n - i);
    out.push_back(s.cp);
    i += s.len;
  }
  return out;
}

namespace {
struct byte_level_tables {
  std::array<std::string, 256> enc;
  std::array<int, 512> dec;  // code point (< 512) -> byte
  byte_level_tables() {
    dec.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + extra++);
      append_utf8(enc[b], cp);
      dec[cp] = b;
    }
  }
};
const byte_level_tables& tables() {
  static const byte_level_tables t;
  return t;
}
}  // namespace

const std::array<std::string, 256>& byte_level_encode_table() {
  return tables().enc;
}

int byte_level_decode_cp(uint32_t cp) {
  return cp < 512 ? tables().dec[cp] : -1;
}

std::string byte_level_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto* p = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    utf8_step s = utf8_decode(p + i, n - i);
    int b = s.ok ? byte_level_decode_cp(s.cp) : -1;
    if (b >= 0) {
      out.push_back(static_cast<char>(b));
    } else {
      out.append(text.data() + i, s.len);
    }
    i += s.len;
  }
  return out;
}

bool cpt_is_whitespace(uint32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return true;
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool cpt_is_control(uint32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
         c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CN;
}

bool cpt_is_punctuation(uint32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}

bool cpt_is_symbol(uint32_t cp) {
  auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c >= UTF8PROC_CATEGORY_SM && c <= UTF8PROC_CATEGORY_SO;
}

bool cpt_is_nonspacing_mark(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_MN;
}

uint32_t cpt_to_lower(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

namespace {
std::string normalize(std::string_view in, int options) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                        static_cast<utf8proc_ssize_t>(in.size()), &out,
                        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | options));
  if (n < 0 || out == nullptr) {
    std::free(out);
    return std::string(in);
  }
  std::string r(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return r;
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}
}  // namespace

std::string normalize_nfc(std::string_view in) {
  if (is_ascii(in)) return std::string(in);
  return normalize(in, UTF8PROC_COMPOSE);
}

std::string normalize_nfd(std::string_view in) {
  if (is_ascii(in)) return std::string(in);
  return normalize(in, UTF8PROC_DECOMPOSE);
}

}  // namespace uma::tok
