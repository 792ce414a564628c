// Quantized block layouts, byte-for-byte as GGUF files store them (ggml's block_* structs).
// Half-precision scales are kept as raw uint16_t bits (see tensor/half.h).
#pragma once

#include <cstdint>

namespace uma {

inline constexpr int qk32 = 32;   // elements per block of the "legacy" formats
inline constexpr int qk_k = 256;  // elements per super-block of the K formats
inline constexpr int k_scale_size = 12;

struct block_q4_0 {
  uint16_t d;            // scale
  uint8_t qs[qk32 / 2];  // nibbles: element j in low nibble of qs[j], j+16 in high nibble
};
static_assert(sizeof(block_q4_0) == 18);

struct block_q4_1 {
  uint16_t d;  // scale
  uint16_t m;  // min
  uint8_t qs[qk32 / 2];
};
static_assert(sizeof(block_q4_1) == 20);

struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];  // 5th bit of each element
  uint8_t qs[qk32 / 2];
};
static_assert(sizeof(block_q5_0) == 22);

struct block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[qk32 / 2];
};
static_assert(sizeof(block_q5_1) == 24);

struct block_q8_0 {
  uint16_t d;
  int8_t qs[qk32];
};
static_assert(sizeof(block_q8_0) == 34);

struct block_q8_1 {
  uint16_t d;  // scale
  uint16_t s;  // d * sum(qs)
  int8_t qs[qk32];
};
static_assert(sizeof(block_q8_1) == 36);

struct block_q2_k {
  uint8_t scales[qk_k / 16];  // 4-bit scales and mins
  uint8_t qs[qk_k / 4];       // 2-bit quants
  uint16_t d;
  uint16_t dmin;
};
static_assert(sizeof(block_q2_k) == 84);

struct block_q3_k {
  uint8_t hmask[qk_k / 8];  // high bit
  uint8_t qs[qk_k / 4];     // low 2 bits
  uint8_t scales[12];       // 6-bit scales
  uint16_t d;
};
static_assert(sizeof(block_q3_k) == 110);

struct block_q4_k {
  uint16_t d;                    // super-block scale for the scales
  uint16_t dmin;                 // super-block scale for the mins
  uint8_t scales[k_scale_size];  // 8 x (6-bit scale, 6-bit min)
  uint8_t qs[qk_k / 2];          // 4-bit quants
};
static_assert(sizeof(block_q4_k) == 144);

struct block_q5_k {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[k_scale_size];
  uint8_t qh[qk_k / 8];  // high bit
  uint8_t qs[qk_k / 2];  // low 4 bits
};
static_assert(sizeof(block_q5_k) == 176);

struct block_q6_k {
  uint8_t ql[qk_k / 2];      // low 4 bits
  uint8_t qh[qk_k / 4];      // high 2 bits
  int8_t scales[qk_k / 16];  // 8-bit scales
  uint16_t d;
};
static_assert(sizeof(block_q6_k) == 210);

struct block_q8_k {
  float d;
  int8_t qs[qk_k];
  int16_t bsums[qk_k / 16];  // sums of groups of 16
};
static_assert(sizeof(block_q8_k) == 292);

}  // namespace uma
