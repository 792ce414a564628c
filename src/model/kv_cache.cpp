// Paged KV cache (F16 or Q8_0 rows): a free list of blocks and a block table per sequence.
#include "model/kv_cache.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "util/pages.h"

namespace uma::model {

kv_cache::kv_cache(int64_t n_layer, int64_t n_head_kv, int64_t k_width, int64_t v_width,
                   int64_t tokens_per_block, int64_t n_blocks, int max_sequences,
                   int64_t max_context, int64_t chunk_blocks, int64_t max_chunk_blocks,
                   kernels::kv_format format, const kv_window& window)
    : n_layer_(n_layer),
      n_head_kv_(std::max<int64_t>(1, n_head_kv)),
      k_width_(k_width),
      v_width_(v_width),
      tokens_per_block_(tokens_per_block),
      n_blocks_(n_blocks),
      max_context_(max_context),
      chunk_blocks_(std::clamp<int64_t>(chunk_blocks > 0 ? chunk_blocks : default_chunk_blocks, 1,
                                        std::max<int64_t>(1, n_blocks))),
      max_chunk_blocks_(chunk_blocks_),
      format_(format),
      windowed_(static_cast<size_t>(std::max<int64_t>(0, n_layer)), false),
      slot_(windowed_.size(), 0),
      seqs_(static_cast<size_t>(std::max(1, max_sequences))) {
  if (format == kernels::kv_format::q8_0 && (tokens_per_block % kernels::kv_key_tile != 0 ||
                                             !kernels::kv_fits(format, k_width / n_head_kv_) ||
                                             !kernels::kv_fits(format, v_width / n_head_kv_)))
    throw std::invalid_argument(
        "kv_cache: a Q8_0 cache needs head widths that are multiples of 32 and blocks of whole "
        "key tiles");
  if (window.keys > 0) {
    if (!window.layers.empty() && static_cast<int64_t>(window.layers.size()) != n_layer)
      throw std::invalid_argument("kv_cache: the window's layer list is not one entry a layer");
    if (window.append < 1) throw std::invalid_argument("kv_cache: a window needs append >= 1");
    for (size_t l = 0; l < window.layers.size(); ++l) windowed_[l] = window.layers[l];
  }
  for (size_t l = 0; l < windowed_.size(); ++l) slot_[l] = windowed_[l] ? n_ring_++ : n_full_++;
  if (n_ring_ > 0) {
    window_ = window.keys, append_ = window.append;
    ring_blocks_ = ring_blocks_for(window_, append_, tokens_per_block);
  }
  // Reserved, untouched until a chunk (a sequence's rings) is faulted in.
  k_ = reserved_memory(k_bytes(n_blocks * tokens_per_block));
  v_ = reserved_memory(v_bytes(n_blocks * tokens_per_block));
  if (n_ring_ > 0) {
    const size_t rows = seqs_.size() * ring_rows_per_seq();
    ring_k_ = reserved_memory(rows * static_cast<size_t>(k_row_bytes()));
    ring_v_ = reserved_memory(rows * static_cast<size_t>(v_row_bytes()));
  }
  const int64_t cap = max_chunk_blocks > 0 ? max_chunk_blocks : default_max_chunk_blocks;
  while (max_chunk_blocks_ < cap && max_chunk_blocks_ < n_blocks) max_chunk_blocks_ *= 2;
  free_.reserve(static_cast<size_t>(n_blocks));
  // Hand out low block ids first.
  for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(static_cast<int32_t>(b));
}

int64_t kv_cache::ring_blocks_for(int64_t keys, int64_t append, int64_t tokens_per_block) {
  // An append of `append` positions from p reads from p - keys + 1 on (its first query's window)
  // and writes through p + append - 1: at most ceil((append + keys - 1) / tpb) + 1 blocks, and
  // kv_spans starts a span up to a span's blocks less one before the first.
  const int64_t tpb = std::max<int64_t>(1, tokens_per_block);
  const int64_t span = std::max<int64_t>(1, kernels::attn_vector_keys / tpb);
  return (append + keys - 1 + tpb - 1) / tpb + 1 + (span - 1);
}

size_t kv_cache::bytes() const {
  return k_bytes(n_blocks_ * tokens_per_block_) + v_bytes(n_blocks_ * tokens_per_block_) +
         seqs_.size() * ring_bytes();
}

int64_t kv_cache::seq_length(int seq) const {
  if (seq < 0 || seq >= max_sequences()) return 0;
  return seqs_[static_cast<size_t>(seq)].length;
}

void kv_cache::truncate(int seq, int64_t n) {
  if (seq < 0 || seq >= max_sequences()) return;
  auto& s = seqs_[static_cast<size_t>(seq)];
  n = std::clamp<int64_t>(n, 0, s.length);
  // The next position's window must still be in the rings (truncate's comment).
  if (n_ring_ > 0 && n > 0 && std::max<int64_t>(0, n - window_ + 1) < s.ring_from) n = 0;
  if (n == 0) s.ring_from = 0;
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

// The storage is in block order chunk by chunk (a chunk of c blocks takes c blocks' share of each
// array), so blocks [0, x) of every layer and head lie within the arrays' first x shares, and a
// block's rows lie anywhere in its chunk's. So the faulted prefix must cover the whole chunk of
// every block handed out. It is kept at min(2 x, x + max_chunk_blocks) shares for blocks [0, x)
// handed out: past the end of x - 1's chunk (a chunk below max_chunk_blocks is at most as long as
// all chunks before it), and growing by one or two blocks' share as each new block comes (~1.8
// MiB a block for an F16 qwen3-0.6b cache), never a chunk at once in the middle of a decode (a
// 64-block chunk faulted whole at its first block took a tg32 at depth 512 from 120 to 70 tok/s,
// docs/performance.md). One call per array: page faults cost ~11.6 us each on the dev VM (shadow
// paging), one call over many pages a fraction of that (pages.h). Blocks are handed out lowest id
// first, so the faulted part stays a prefix.
void kv_cache::prefault_blocks(int64_t end) {
  if (!prefault_ok_) return;
  end = std::min({n_blocks_, std::max(2 * end, chunk_blocks_), end + max_chunk_blocks_});
  if (end <= prefaulted_) return;
  const int64_t p0 = prefaulted_ * tokens_per_block_, np = (end - prefaulted_) * tokens_per_block_;
  prefault_ok_ = prefault_for_write(k_data() + k_bytes(p0), k_bytes(np)) &&
                 prefault_for_write(v_data() + v_bytes(p0), v_bytes(np));
  prefaulted_ = end;
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
  int64_t end = 0;  // past the highest block handed out
  while (s.blocks.size() < need) {
    s.blocks.push_back(free_.back());
    end = std::max<int64_t>(end, free_.back() + 1);
    free_.pop_back();
  }
  if (end > 0) prefault_blocks(end);
  if (n_ring_ > 0 && n > s.length) {
    if (!s.ring_faulted) {  // the sequence's rings, once, at its first positions
      const size_t kb = ring_rows_per_seq() * static_cast<size_t>(k_row_bytes());
      const size_t vb = ring_rows_per_seq() * static_cast<size_t>(v_row_bytes());
      prefault_for_write(ring_k_data() + static_cast<size_t>(seq) * kb, kb);
      prefault_for_write(ring_v_data() + static_cast<size_t>(seq) * vb, vb);
      s.ring_faulted = true;
      ++rings_faulted_;
    }
    // Writing through block (n - 1) / tpb overwrites the slots of the blocks ring_blocks_ before.
    const int64_t last = (n - 1) / tokens_per_block_;
    s.ring_from = std::max(s.ring_from, (last - ring_blocks_ + 1) * tokens_per_block_);
  }
  s.length = std::max(s.length, n);
  return {};
}

}  // namespace uma::model
