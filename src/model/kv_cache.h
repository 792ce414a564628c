// KV cache in F16 or Q8_0 (kernels::kv_format), paged: fixed-size blocks of `tokens_per_block`
// positions come from one pool and each sequence owns a block table (DESIGN.md "KV cache").
// Attention reads K/V only through the block table, so a shared multi-sequence pool with prefix
// reuse slots in without touching it. The storage is head-major within chunks of consecutive
// blocks: chunk by chunk, for each layer and KV head, the chunk's blocks of tokens_per_block
// positions of head_dim values (a row is kernels::kv_row_bytes: 256 bytes at 128 in F16, 136 in
// Q8_0; keys are stored transposed in tiles of 16 of as many bytes, kernels::kv_key_tile).
// Attention (one task per KV head) so reads one contiguous run per chunk instead of a 256-byte
// piece of every token's row (docs/performance.md, decode attention). The chunks grow with the
// block ids: 16 blocks (256 positions), 16, 32, then 64 at a time (chunk_of), because a head's
// walk runs faster over long runs (bench_attention at 8192 keys: 16-block runs 10-30 % slower
// than 64) while a chunk is what must be in memory before its first block is written: the cache
// lives on 2 MiB pages (reserved_memory) and grows as it is used, faulted in ahead of the blocks
// handed out (prefault_blocks), where one run per layer and head over all blocks would commit 2 MiB
// of every run at the first token.
//
// Windowed layers (kv_window: Gemma 3's local layers, whose queries see only the last `keys`
// positions) keep a ring of ring_blocks() blocks per sequence instead: logical block i of a
// sequence lives in ring slot i % ring_blocks(), so the ring holds the window, the positions one
// forward appends (kv_window::append) and a span's worth more (attention walks back to a span's
// start), and such a layer's cache no longer grows with the context (gemma3-27B at 32k tokens:
// 52 of 62 layers hold ~1.1k positions instead of 32k). A sequence's ring per layer and head is
// one contiguous run of slots; full layers stay in the paged chunks above.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/ops.h"
#include "util/pages.h"
#include "util/status.h"

namespace uma::model {

// Which layers of a cache are windowed, and how far (kv_cache).
struct kv_window {
  int64_t keys = 0;          // a windowed layer's query at pos sees keys pos - keys < key <= pos
  std::vector<bool> layers;  // per layer: windowed (empty or all false: none)
  // Most positions of one sequence written before their attention reads the cache (a forward
  // appends at most this many per sequence at a time: model::forward splits longer batches).
  int64_t append = 512;
};

class kv_cache {
 public:
  // n_blocks blocks of tokens_per_block positions; each position holds `k_width` + `v_width`
  // values per layer in `format`, n_head_kv heads of each (the widths are multiples of n_head_kv;
  // for Q8_0 each head's width a multiple of 32: kernels::kv_fits, and tokens_per_block a multiple
  // of kernels::kv_key_tile; std::invalid_argument otherwise).
  // Memory is reserved (not touched) up front; reserve() faults blocks in ahead of their first
  // write, a step of blocks at a time (prefault_blocks).
  // chunk_blocks: the first chunk's blocks (0: the default, 16; at most n_blocks);
  // max_chunk_blocks: the longest chunk (0: the default, 64), rounded up to chunk_blocks x 2^k
  // (and no longer than the first such length that covers n_blocks).
  kv_cache(int64_t n_layer, int64_t n_head_kv, int64_t k_width, int64_t v_width,
           int64_t tokens_per_block, int64_t n_blocks, int max_sequences, int64_t max_context,
           int64_t chunk_blocks = 0, int64_t max_chunk_blocks = 0,
           kernels::kv_format format = kernels::kv_format::f16, const kv_window& window = {});
  static constexpr int64_t default_chunk_blocks = 16, default_max_chunk_blocks = 64;
  // Ring slots a windowed layer keeps per sequence for a window of `keys` and appends of `append`
  // positions: the blocks one append's earliest query reaches back to (its window, and up to a
  // span of kernels::attn_vector_keys before it: kv_spans aligns spans) through its last position.
  static int64_t ring_blocks_for(int64_t keys, int64_t append, int64_t tokens_per_block);

