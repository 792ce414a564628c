// The paged KV cache's storage: chunks of blocks, head-major within each chunk (kv_cache.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "model/kv_cache.h"

namespace uma::model {
namespace {

// Every (layer, block, head) run of K and of V lies inside the array, no two overlap, together
// they cover it, and a block's runs follow the previous block's exactly where the cache says so:
// within a chunk, including the short last one. In both row formats (bytes per row: F16 two a
// value, Q8_0 34 per 32).
TEST(kv_cache, chunks_tile_the_storage_and_say_where_blocks_follow) {
  const int64_t layers = 3, heads = 2, kd = 32, vd = 64, tpb = 2, n_blocks = 10;
  for (const auto fmt : {kernels::kv_format::f16, kernels::kv_format::q8_0})
    for (const int64_t chunk : {int64_t{1}, int64_t{3}, int64_t{4}, int64_t{10}, int64_t{0}}) {
      SCOPED_TRACE(kernels::kv_format_name(fmt));
      kv_cache c(layers, heads, heads * kd, heads * vd, tpb, n_blocks, 2, 20, chunk, fmt);
      EXPECT_EQ(c.format(), fmt);
      EXPECT_EQ(c.k_row_bytes(), fmt == kernels::kv_format::f16 ? 64 : 34);
      EXPECT_EQ(c.v_row_bytes(), fmt == kernels::kv_format::f16 ? 128 : 68);
      EXPECT_EQ(c.bytes(),
                size_t(layers * n_blocks * tpb * heads * (c.k_row_bytes() + c.v_row_bytes())));
      EXPECT_EQ(c.chunk_blocks(), chunk > 0 ? chunk : n_blocks);  // the default, at most n_blocks
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
              if (b > 0 && c.follows_in_memory(b - 1, b)) {
                const uint8_t* prev = keys ? c.k_head(l, b - 1, h) : c.v_head(l, b - 1, h);
                EXPECT_EQ(p, prev + run) << "chunk " << chunk << " block " << b;
              }
            }
          }
        }
        std::sort(runs.begin(), runs.end());
        EXPECT_EQ(runs.front().first, 0);
        for (size_t i = 1; i < runs.size(); ++i) EXPECT_EQ(runs[i].first, runs[i - 1].second);
        EXPECT_EQ(runs.back().second, layers * n_blocks * heads * run);
      }
      const int64_t per_chunk = c.chunk_blocks();
      for (int32_t b = 1; b < n_blocks; ++b)
        EXPECT_EQ(c.follows_in_memory(b - 1, b), b % per_chunk != 0) << chunk << " " << b;
      EXPECT_FALSE(c.follows_in_memory(2, 4));
      EXPECT_FALSE(c.follows_in_memory(3, 2));
    }
}

// Blocks handed out across chunk boundaries are written and read back where k_at / v_at say, each
// block's rows its own (a chunk faulted in ahead is written like any other), every byte of a row.
TEST(kv_cache, rows_written_across_chunks_read_back) {
  const int64_t layers = 2, heads = 2, d = 32, tpb = 2;
  for (const auto fmt : {kernels::kv_format::f16, kernels::kv_format::q8_0}) {
    SCOPED_TRACE(kernels::kv_format_name(fmt));
    kv_cache c(layers, heads, heads * d, heads * d, tpb, 9, 2, 18, 2, fmt);
    ASSERT_TRUE(c.reserve(0, 11).ok());  // blocks 0-5: three chunks
    ASSERT_TRUE(c.reserve(1, 5).ok());   // blocks 6-8: the next two chunks
    const int64_t row = c.k_row_bytes();
    const auto tag = [](int64_t l, int s, int64_t pos, int64_t h, int64_t e, int kv) {
      return static_cast<uint8_t>((((((l * 2 + s) * 16 + pos) * 2 + h) * 67 + e) * 2 + kv) % 251);
    };
    const int64_t len[2] = {11, 5};
    for (int s = 0; s < 2; ++s)
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t pos = 0; pos < len[s]; ++pos)
          for (int64_t h = 0; h < heads; ++h)
            for (int64_t e = 0; e < row; ++e) {
              c.k_at(l, s, pos, h)[e] = tag(l, s, pos, h, e, 0);
              c.v_at(l, s, pos, h)[e] = tag(l, s, pos, h, e, 1);
            }
    for (int s = 0; s < 2; ++s)
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t pos = 0; pos < len[s]; ++pos)
          for (int64_t h = 0; h < heads; ++h)
            for (int64_t e = 0; e < row; ++e) {
              ASSERT_EQ(c.k_at(l, s, pos, h)[e], tag(l, s, pos, h, e, 0));
              ASSERT_EQ(c.v_at(l, s, pos, h)[e], tag(l, s, pos, h, e, 1));
            }
  }
}

}  // namespace
}  // namespace uma::model
