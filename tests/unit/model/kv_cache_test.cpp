// The paged KV cache's storage: chunks of blocks, head-major within each chunk (kv_cache.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "model/kv_cache.h"

namespace uma::model {
namespace {

// The blocks that start a chunk, for a cache of n_blocks whose first chunk is `first` blocks and
// whose chunks double up to `longest`: counted out chunk by chunk.
std::vector<int64_t> chunk_starts(int64_t first, int64_t longest, int64_t n_blocks) {
  std::vector<int64_t> starts;
  for (int64_t b = 0, k = 0, len = first; b < n_blocks; b += len, ++k) {
    if (k >= 2) len = std::min(2 * len, longest);  // the third chunk on: double the last
    starts.push_back(b);
  }
  return starts;
}

// Every (layer, block, head) run of K and of V lies inside the array, no two overlap, together
// they cover it, and a block's runs follow the previous block's exactly where the cache says so:
// within a chunk, including the short last one, for chunks of one length and for chunks that grow
// (c, c, 2c, 4c, ... up to the longest). In both formats (bytes per row: F16 two a value, Q8_0
// 34 per 32; a block's keys are tiles of as many bytes).
TEST(kv_cache, chunks_tile_the_storage_and_say_where_blocks_follow) {
  const int64_t layers = 3, heads = 2, kd = 32, vd = 64, tpb = 16, n_blocks = 21;
  struct shape {
    int64_t first, longest;  // constructor arguments
    int64_t want_first, want_longest;
  };
  const shape shapes[] = {{1, 1, 1, 1},    {3, 3, 3, 3},   {4, 4, 4, 4},
                          {21, 0, 21, 21}, {1, 8, 1, 8},   {3, 10, 3, 12},
                          {2, 0, 2, 32},   {0, 0, 16, 32}, {5, 100, 5, 40}};
  for (const auto fmt : {kernels::kv_format::f16, kernels::kv_format::q8_0})
    for (const shape& sh : shapes) {
      SCOPED_TRACE(testing::Message() << kernels::kv_format_name(fmt) << " chunks " << sh.first
                                      << " .. " << sh.longest);
      kv_cache c(layers, heads, heads * kd, heads * vd, tpb, n_blocks, 2, n_blocks * tpb, sh.first,
                 sh.longest, fmt);
      EXPECT_EQ(c.format(), fmt);
      EXPECT_EQ(c.k_row_bytes(), fmt == kernels::kv_format::f16 ? 64 : 34);
      EXPECT_EQ(c.v_row_bytes(), fmt == kernels::kv_format::f16 ? 128 : 68);
      EXPECT_EQ(c.k_tile_bytes(), kernels::kv_key_tile * c.k_row_bytes());
      EXPECT_EQ(c.bytes(),
                size_t(layers * n_blocks * tpb * heads * (c.k_row_bytes() + c.v_row_bytes())));
      EXPECT_EQ(c.chunk_blocks(), sh.want_first);
      EXPECT_EQ(c.max_chunk_blocks(), sh.want_longest);
      const std::vector<int64_t> starts = chunk_starts(sh.want_first, sh.want_longest, n_blocks);
      for (int64_t b = 0; b < n_blocks; ++b) {
        const auto it = std::upper_bound(starts.begin(), starts.end(), b) - 1;
        const int64_t end = it + 1 == starts.end() ? n_blocks : *(it + 1);
        EXPECT_EQ(c.chunk_of(b).first, *it) << b;
        EXPECT_EQ(c.chunk_of(b).blocks, end - *it) << b;
        if (b > 0) {
          const bool starts_chunk = std::find(starts.begin(), starts.end(), b) != starts.end();
          EXPECT_EQ(c.follows_in_memory(0, int32_t(b - 1), int32_t(b)), !starts_chunk) << b;
        }
      }
      EXPECT_FALSE(c.follows_in_memory(0, 2, 4));
      EXPECT_FALSE(c.follows_in_memory(0, 3, 2));
      for (const bool keys : {true, false}) {
        // Bytes of one (layer, block, head) run.
        const int64_t run = tpb * (keys ? c.k_row_bytes() : c.v_row_bytes());
        std::vector<std::pair<int64_t, int64_t>> runs;
        const uint8_t* base = keys ? c.k_head(0, 0, 0) : c.v_head(0, 0, 0);
        for (int64_t l = 0; l < layers; ++l) {
          for (int32_t b = 0; b < n_blocks; ++b) {
            for (int64_t h = 0; h < heads; ++h) {
              const uint8_t* p = keys ? c.k_head(l, b, h) : c.v_head(l, b, h);
              runs.emplace_back(p - base, p - base + run);
              if (b > 0 && c.follows_in_memory(l, b - 1, b)) {
                const uint8_t* prev = keys ? c.k_head(l, b - 1, h) : c.v_head(l, b - 1, h);
                EXPECT_EQ(p, prev + run) << "block " << b;
              }
              // A chunk's blocks lie within its share of the array (what prefault covers).
              const kv_cache::chunk ch = c.chunk_of(b);
              const int64_t share = layers * heads * run;  // one block's
              EXPECT_GE(p - base, ch.first * share) << b;
              EXPECT_LE(p - base + run, (ch.first + ch.blocks) * share) << b;
            }
          }
        }
        std::sort(runs.begin(), runs.end());
        EXPECT_EQ(runs.front().first, 0);
        for (size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[i].first, runs[i - 1].second);
        EXPECT_EQ(runs.back().second, layers * n_blocks * heads * run);
      }
    }
}

// As blocks are handed out the cache faults in ahead of them: every chunk a handed-out block
// lies in, whole, and no more than as many blocks again (up to the longest chunk), a block or two
// at a time, never a whole long chunk at once.
TEST(kv_cache, faults_in_the_chunks_of_blocks_handed_out_a_little_ahead) {
  const int64_t tpb = 4, n_blocks = 300;
  kv_cache c(2, 2, 64, 64, tpb, n_blocks, 2, n_blocks * tpb, 4, 32);
  EXPECT_EQ(c.faulted_blocks(), 0);  // nothing before the first reservation
  int64_t handed = 0, last = 0;
  for (int64_t n = 1; n <= 260 * tpb; n += 3) {
    ASSERT_TRUE(c.reserve(0, n).ok());
    handed = (n + tpb - 1) / tpb;  // blocks 0 .. handed - 1: one sequence, lowest ids first
    const kv_cache::chunk ch = c.chunk_of(handed - 1);
    const int64_t f = c.faulted_blocks();
    ASSERT_GE(f, ch.first + ch.blocks) << n;
    ASSERT_LE(f, std::max<int64_t>(4, std::min(2 * handed, handed + 32))) << n;
    ASSERT_LE(f - last, 2 * ((n + tpb - 1) / tpb - (n - 3 + tpb - 1) / tpb) + 4) << n;
    last = f;
  }
  ASSERT_TRUE(c.reserve(1, 40 * tpb).ok());  // a second sequence: the next 40 ids
  EXPECT_GE(c.faulted_blocks(), c.chunk_of(handed + 39).first + c.chunk_of(handed + 39).blocks);
  EXPECT_LE(c.faulted_blocks(), n_blocks);
}

// Blocks handed out across chunk boundaries are written and read back where k_at / v_at say, each
// block's keys and rows its own (a chunk faulted in ahead is written like any other): every value
// of a key (through its tile slot: integers up to 127 with a 127 in each group of 32 are exact in
// both formats) and every byte of a value row.
TEST(kv_cache, rows_written_across_chunks_read_back) {
  const int64_t layers = 2, heads = 2, d = 32, tpb = 16;
  for (const auto fmt : {kernels::kv_format::f16, kernels::kv_format::q8_0}) {
    SCOPED_TRACE(kernels::kv_format_name(fmt));
    kv_cache c(layers, heads, heads * d, heads * d, tpb, 9, 2, 9 * tpb, 2, 2, fmt);
    ASSERT_TRUE(c.reserve(0, 88).ok());  // blocks 0-5: three chunks
    ASSERT_TRUE(c.reserve(1, 40).ok());  // blocks 6-8: the next two chunks
    const int64_t row = c.v_row_bytes();
    const auto tag = [](int64_t l, int s, int64_t pos, int64_t h, int64_t e, int kv) {
      return static_cast<uint8_t>((((((l * 2 + s) * 96 + pos) * 2 + h) * 67 + e) * 2 + kv) % 251);
    };
    const auto key = [&](int64_t l, int s, int64_t pos, int64_t h) {
      std::vector<float> x(static_cast<size_t>(d));
      for (int64_t e = 0; e < d; ++e)
        x[static_cast<size_t>(e)] =
            e % 32 == 0 ? 127.f : float(tag(l, s, pos, h, e, 0) % 251) - 125;
      return x;
    };
    const int64_t len[2] = {88, 40};
    for (int s = 0; s < 2; ++s)
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t pos = 0; pos < len[s]; ++pos)
          for (int64_t h = 0; h < heads; ++h) {
            const kv_cache::key_slot ks = c.k_at(l, s, pos, h);
            kernels::f32_to_kv_key(fmt, key(l, s, pos, h).data(), d, ks.tile, ks.slot);
            for (int64_t e = 0; e < row; ++e) c.v_at(l, s, pos, h)[e] = tag(l, s, pos, h, e, 1);
          }
    std::vector<float> got(static_cast<size_t>(d));
    for (int s = 0; s < 2; ++s)
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t pos = 0; pos < len[s]; ++pos)
          for (int64_t h = 0; h < heads; ++h) {
            const kv_cache::key_slot ks = c.k_at(l, s, pos, h);
            ASSERT_EQ(ks.slot, pos % kernels::kv_key_tile);
            kernels::kv_key_to_f32(fmt, ks.tile, ks.slot, got.data(), d);
            ASSERT_EQ(got, key(l, s, pos, h)) << l << " " << s << " " << pos << " " << h;
            for (int64_t e = 0; e < row; ++e)
              ASSERT_EQ(c.v_at(l, s, pos, h)[e], tag(l, s, pos, h, e, 1));
          }
  }
}