  int64_t n_layer() const { return n_layer_; }
  int64_t k_width() const { return k_width_; }
  int64_t v_width() const { return v_width_; }
  int64_t n_head_kv() const { return n_head_kv_; }
  int64_t k_head_dim() const { return k_width_ / n_head_kv_; }
  int64_t v_head_dim() const { return v_width_ / n_head_kv_; }
  kernels::kv_format format() const { return format_; }
  // Bytes of one position's row of one head.
  int64_t k_row_bytes() const { return kernels::kv_row_bytes(format_, k_head_dim()); }
  int64_t v_row_bytes() const { return kernels::kv_row_bytes(format_, v_head_dim()); }
  int64_t tokens_per_block() const { return tokens_per_block_; }
  int64_t n_blocks() const { return n_blocks_; }
  int64_t chunk_blocks() const { return chunk_blocks_; }
  int64_t max_chunk_blocks() const { return max_chunk_blocks_; }
  // The chunk holding block b: its first block and its length in blocks (the last chunk may be
  // shorter, cut at n_blocks). With c = chunk_blocks() and C = max_chunk_blocks() the chunks
  // start at 0, c, 2c, 4c, ..., C, 2C, 3C, ...: each as long as all before it until C.
  struct chunk {
    int64_t first, blocks;
  };
  chunk chunk_of(int64_t b) const {
    int64_t first = 0, len = chunk_blocks_;
    if (b >= max_chunk_blocks_) {
      first = b / max_chunk_blocks_ * max_chunk_blocks_, len = max_chunk_blocks_;
    } else if (b >= chunk_blocks_) {
      first = chunk_blocks_;
      while (first * 2 <= b) first *= 2;
      len = first;
    }
    return {first, std::min(len, n_blocks_ - first)};
  }
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  // The window of `layer` (0: a full layer), the ring's slots a sequence (0: no windowed layer)
  // and the most positions a forward may append to a sequence at a time (0: no limit).
  int64_t window(int64_t layer) const {
    return windowed_[static_cast<size_t>(layer)] ? window_ : 0;
  }
  int64_t ring_blocks() const { return ring_blocks_; }
  int64_t max_append() const { return ring_blocks_ > 0 ? append_ : 0; }
  // The first position of `seq` whose K/V the windowed layers still hold (0 without them).
  int64_t ring_from(int seq) const { return seqs_[static_cast<size_t>(seq)].ring_from; }
  // Blocks [0, faulted_blocks()) of the arrays are in memory (prefault_blocks; where the system
  // cannot fault ahead, they come in at their first write instead and are counted the same).
  int64_t faulted_blocks() const { return prefaulted_; }
  size_t faulted_bytes() const {
    return k_bytes(prefaulted_ * tokens_per_block_) + v_bytes(prefaulted_ * tokens_per_block_) +
           static_cast<size_t>(rings_faulted_) * ring_bytes();
  }
  int max_sequences() const { return static_cast<int>(seqs_.size()); }
  int64_t max_context() const { return max_context_; }
  size_t bytes() const;

  // Positions cached for `seq` (the next token's position).
  int64_t seq_length(int seq) const;
  // Drops positions >= n of `seq` (n = 0 frees the whole sequence); frees whole blocks. With
  // windowed layers a sequence can only go back to a length whose window the ring still holds
  // (positions >= ring_from(seq)): asked for less, it is emptied (seq_length then says 0 and the
  // caller computes it again from the start).
  void truncate(int seq, int64_t n);
  void clear();

  // Makes room for positions [0, n) of `seq`, allocating blocks; error if the pool or the
  // sequence's max_context is exhausted. Then marks them cached (seq_length = n). The windowed
  // layers' rings then hold positions >= ring_from(seq) only: the caller writes at most
  // max_append() positions of a sequence before attending to them.
  status reserve(int seq, int64_t n);
  // The full layers' block table of `seq`.
  const std::vector<int32_t>& block_table(int seq) const { return seqs_[seq].blocks; }

  // Where the logical blocks of `seq` (block i: positions [i x tokens_per_block, ...)) are for
  // one layer: the sequence's block table for a full layer, its ring for a windowed one.
  struct block_map {
    const int32_t* table = nullptr;  // full layers
    int64_t count = 0;               // blocks holding the sequence's positions
    int64_t ring = 0;                // windowed layers: block i is ring_base + i % ring
    int64_t ring_base = 0;
    int32_t operator[](int64_t i) const {
      return ring > 0 ? static_cast<int32_t>(ring_base + i % ring) : table[i];
    }
  };
  block_map blocks(int64_t layer, int seq) const {
    const sequence& s = seqs_[static_cast<size_t>(seq)];
    const int64_t count = (s.length + tokens_per_block_ - 1) / tokens_per_block_;
    if (windowed_[static_cast<size_t>(layer)])
      return {nullptr, count, ring_blocks_, seq * ring_blocks_};
    return {s.blocks.data(), count, 0, 0};
  }

