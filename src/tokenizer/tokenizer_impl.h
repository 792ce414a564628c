// Internal state of uma::tok::tokenizer shared by tokenizer.cpp (front end: special tokens,
// decoding) and models.cpp (the BPE / SPM / WPM algorithms). Not part of the public API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace uma::tok {

// Open-addressing hash map from a pair of token ids to (rank, merged id).
class merge_table {
 public:
  void build(const std::vector<std::pair<uint64_t, uint64_t>>& entries);
  // Returns false when the pair has no merge.
  bool find(int32_t a, int32_t b, uint32_t& rank, int32_t& merged) const {
    if (slots_.empty()) return false;
    uint64_t key = pack(a, b);
    size_t i = hash(key);
    for (;;) {
      const slot& s = slots_[i];
      if (s.key == key) {
        rank = static_cast<uint32_t>(s.val >> 32);
        merged = static_cast<int32_t>(s.val & 0xffffffffu);
        return true;
      }
      if (s.key == empty_key) return false;
      i = (i + 1) & mask_;
    }
  }
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

 private:
  static constexpr uint64_t empty_key = ~0ull;
  struct slot {
    uint64_t key = empty_key;
    uint64_t val = 0;
  };
  size_t hash(uint64_t k) const {
    return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  std::vector<slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
};

struct special_entry {
  std::string_view text;
  int32_t id;
  bool control;  // matched only with parse_special
};

struct tokenizer::impl {
  tok::vocab v;
  std::unordered_map<std::string_view, int32_t> token_to_id;
  // special tokens grouped by first byte, longest first
  std::array<std::vector<special_entry>, 256> specials_by_byte;
  // BPE
  regex_splitter splitter;
  std::array<int32_t, 256> byte_token{};  // BPE: token of each byte's byte-level char
  merge_table merges;
  // SPM
  std::array<int32_t, 256> byte_fallback{};  // "<0xXX>" tokens
  bool spm_split_newline = false;            // no multi-character token contains '\n'
  // WPM
  size_t max_token_len = 0;

  int32_t lookup(std::string_view s) const {
    auto it = token_to_id.find(s);
    return it == token_to_id.end() ? no_token : it->second;
  }
  // Algorithms (models.cpp). `text` is valid UTF-8 without special tokens.
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void encode_spm(std::string_view text, bool prefix_space, std::vector<int32_t>& out) const;
  void encode_wpm(std::string_view text, std::vector<int32_t>& out) const;
  void spm_chunk(std::string_view escaped, std::vector<int32_t>& out) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
};

}  // namespace uma::tok
