// Hostile inputs: invalid UTF-8, a 10 MB single word, a million newlines, long whitespace runs.
// None may crash or hang (BPE/SPM merging is O(n log n) per word, the split regexes are linear on
// these inputs), and byte-level BPE must stay lossless after the documented UTF-8 repair.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tokenizer/unicode.h"
#include "tokenizer_test_util.h"

namespace {

using uma::test::shared_tokenizer;
using uma::tok::decode_options;
using uma::tok::encode_options;

const encode_options plain{.add_special = false, .parse_special = false};

std::string random_bytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) {
    // bias towards UTF-8 lead/continuation bytes so that partial sequences are common
    uint32_t k = rng() % 4;
    c = static_cast<char>(k == 0 ? rng() % 0x80 : 0x80 + rng() % 0x80);
  }
  return s;
}

// Byte-level BPE and SPM with byte fallback lose nothing when the vocabulary has all 256 bytes
// (falcon's lacks some control bytes, which are dropped, as in llama.cpp).
bool has_all_bytes(const uma::tok::tokenizer& t) {
  const auto& v = t.get_vocab();
  if (v.kind == uma::tok::vocab_kind::wpm) return false;  // lower-cases and drops characters
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    if (t.find_token(uma::tok::byte_level_encode_table()[b]) == uma::tok::no_token &&
        t.find_token(hex) == uma::tok::no_token)
      return false;
  }
  return true;
}

TEST(TokenizerRobustness, InvalidUtf8IsRepairedAndRoundTrips) {
  std::mt19937 rng(42);
  int lossless_vocabs = 0;
  for (const char* name : {"gpt-2", "qwen3", "llama-spm", "bert-bge", "deepseek-llm", "falcon"}) {
    const auto& t = shared_tokenizer(name);
    const bool lossless = has_all_bytes(t);
    lossless_vocabs += lossless;
    for (int i = 0; i < 200; ++i) {
      std::string s = random_bytes(rng, 1 + rng() % 64);
      auto ids = t.encode(s, plain);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < t.size());
      std::string back = t.decode(ids);
      // A vocabulary missing byte tokens drops bytes and may cut a character in half.
      if (lossless) {
        EXPECT_TRUE(uma::tok::is_valid_utf8(back)) << name;
      }
      std::string want = uma::tok::sanitize_utf8(s);
      if (t.get_vocab().normalize_nfc) want = uma::tok::normalize_nfc(want);
      if (lossless) {
        EXPECT_EQ(back, want) << name << " case " << i;
      }
    }
  }
  EXPECT_GE(lossless_vocabs, 4);
}

TEST(TokenizerRobustness, MaximalSubpartPolicy) {
  using uma::tok::sanitize_utf8;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(sanitize_utf8("a\xE2\x82"
                          "b"),
            "a" + fffd + "b");                                       // truncated: one U+FFFD
  EXPECT_EQ(sanitize_utf8("\xFF\xFE"), fffd + fffd);                 // two invalid bytes
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), fffd + fffd + fffd);      // surrogate: 3 subparts
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), fffd + fffd);                 // overlong
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), fffd);                    // truncated emoji
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98\x81"), "\xF0\x9F\x98\x81");  // valid stays
  // The tokenizer sees exactly the repaired text.
  const auto& t = shared_tokenizer("qwen3");
  EXPECT_EQ(t.encode("x\xE2\x82y", plain), t.encode("x\xEF\xBF\xBDy", plain));
}

TEST(TokenizerRobustness, TenMegabyteSingleWord) {
  std::mt19937 rng(7);
  std::string word(10'000'000, 'a');
  for (auto& c : word) c = static_cast<char>('a' + rng() % 26);
  const auto& t = shared_tokenizer("gpt-2");
  auto ids = t.encode(word, plain);
  EXPECT_GT(ids.size(), word.size() / 10);
  EXPECT_LT(ids.size(), word.size());
  EXPECT_EQ(t.decode(ids), word);
}

TEST(TokenizerRobustness, MillionNewlines) {
  const std::string nl(1'000'000, '\n');
  for (const char* name : {"gpt-2", "llama3", "llama-spm"}) {
    const auto& t = shared_tokenizer(name);
    auto ids = t.encode(nl, plain);
    ASSERT_FALSE(ids.empty()) << name;
    EXPECT_LE(ids.size(), nl.size() + 1) << name;  // SPM: + the prefix-space token
    decode_options keep;
    keep.strip_leading = true;
    std::string back = t.decode(ids, keep);
    // SPM adds (and decoding removes) one prefix space.
    EXPECT_EQ(back, nl) << name;
  }
}

TEST(TokenizerRobustness, LongWhitespaceRunsAndMixedSeparators) {
  std::string spaces(2'000'000, ' ');
  spaces += "x";
  std::string mixed;
  for (int i = 0; i < 300'000; ++i) mixed += (i % 3 == 0) ? " \n" : (i % 3 == 1 ? "\t " : "!a");
  for (const char* name : {"qwen3", "gpt-2", "deepseek-coder", "starcoder"}) {
    const auto& t = shared_tokenizer(name);
    EXPECT_EQ(t.decode(t.encode(spaces, plain)), spaces) << name;
    EXPECT_EQ(t.decode(t.encode(mixed, plain)), mixed) << name;
  }
}

}  // namespace
