// Small helpers shared by the reference codecs (quant_legacy.cpp, quant_k.cpp): rounding the way
// ggml rounds, and block loads/stores that tolerate any byte alignment of the quantized data.
#pragma once

#include <cstdint>
#include <cstring>

namespace uma::quant_detail {

// Round to nearest, ties to even (ggml's nearest_int), for |x| < 2^22. Callers clamp first.
inline int nearest_int(float x) {
  const float magic =
      12582912.0f;  // 1.5 * 2^23: adding it leaves the rounded integer in the mantissa
  float shifted = x + magic;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

// v clamped to [lo, hi]; NaN maps to lo.
inline float clampf(float v, float lo, float hi) {
  return !(v >= lo) ? lo : (v > hi ? hi : v);
}

// Rounds v to the nearest integer in [lo, hi]; NaN maps to lo.
inline int round_clamped(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v > static_cast<float>(hi)) return hi;
  return nearest_int(v);
}

// Block i of an unaligned byte stream, copied out / in.
template <class B>
inline B load_block(const void* base, int64_t i) {
  B b;
  std::memcpy(&b, static_cast<const unsigned char*>(base) + i * static_cast<int64_t>(sizeof(B)),
              sizeof(B));
  return b;
}
template <class B>
inline void store_block(void* base, int64_t i, const B& b) {
  std::memcpy(static_cast<unsigned char*>(base) + i * static_cast<int64_t>(sizeof(B)), &b,
              sizeof(B));
}

}  // namespace uma::quant_detail
