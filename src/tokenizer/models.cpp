// The three tokenization algorithms over a built tokenizer::impl:
//  - byte-level BPE: regex pre-tokens, bytes -> byte-level tokens, merges by rank with a binary
//    heap over a linked list of symbols (O(n log n) per pre-token, stale heap entries skipped);
//  - SentencePiece BPE: characters merged by token score, the same heap scheme, unknown
//    characters falling back to <0xXX> byte tokens;
//  - WordPiece: NFD + lower-case + punctuation splitting, then greedy longest-prefix matching.
#include <algorithm>
#include <functional>
#include <unordered_map>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace uma::tok {

void merge_table::build(const std::vector<std::pair<uint64_t, uint64_t>>& entries) {
  size_t cap = 16;
  while (cap < entries.size() * 2 + 1) cap <<= 1;
  slots_.assign(cap, slot{});
  mask_ = cap - 1;
  shift_ = 64;
  for (size_t c = cap; c > 1; c >>= 1) --shift_;
  for (const auto& [key, val] : entries) {
    size_t i = hash(key);
    while (slots_[i].key != empty_key && slots_[i].key != key) i = (i + 1) & mask_;
    if (slots_[i].key == key) continue;  // first (lowest rank) wins
    slots_[i].key = key;
    slots_[i].val = val;
  }
}

namespace {

struct symbol {
  int32_t id;    // BPE: token id (-1 unknown byte); SPM: unused
  int32_t prev;  // index of the previous live symbol, -1 at the start
  int32_t next;  // index of the next live symbol, -1 at the end
  uint32_t off;  // SPM: byte offset of the symbol's text
  uint32_t len;  // SPM: byte length (0 once merged away)
};

// A BPE merge candidate packed as (rank << 32 | left index): 8-byte heap entries keep the heap
// cache-friendly on huge words. Popping the smallest gives the lowest rank, leftmost first. An
// entry is acted on only if the pair now at `left` still has that rank; otherwise it is stale.
using bpe_candidate = uint64_t;

struct spm_candidate {
  float score;
  int32_t left, right;
  uint32_t len;
  bool operator<(const spm_candidate& o) const {
    return score != o.score ? score < o.score : left > o.left;
  }
};

struct scratch {
  std::vector<symbol> syms;
  std::vector<bpe_candidate> bpe_heap;
  std::vector<spm_candidate> spm_heap;
  std::vector<std::string_view> words;
  std::string buf;
};

scratch& local_scratch() {
  thread_local scratch s;
  return s;
}

}  // namespace

void tokenizer::impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  const size_t n = word.size();
  if (n == 0) return;
  const auto& enc = byte_level_encode_table();
  if (v.ignore_merges || n == 1) {
    std::string s;
    s.reserve(n * 2);
    for (unsigned char b : word) s += enc[b];
    int32_t id = lookup(s);
    if (id != no_token) {
      out.push_back(id);
      return;
    }
  }
  scratch& sc = local_scratch();
  auto& syms = sc.syms;
  auto& heap = sc.bpe_heap;
  syms.resize(n);
  heap.clear();
  for (size_t i = 0; i < n; ++i) {
    syms[i] = {byte_token[static_cast<unsigned char>(word[i])], static_cast<int32_t>(i) - 1,
               i + 1 < n ? static_cast<int32_t>(i + 1) : -1, 0, 1};
  }
  auto candidate = [&](int32_t l, bpe_candidate& out) {
    if (l < 0) return false;
    int32_t r = syms[l].next;
    if (r < 0) return false;
    int32_t a = syms[l].id, b = syms[r].id;
    uint32_t rank;
    int32_t merged;
    if (a < 0 || b < 0 || !merges.find(a, b, rank, merged)) return false;
    out = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(l);
    return true;
  };
  const auto cmp = std::greater<bpe_candidate>();
  bpe_candidate c;
  for (size_t i = 0; i + 1 < n; ++i)
    if (candidate(static_cast<int32_t>(i), c)) heap.push_back(c);
  std::make_heap(heap.begin(), heap.end(), cmp);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), cmp);
    c = heap.back();
    heap.pop_back();
    const auto left = static_cast<int32_t>(c & 0xffffffffu);
    symbol& l = syms[left];
    if (l.len == 0 || l.next < 0) continue;
    symbol& r = syms[l.next];
    uint32_t rank = 0;
    int32_t merged = no_token;
    if (l.id < 0 || r.id < 0 || !merges.find(l.id, r.id, rank, merged) || rank != (c >> 32))
      continue;  // stale
    l.id = merged;
    const int32_t right_next = r.next;
    r.len = 0;
    r.id = -2;
    l.next = right_next;
    if (right_next >= 0) syms[right_next].prev = left;
    if (candidate(l.prev, c)) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
    if (candidate(left, c)) {
      heap.push_back(c);
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    if (syms[i].id >= 0) out.push_back(syms[i].id);
  }
}

