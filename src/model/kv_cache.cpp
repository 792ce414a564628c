// Paged F16 KV cache: a free list of blocks and a block table per sequence.
#include "model/kv_cache.h"

#include <algorithm>
#include <cassert>

namespace uma::model {

kv_cache::kv_cache(int64_t n_layer, int64_t n_head_kv, int64_t k_width, int64_t v_width,
                   int64_t tokens_per_block, int64_t n_blocks, int max_sequences,
                   int64_t max_context)
    : n_layer_(n_layer),
      n_head_kv_(std::max<int64_t>(1, n_head_kv)),
      k_width_(k_width),
      v_width_(v_width),
      tokens_per_block_(tokens_per_block),
      n_blocks_(n_blocks),
      max_context_(max_context),
      // Uninitialised: the pages stay untouched until a block is first written.
      k_(make_aligned_array<uint16_t>(
          static_cast<size_t>(n_layer * n_blocks * tokens_per_block * k_width))),
      v_(make_aligned_array<uint16_t>(
          static_cast<size_t>(n_layer * n_blocks * tokens_per_block * v_width))),
      seqs_(static_cast<size_t>(std::max(1, max_sequences))) {
  free_.reserve(static_cast<size_t>(n_blocks));
  // Hand out low block ids first.
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

size_t kv_cache::bytes() const {
  return static_cast<size_t>(n_layer_ * n_blocks_ * tokens_per_block_ * (k_width_ + v_width_)) *
         sizeof(uint16_t);
}

int64_t kv_cache::seq_length(int seq) const {
  if (seq < 0 || seq >= max_sequences()) return 0;
  return seqs_[static_cast<size_t>(seq)].length;
}

void kv_cache::truncate(int seq, int64_t n) {
  if (seq < 0 || seq >= max_sequences()) return;
  auto& s = seqs_[static_cast<size_t>(seq)];
  n = std::clamp<int64_t>(n, 0, s.length);
  const auto keep = static_cast<size_t>((n + tokens_per_block_ - 1) / tokens_per_block_);
  while (s.blocks.size() > keep) {
    free_.push_back(s.blocks.back());
    s.blocks.pop_back();
  }
  s.length = n;
}

void kv_cache::clear() {
  for (int i = 0; i < max_sequences(); ++i) truncate(i, 0);
}

status kv_cache::reserve(int seq, int64_t n) {
  if (seq < 0 || seq >= max_sequences()) {
    return make_error("sequence id {} out of range (cache holds {} sequences)", seq,
                      max_sequences());
  }
  if (n > max_context_) {
    return make_error("context full: {} tokens requested, the cache holds {} per sequence", n,
                      max_context_);
  }
  auto& s = seqs_[static_cast<size_t>(seq)];
  const auto need = static_cast<size_t>((n + tokens_per_block_ - 1) / tokens_per_block_);
  if (need > s.blocks.size() && need - s.blocks.size() > free_.size()) {
    return make_error("KV cache out of blocks: {} more needed, {} free", need - s.blocks.size(),
                      free_.size());
  }
  while (s.blocks.size() < need) {
    s.blocks.push_back(free_.back());
    free_.pop_back();
  }
  s.length = std::max(s.length, n);
  return {};
}

}  // namespace uma::model