  // KV head `h` of block `b` of `layer`: tokens_per_block keys of k_head_dim values in format(),
  // in tiles of kernels::kv_key_tile keys (kernels::kv_tile_bytes), and as many rows of
  // v_head_dim values, v_row_bytes each, one after the other.
  // For a windowed layer `b` is a ring slot (block_map).
  uint8_t* k_head(int64_t layer, int32_t b, int64_t h) {
    return windowed_[static_cast<size_t>(layer)]
               ? ring_k_data() + ring_rows(layer, b, h) * k_row_bytes()
               : k_data() + head_rows(layer, b, h) * k_row_bytes();
  }
  uint8_t* v_head(int64_t layer, int32_t b, int64_t h) {
    return windowed_[static_cast<size_t>(layer)]
               ? ring_v_data() + ring_rows(layer, b, h) * v_row_bytes()
               : v_data() + head_rows(layer, b, h) * v_row_bytes();
  }
  // Whether block `next`'s rows of every head of `layer` follow block `prev`'s in memory, so that
  // one pointer walks both (the ids follow one another within a chunk, or within a ring).
  bool follows_in_memory(int64_t layer, int32_t prev, int32_t next) const {
    if (windowed_[static_cast<size_t>(layer)]) return next == prev + 1 && next % ring_blocks_ != 0;
    return next == prev + 1 && chunk_of(next).first != next;
  }
  // Where the key of head `h` for `pos` of `seq` at `layer` is stored (the block must be
  // reserved): its tile of kernels::kv_key_tile keys (kernels::f32_to_kv_key) and its slot there.
  struct key_slot {
    uint8_t* tile;
    int64_t slot;
  };
  key_slot k_at(int64_t layer, int seq, int64_t pos, int64_t h) {
    const int64_t in_block = pos % tokens_per_block_;
    return {k_head(layer, blocks(layer, seq)[pos / tokens_per_block_], h) +
                in_block / kernels::kv_key_tile * k_tile_bytes(),
            in_block % kernels::kv_key_tile};
  }
  // Bytes of a tile of one head's keys.
  int64_t k_tile_bytes() const { return kernels::kv_tile_bytes(format_, k_head_dim()); }
  // The v_head_dim values of head `h` for `pos` of `seq` at `layer` (the block must be reserved).
  uint8_t* v_at(int64_t layer, int seq, int64_t pos, int64_t h) {
    return v_head(layer, blocks(layer, seq)[pos / tokens_per_block_], h) +
           (pos % tokens_per_block_) * v_row_bytes();
  }

 private:
  struct sequence {
    std::vector<int32_t> blocks;
    int64_t length = 0;
    int64_t ring_from = 0;  // the windowed layers hold positions >= ring_from
    bool ring_faulted = false;
  };
  int64_t n_layer_, n_head_kv_, k_width_, v_width_, tokens_per_block_, n_blocks_, max_context_;
  int64_t chunk_blocks_, max_chunk_blocks_;
  kernels::kv_format format_;
  // Per layer: windowed, and its index among the full or among the windowed layers.
  std::vector<bool> windowed_;
  std::vector<int64_t> slot_;
  int64_t n_full_ = 0, n_ring_ = 0, window_ = 0, append_ = 0, ring_blocks_ = 0;
  int64_t rings_faulted_ = 0;
  reserved_memory k_, v_, ring_k_, ring_v_;
  std::vector<int32_t> free_;
  std::vector<sequence> seqs_;
  // The arrays' shares of blocks [0, prefaulted_) are faulted in (prefault_blocks); prefault_ok_
  // turns false where the system cannot (the blocks then fault in on first write).
  int64_t prefaulted_ = 0;
  bool prefault_ok_ = true;
  void prefault_blocks(int64_t end);
  uint8_t* k_data() const { return static_cast<uint8_t*>(k_.data()); }
  uint8_t* v_data() const { return static_cast<uint8_t*>(v_.data()); }
  uint8_t* ring_k_data() const { return static_cast<uint8_t*>(ring_k_.data()); }
  uint8_t* ring_v_data() const { return static_cast<uint8_t*>(ring_v_.data()); }
  // Bytes of `positions` rows of every full layer and head of K (V).
  size_t k_bytes(int64_t positions) const {
    return static_cast<size_t>(positions * n_full_ * n_head_kv_ * k_row_bytes());
  }
  size_t v_bytes(int64_t positions) const {
    return static_cast<size_t>(positions * n_full_ * n_head_kv_ * v_row_bytes());
  }
  // Rows of one sequence's rings of K (V) for every windowed layer and head, and their bytes.
  size_t ring_rows_per_seq() const {
    return static_cast<size_t>(ring_blocks_ * tokens_per_block_ * n_ring_ * n_head_kv_);
  }
  size_t ring_bytes() const {
    return ring_rows_per_seq() * static_cast<size_t>(k_row_bytes() + v_row_bytes());
  }
  // The first row of (windowed layer, ring slot b of sequence b / ring_blocks_, head h): the
  // sequences before, then within the sequence's rings the layers and heads before (each a run of
  // ring_blocks_ blocks).
  int64_t ring_rows(int64_t layer, int64_t b, int64_t h) const {
    const int64_t seq = b / ring_blocks_, slot = b % ring_blocks_;
    return (((seq * n_ring_ + slot_[static_cast<size_t>(layer)]) * n_head_kv_ + h) * ring_blocks_ +
            slot) *
           tokens_per_block_;
  }
  // The first row of (layer, block b, head h), counted in rows of one head: the chunks before b's
  // (all layers and heads), then within b's chunk (its blocks: the last chunk may be short) the
  // runs of the layers and heads before.
  int64_t head_rows(int64_t layer, int64_t b, int64_t h) const {
    const chunk c = chunk_of(b);
    return (c.first * n_full_ * n_head_kv_ +
            (slot_[static_cast<size_t>(layer)] * n_head_kv_ + h) * c.blocks + (b - c.first)) *
           tokens_per_block_;
  }
};

}  // namespace uma::model