// A Q8_0 cache needs whole key tiles in a block and head widths of whole Q8_0 blocks.
TEST(kv_cache, q8_0_refuses_shapes_it_cannot_tile) {
  const auto q8 = kernels::kv_format::q8_0;
  EXPECT_THROW(kv_cache(1, 1, 32, 32, 8, 4, 1, 32, 0, 0, q8), std::invalid_argument);
  EXPECT_THROW(kv_cache(1, 2, 96, 96, 16, 4, 1, 64, 0, 0, q8), std::invalid_argument);  // 48 wide
  EXPECT_NO_THROW(kv_cache(1, 2, 128, 64, 32, 4, 1, 128, 0, 0, q8));
  EXPECT_NO_THROW(kv_cache(1, 2, 96, 96, 8, 4, 1, 32, 0, 0, kernels::kv_format::f16));
}

// Windowed layers keep a ring of blocks per sequence (kv_window): their storage is its own (the
// full layers' chunks hold only the full layers), a sequence's ring slots follow one another in
// memory except where the ring wraps, and logical block i lives in slot i % ring_blocks().
TEST(kv_cache, windowed_layers_keep_a_ring_per_sequence) {
  const int64_t layers = 4, heads = 2, d = 32, tpb = 16, n_blocks = 40, window = 20, append = 8;
  // Span walk-back (64 keys: 3 blocks) + ceil((8 + 20 - 1) / 16) + 1 = 6 slots.
  EXPECT_EQ(kv_cache::ring_blocks_for(window, append, tpb), 6);
  EXPECT_EQ(kv_cache::ring_blocks_for(512, 512, 16), 64 + 1 + 3);
  EXPECT_EQ(kv_cache::ring_blocks_for(20, 8, 4), 7 + 1 + 15);
  const kv_window win{window, {true, false, true, true}, append};
  kv_cache c(layers, heads, heads * d, heads * d, tpb, n_blocks, 2, n_blocks * tpb, 0, 0,
             kernels::kv_format::f16, win);
  EXPECT_EQ(c.ring_blocks(), 6);
  EXPECT_EQ(c.max_append(), append);
  EXPECT_EQ(c.window(0), window);
  EXPECT_EQ(c.window(1), 0);
  const size_t row = size_t(c.k_row_bytes() + c.v_row_bytes()) * heads;
  // One full layer's 40 blocks, and two sequences' rings of three layers.
  EXPECT_EQ(c.bytes(), row * (1 * n_blocks * tpb + 2 * 6 * tpb * 3));
  EXPECT_EQ(c.faulted_bytes(), 0u);
  ASSERT_TRUE(c.reserve(0, 5).ok());
  EXPECT_GE(c.faulted_bytes(), row * 6 * tpb * 3);  // sequence 0's rings in at its first reserve
  // Every (sequence, windowed layer, slot, head) run is its own; slots follow within a ring.
  for (const bool keys : {true, false}) {
    const int64_t run = tpb * (keys ? c.k_row_bytes() : c.v_row_bytes());
    std::vector<std::pair<const uint8_t*, const uint8_t*>> runs;
    for (int seq = 0; seq < 2; ++seq)
      for (const int64_t l : {0, 2, 3})
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t i = 0; i < 6; ++i) {
            const int32_t b = static_cast<int32_t>(seq * 6 + i);
            const uint8_t* p = keys ? c.k_head(l, b, h) : c.v_head(l, b, h);
            runs.emplace_back(p, p + run);
            if (i > 0) {
              EXPECT_TRUE(c.follows_in_memory(l, b - 1, b));
              EXPECT_EQ(p, (keys ? c.k_head(l, b - 1, h) : c.v_head(l, b - 1, h)) + run);
            } else if (b > 0) {
              EXPECT_FALSE(c.follows_in_memory(l, b - 1, b));  // another sequence's ring
            }
          }
    std::sort(runs.begin(), runs.end());
    for (size_t i = 1; i < runs.size(); ++i) EXPECT_LE(runs[i - 1].second, runs[i].first);
    EXPECT_EQ(runs.back().second - runs.front().first, 2 * 3 * heads * 6 * run);
  }
  // Block maps: a full layer's is the block table, a windowed one's the ring.
  ASSERT_TRUE(c.reserve(0, 150).ok());
  const kv_cache::block_map full = c.blocks(1, 0), ring = c.blocks(2, 0);
  EXPECT_EQ(full.count, 10);
  EXPECT_EQ(ring.count, 10);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(full[i], c.block_table(0)[static_cast<size_t>(i)]);
    EXPECT_EQ(ring[i], i % 6);
  }
  EXPECT_EQ(c.blocks(2, 1)[7], 6 + 1);
}

