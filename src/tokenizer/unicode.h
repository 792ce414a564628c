// UTF-8 and code-point helpers shared by the tokenizers: a decoder with one documented policy for
// ill-formed input, the GPT-2 byte-level alphabet, and thin wrappers over utf8proc (categories,
// lower-casing, NFC/NFD).
//
// Ill-formed UTF-8 policy (everywhere in uma's tokenizers): each *maximal subpart* of an ill-formed
// sequence is replaced by U+FFFD, as recommended by the Unicode Standard (ch. 3, "U+FFFD
// Substitution of Maximal Subparts") and as done by WHATWG TextDecoder and Python's
// bytes.decode("utf-8", "replace"). So "\xE2\x82" (a truncated euro sign) becomes one U+FFFD, and
// "\xFF\xFE" becomes two.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace uma::tok {

inline constexpr uint32_t replacement_char = 0xFFFD;

// Result of decoding one code point at the start of a byte range.
struct utf8_step {
  uint32_t cp = replacement_char;  // the code point, or U+FFFD when ill-formed
  uint32_t len = 1;                // bytes consumed (>= 1)
  bool ok = false;                 // a well-formed sequence
  bool truncated = false;          // ill-formed only because the range ended mid-sequence
};
utf8_step utf8_decode(const unsigned char* p, size_t n);

void append_utf8(std::string& out, uint32_t cp);
// Replaces each maximal ill-formed subpart with U+FFFD (EF BF BD). Returns `in` unchanged
// (copied) when it is already valid.
std::string sanitize_utf8(std::string_view in);
bool is_valid_utf8(std::string_view in);
std::vector<uint32_t> utf8_to_cpts(std::string_view in);  // sanitizing
// Number of bytes of the UTF-8 sequence that `lead` starts (1 for invalid lead bytes).
inline uint32_t utf8_seq_len(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  return 1;
}

// GPT-2 byte-level alphabet: every byte maps to a printable code point.
const std::array<std::string, 256>& byte_level_encode_table();  // byte -> UTF-8 of its char
int byte_level_decode_cp(uint32_t cp);                          // char -> byte, -1 if none
// Maps the UTF-8 text of a byte-level token back to raw bytes; chars outside the alphabet are
// copied through unchanged.
std::string byte_level_decode(std::string_view token_text);

// Unicode properties (utf8proc's tables).
bool cpt_is_whitespace(uint32_t cp);       // the White_Space property
bool cpt_is_control(uint32_t cp);          // general category C* (incl. unassigned)
bool cpt_is_punctuation(uint32_t cp);      // P*
bool cpt_is_symbol(uint32_t cp);           // S*
bool cpt_is_nonspacing_mark(uint32_t cp);  // Mn
uint32_t cpt_to_lower(uint32_t cp);

// Normalization of valid UTF-8 (callers sanitize first). Returns the input on failure.
std::string normalize_nfc(std::string_view valid_utf8);
std::string normalize_nfd(std::string_view valid_utf8);

}  // namespace uma::tok
