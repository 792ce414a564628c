// AMX tile operations for the amx matmul backend, as thin wrappers over the intrinsics, or (with
// UMA_AMX_EMULATE) as a scalar model of the same instructions on a thread-local tile file, so the
// backend's layouts and loops run and are tested on CPUs without AMX (the `amx-emulated` backend:
// same source, AVX-512 for everything but the tiles). The model follows Intel's pseudo-code:
//   TDPBUSD / TDPBSSD: C[m][n] (int32) += sum over k of the four products of A's bytes 4k..4k+3
//     of row m (unsigned / signed) with B's row k bytes 4n..4n+3 (signed), wrapping.
//   TDPBF16PS: C[m][n] (fp32) += A[m][2k] * B[k][2n], then += A[m][2k+1] * B[k][2n+1], for each
//     pair k in order (bf16 products are exact in fp32; denormals are flushed, as the hardware
//     does, which random test data never reaches).
// Rows and bytes per row come from the tile configuration, as on the hardware.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace amx {

struct alignas(64) tile_config {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

#if defined(UMA_AMX_EMULATE)

struct tile_file {
  alignas(64) uint8_t t[8][16][64];
  int rows[8];
  int colsb[8];
};
inline thread_local tile_file tiles{};

inline void config(const tile_config& c) {
  for (int t = 0; t < 8; ++t) tiles.rows[t] = c.rows[t], tiles.colsb[t] = c.colsb[t];
  std::memset(tiles.t, 0, sizeof(tiles.t));
}
inline void release() {}
template <int T>
inline void load(const void* p, size_t stride) {
  std::memset(tiles.t[T], 0, sizeof(tiles.t[T]));
  for (int r = 0; r < tiles.rows[T]; ++r)
    std::memcpy(tiles.t[T][r], static_cast<const uint8_t*>(p) + r * stride,
                static_cast<size_t>(tiles.colsb[T]));
}
template <int T>
inline void store(void* p, size_t stride) {
  for (int r = 0; r < tiles.rows[T]; ++r)
    std::memcpy(static_cast<uint8_t*>(p) + r * stride, tiles.t[T][r],
                static_cast<size_t>(tiles.colsb[T]));
}
template <int T>
inline void zero() {
  std::memset(tiles.t[T], 0, sizeof(tiles.t[T]));
}
template <int C, int A, int B, bool SignedA>
inline void dp_int8() {
  for (int m = 0; m < tiles.rows[C]; ++m)
    for (int n = 0; n < tiles.colsb[C] / 4; ++n) {
      int32_t c;
      std::memcpy(&c, &tiles.t[C][m][4 * n], 4);
      uint32_t acc = static_cast<uint32_t>(c);
      for (int k = 0; k < tiles.colsb[A] / 4; ++k)
        for (int i = 0; i < 4; ++i) {
          const int32_t a = SignedA ? static_cast<int8_t>(tiles.t[A][m][4 * k + i])
                                    : static_cast<int32_t>(tiles.t[A][m][4 * k + i]);
          const int32_t b = static_cast<int8_t>(tiles.t[B][k][4 * n + i]);
          acc += static_cast<uint32_t>(a * b);
        }
      c = static_cast<int32_t>(acc);
      std::memcpy(&tiles.t[C][m][4 * n], &c, 4);
    }
}
template <int C, int A, int B>
inline void dpbusd() {
  dp_int8<C, A, B, false>();
}
template <int C, int A, int B>
inline void dpbssd() {
  dp_int8<C, A, B, true>();
}
inline float bf16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
template <int C, int A, int B>
inline void dpbf16ps() {
  for (int m = 0; m < tiles.rows[C]; ++m)
    for (int n = 0; n < tiles.colsb[C] / 4; ++n) {
      float c;
      std::memcpy(&c, &tiles.t[C][m][4 * n], 4);
      for (int k = 0; k < tiles.colsb[A] / 4; ++k) {
        c += bf16_at(&tiles.t[A][m][4 * k]) * bf16_at(&tiles.t[B][k][4 * n]);
        c += bf16_at(&tiles.t[A][m][4 * k + 2]) * bf16_at(&tiles.t[B][k][4 * n + 2]);
      }
      std::memcpy(&tiles.t[C][m][4 * n], &c, 4);
    }
}

#else

// GCC 12's _tile_loadconfig declares only 8 bytes of the config as read, so the stores of the
// rest are dropped as dead: name the whole struct as the asm operand instead.
inline void config(const tile_config& c) {
  asm volatile("ldtilecfg %0" : : "m"(c));
}
inline void release() {
  _tile_release();
}
// GCC's _tile_* macros paste the tile number into the instruction text, so they take literals
// only; these name the tile with an immediate operand (%c: the bare number) and tell the compiler
// that loads and stores touch memory.
template <int T>
inline void load(const void* p, size_t stride) {
  asm volatile("{tileloadd (%0,%1,1), %%tmm%c2|tileloadd %%tmm%c2, [%0+%1*1]}"
               :
               : "r"(p), "r"(stride), "i"(T)
               : "memory");
}
template <int T>
inline void store(void* p, size_t stride) {
  asm volatile("{tilestored %%tmm%c2, (%0,%1,1)|tilestored [%0+%1*1], %%tmm%c2}"
               :
               : "r"(p), "r"(stride), "i"(T)
               : "memory");
}
template <int T>
inline void zero() {
  asm volatile("tilezero %%tmm%c0" : : "i"(T));
}
template <int C, int A, int B>
inline void dpbusd() {
  asm volatile("{tdpbusd %%tmm%c2, %%tmm%c1, %%tmm%c0|tdpbusd %%tmm%c0, %%tmm%c1, %%tmm%c2}"
               :
               : "i"(C), "i"(A), "i"(B));
}
template <int C, int A, int B>
inline void dpbssd() {
  asm volatile("{tdpbssd %%tmm%c2, %%tmm%c1, %%tmm%c0|tdpbssd %%tmm%c0, %%tmm%c1, %%tmm%c2}"
               :
               : "i"(C), "i"(A), "i"(B));
}
template <int C, int A, int B>
inline void dpbf16ps() {
  asm volatile("{tdpbf16ps %%tmm%c2, %%tmm%c1, %%tmm%c0|tdpbf16ps %%tmm%c0, %%tmm%c1, %%tmm%c2}"
               :
               : "i"(C), "i"(A), "i"(B));
}

#endif

}  // namespace amx
