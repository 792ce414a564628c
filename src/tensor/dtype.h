// Weight and activation element types, with the numeric ids GGUF files use (ggml's type ids), so
// files from the ecosystem load. Sizes of every id seen in the wild are known so that `uma inspect`
// can describe any file, even one whose format uma cannot compute with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace uma {

enum class dtype : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct dtype_traits {
  dtype type;
  std::string_view name;  // lower-case, as `--type` spells it: "q4_k", "bf16", ...
  uint32_t block_elems;   // elements per block (1 for plain types)
  uint32_t block_bytes;   // bytes per block
  bool quantized;
  bool codec;            // uma has a reference quantize/dequantize for it (see tensor/quant.h)
  bool dequant = codec;  // uma can at least dequantize it (codec, or dequant-only like q2_k, q3_k)
};

// nullptr for an id uma does not know (a GGUF with it is rejected).
const dtype_traits* find_dtype(uint32_t id);
const dtype_traits& traits(dtype t);
// Parses "q4_k", "Q4_K", "q4_k_m"-style names are NOT types (see quantize presets); nullopt if
// unknown.
std::optional<dtype> dtype_from_name(std::string_view name);
inline std::string_view dtype_name(dtype t) {
  return traits(t).name;
}
// dequantize_row works for t (every codec type, plus dequant-only formats such as q2_k / q3_k).
inline bool can_dequantize(dtype t) {
  return traits(t).dequant;
}
// quantize_row works for t.
inline bool can_quantize(dtype t) {
  return traits(t).codec;
}

// Bytes for `n` elements (n must be a multiple of block_elems; returns nullopt otherwise or on
// overflow).
std::optional<uint64_t> bytes_for(dtype t, uint64_t n);
// Bits per weight, e.g. 4.5 for q4_0.
inline double bits_per_weight(dtype t) {
  const auto& tr = traits(t);
  return 8.0 * tr.block_bytes / tr.block_elems;
}

}  // namespace uma