void tokenizer::impl::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  std::string normalized;
  if (v.normalize_nfc) {
    normalized = normalize_nfc(text);
    text = normalized;
  }
  std::vector<std::string_view> words;
  splitter.split(text, words);
  if (words.size() < 64) {
    for (std::string_view w : words) bpe_word(w, out);
    return;
  }
  // Long texts repeat their words: remember each short word's ids (as a range of `out`) for the
  // rest of this call. Words are views into `text`, which outlives the cache.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  cache.reserve(4096);
  for (std::string_view w : words) {
    if (w.size() > 48) {
      bpe_word(w, out);
      continue;
    }
    auto it = cache.find(w);
    if (it != cache.end()) {
      auto [start, len] = it->second;
      for (size_t k = 0; k < len; ++k) out.push_back(out[start + k]);
      continue;
    }
    const size_t start = out.size();
    bpe_word(w, out);
    if (cache.size() < (1u << 20)) cache.emplace(w, std::make_pair(start, out.size() - start));
  }
}

void tokenizer::impl::encode_spm(std::string_view text, bool prefix_space,
                                 std::vector<int32_t>& out) const {
  // Escape spaces as U+2581 and add the prefix space.
  std::string s;
  s.reserve(text.size() + 8);
  if (prefix_space) s += "\xe2\x96\x81";
  for (char c : text) {
    if (c == ' ') {
      s += "\xe2\x96\x81";
    } else {
      s += c;
    }
  }
  if (s.empty()) return;
  if (!spm_split_newline) {
    spm_chunk(s, out);
    return;
  }
  // No token spans a newline, so no merge crosses one: each line is merged on its own (same
  // result, but small heaps instead of one as large as the text).
  std::string_view rest(s);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    size_t len = nl == std::string_view::npos ? rest.size() : nl + 1;
    spm_chunk(rest.substr(0, len), out);
    rest.remove_prefix(len);
  }
}

void tokenizer::impl::spm_chunk(std::string_view s, std::vector<int32_t>& out) const {
  scratch& sc = local_scratch();
  auto& syms = sc.syms;
  auto& heap = sc.spm_heap;
  syms.clear();
  heap.clear();
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t off = 0; off < s.size();) {
    uint32_t len = std::min<uint32_t>(utf8_seq_len(p[off]), static_cast<uint32_t>(s.size() - off));
    int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({0, idx - 1, -1, static_cast<uint32_t>(off), len});
    if (idx > 0) syms[idx - 1].next = idx;
    off += len;
  }
  auto try_push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    std::string_view t(s.data() + syms[l].off, syms[l].len + syms[r].len);
    int32_t id = lookup(t);
    if (id == no_token) return;
    float score = v.scores.empty() ? 0.0f : v.scores[static_cast<size_t>(id)];
    heap.push_back({score, l, r, static_cast<uint32_t>(t.size())});
    std::push_heap(heap.begin(), heap.end());
  };
  for (size_t i = 0; i + 1 < syms.size(); ++i)
    try_push(static_cast<int32_t>(i), static_cast<int32_t>(i + 1));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    spm_candidate c = heap.back();
    heap.pop_back();
    symbol& l = syms[c.left];
    if (l.len == 0 || l.next != c.right) continue;
    symbol& r = syms[c.right];
    if (r.len == 0 || l.len + r.len != c.len) continue;
    l.len += r.len;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    r.len = 0;
    try_push(l.prev, c.left);
    try_push(c.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    std::string_view t(s.data() + syms[i].off, syms[i].len);
    int32_t id = lookup(t);
    if (id != no_token) {
      out.push_back(id);
      continue;
    }
    for (unsigned char b : t) {
      int32_t bid = byte_fallback[b];
      if (bid == no_token) bid = v.unk;
      if (bid != no_token) out.push_back(bid);
    }
  }
}

namespace {
bool is_chinese_char(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
}  // namespace

void tokenizer::impl::encode_wpm(std::string_view text, std::vector<int32_t>& out) const {
  // Split into words: whitespace separates, punctuation / ASCII symbols / CJK stand alone.
  std::vector<std::string> words(1);
  for (uint32_t cp : utf8_to_cpts(normalize_nfd(text))) {
    if (cpt_is_whitespace(cp)) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    // BERT drops controls and, with accents stripped, the nonspacing marks NFD split off.
    if (cp == 0 || cp == replacement_char || cpt_is_control(cp) || cpt_is_nonspacing_mark(cp))
      continue;
    std::string ch;
    append_utf8(ch, cpt_to_lower(cp));
    if (cpt_is_punctuation(cp) || (cp < 0x7F && cpt_is_symbol(cp)) || is_chinese_char(cp)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = ch;
      words.emplace_back();
    } else {
      words.back() += ch;
    }
  }
  for (const std::string& word : words) {
    if (word.empty()) continue;
    const std::string w = "\xe2\x96\x81" + word;  // word-initial pieces carry the U+2581 marker
    const size_t n = w.size();
    const size_t before = out.size();
    for (size_t i = 0; i < n;) {
      bool matched = false;
      for (size_t j = std::min(n, i + max_token_len); j > i; --j) {
        int32_t id = lookup(std::string_view(w).substr(i, j - i));
        if (id != no_token) {
          out.push_back(id);
          i = j;
          matched = true;
          break;
        }
      }
      if (!matched) {
        out.resize(before);
        break;
      }
    }
    if (out.size() == before && v.unk != no_token) out.push_back(v.unk);
  }
}

}  // namespace uma::tok