// Positions written a few at a time read back from the rings while they are within the last
// ring_blocks() blocks (ring_from), the full layers' all the time; truncation keeps a length
// whose window the rings still hold and empties the sequence otherwise.
TEST(kv_cache, rings_hold_the_recent_positions_and_truncation_respects_them) {
  const int64_t layers = 2, heads = 2, d = 32, tpb = 16, window = 20, append = 8;
  for (const auto fmt : {kernels::kv_format::f16, kernels::kv_format::q8_0}) {
    SCOPED_TRACE(kernels::kv_format_name(fmt));
    kv_cache c(layers, heads, heads * d, heads * d, tpb, 40, 2, 320, 0, 0, fmt,
               kv_window{window, {true, false}, append});
    const int64_t ring = c.ring_blocks();
    const auto value = [](int64_t l, int s, int64_t pos, int64_t h, int64_t e) {
      return e % 32 == 0 ? 127.f : float((((l * 2 + s) * 331 + pos) * 2 + h + e * 7) % 201) - 100;
    };
    std::vector<float> x(static_cast<size_t>(d)), got(static_cast<size_t>(d));
    const auto write = [&](int s, int64_t pos) {
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t e = 0; e < d; ++e) x[static_cast<size_t>(e)] = value(l, s, pos, h, e);
          const kv_cache::key_slot ks = c.k_at(l, s, pos, h);
          kernels::f32_to_kv_key(fmt, x.data(), d, ks.tile, ks.slot);
          kernels::f32_to_kv_row(fmt, x.data(), c.v_at(l, s, pos, h), d);
        }
    };
    const auto check = [&](int s, int64_t pos, int64_t l) {
      for (int64_t h = 0; h < heads; ++h) {
        for (int64_t e = 0; e < d; ++e) x[static_cast<size_t>(e)] = value(l, s, pos, h, e);
        const kv_cache::key_slot ks = c.k_at(l, s, pos, h);
        kernels::kv_key_to_f32(fmt, ks.tile, ks.slot, got.data(), d);
        ASSERT_EQ(got, x) << "key: seq " << s << " pos " << pos << " layer " << l;
        kernels::kv_row_to_f32(fmt, c.v_at(l, s, pos, h), got.data(), d);
        ASSERT_EQ(got, x) << "value: seq " << s << " pos " << pos << " layer " << l;
      }
    };
    // Two sequences, appends of 1..8 positions, interleaved.
    int64_t len[2] = {0, 0};
    for (int step = 0; len[0] < 300; ++step) {
      const int s = step % 3 == 2 ? 1 : 0;
      if (len[s] >= 300) continue;
      const int64_t n = std::min<int64_t>(300, len[s] + 1 + step % append);
      ASSERT_TRUE(c.reserve(s, n).ok());
      for (int64_t p = len[s]; p < n; ++p) write(s, p);
      len[s] = n;
      const int64_t last = (n - 1) / tpb;
      ASSERT_EQ(c.ring_from(s), std::max<int64_t>(0, (last - ring + 1) * tpb));
      // What the last append's queries read: their windows, from the ring.
      for (int64_t p = std::max<int64_t>(0, n - append - window); p < n; ++p) check(s, p, 0);
    }
    for (int s = 0; s < 2; ++s) {
      for (int64_t p = 0; p < len[s]; ++p) check(s, p, 1);  // the full layer: every position
      for (int64_t p = c.ring_from(s); p < len[s]; ++p) check(s, p, 0);
    }
    // 300 positions: blocks 0..18, the ring holds blocks 13..18 (positions 208..299).
    EXPECT_EQ(c.ring_from(0), (18 - ring + 1) * tpb);
    c.truncate(0, 290);  // its window 271..289 is held
    EXPECT_EQ(c.seq_length(0), 290);
    c.truncate(0, c.ring_from(0) + window - 1);  // the first length whose window is held
    EXPECT_EQ(c.seq_length(0), c.ring_from(0) + window - 1);
    const int64_t free_before = c.free_blocks();
    c.truncate(0, c.ring_from(0) + window - 2);  // its window reaches below: emptied
    EXPECT_EQ(c.seq_length(0), 0);
    EXPECT_EQ(c.ring_from(0), 0);
    EXPECT_GT(c.free_blocks(), free_before);  // its full-layer blocks went back to the pool
    EXPECT_EQ(c.seq_length(1), len[1]);       // the other sequence untouched
    // Grown again from nothing, it reads back what it writes.
    ASSERT_TRUE(c.reserve(0, 8).ok());
    for (int64_t p = 0; p < 8; ++p) write(0, p);
    for (int64_t p = 0; p < 8; ++p) check(0, p, 0), check(0, p, 1);
    c.clear();
    EXPECT_EQ(c.seq_length(1), 0);
    EXPECT_EQ(c.ring_from(1), 0);
  }
}

// A window's layer list must be one entry a layer.
TEST(kv_cache, window_refuses_a_wrong_layer_list) {
  EXPECT_THROW(kv_cache(3, 1, 32, 32, 16, 4, 1, 64, 0, 0, kernels::kv_format::f16,
                        kv_window{8, {true, false}, 4}),
               std::invalid_argument);
  EXPECT_THROW(kv_cache(2, 1, 32, 32, 16, 4, 1, 64, 0, 0, kernels::kv_format::f16,
                        kv_window{8, {true, false}, 0}),
               std::invalid_argument);
  const kv_cache none(2, 1, 32, 32, 16, 4, 1, 64, 0, 0, kernels::kv_format::f16,
                      kv_window{8, {false, false}, 4});
  EXPECT_EQ(none.ring_blocks(), 0);
  EXPECT_EQ(none.max_append(), 0);
}

}  // namespace
}  // namespace uma::model
