// The x16 weight layout (matmul.h): conversion from and to GGUF's row layout, and the scalar
// reference product over it (the dot of each de-interleaved row, exactly the rows-layout
// reference), which the scalar backend registers and every other backend is tested against.
//
// A format's block is H 16-bit fields (scales) and D 32-bit words, the halves first (Q4_0, Q4_K)
// or last (Q6_K); its x16 group-block holds, for 16 rows, each field as 16 halves and each word as
// 16 dwords, in the block's order.
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/backend.h"
#include "kernels/matmul.h"
#include "kernels/ref/scalar.h"
#include "tensor/blocks.h"
#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace uma::kernels {

namespace {

struct x16_format {
  int64_t block_elems = 0;
  int halves = 0, words = 0;  // block = halves x 2 bytes and words x 4 bytes
  bool halves_last = false;   // the words come first
  int half_at() const { return halves_last ? 4 * words : 0; }  // byte offsets in the block
  int word_at() const { return halves_last ? 0 : 2 * halves; }
};

// The formats with an x16 layout (block_elems == 0 for the rest).
x16_format x16_format_of(dtype t) {
  switch (t) {
    case dtype::q4_0:
      return {qk32, 1, 4};
    case dtype::q5_0:
      return {qk32, 1, 5};
    case dtype::q8_0:
      return {qk32, 1, 8};
    case dtype::q4_k:
      return {qk_k, 2, 35};
    case dtype::q6_k:
      return {qk_k, 1, 52, true};
    default:
      return {};
  }
}

bool x16_shape_ok(const matrix_view& w) {
  const x16_format f = x16_format_of(w.type);
  if (f.block_elems == 0) return false;
  const size_t block_bytes = static_cast<size_t>(2 * f.halves + 4 * f.words);
  return w.rows > 0 && w.rows % 16 == 0 && w.cols > 0 && w.cols % f.block_elems == 0 &&
         w.row_bytes == static_cast<size_t>(w.cols / f.block_elems) * block_bytes;
}

}  // namespace

bool x16_layout_fits(const matrix_view& w) {
  return w.layout == weight_layout::rows && x16_shape_ok(w);
}

bool interleave_supported(const matrix_view& w) {
  if (w.layout != weight_layout::rows || !x16_shape_ok(w)) return false;
  const auto ti = static_cast<size_t>(w.type);
  const gemm_fn native = best_backend().matvec_x16[ti];
  return native != nullptr && native != scalar_backend().matvec_x16[ti];
}

#if defined(__x86_64__)
// GCC 12's AVX-512 unpack intrinsics read an intentionally undefined register (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Words [k, k + 4) of 16 rows (row m's block at in + m * row_bytes) to the x16 group-block: a
// 16 x 4 dword transpose. Z[r] holds rows r, r + 4, r + 8, r + 12 in its 128-bit lanes; two rounds
// of unpacks leave word k + j of row 4L + i at dword 4L + i of output j, the x16 order.
__attribute__((target("avx512f"))) void words4_x16(const uint8_t* in, size_t row_bytes,
                                                   uint8_t* o) {
  __m512i z[4];
  for (int r = 0; r < 4; ++r) {
    const auto row = [&](int m) {
      return _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + m * row_bytes));
    };
    __m512i v = _mm512_castsi128_si512(row(r));
    v = _mm512_inserti32x4(v, row(r + 4), 1);
    v = _mm512_inserti32x4(v, row(r + 8), 2);
    z[r] = _mm512_inserti32x4(v, row(r + 12), 3);
  }
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]), t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]), t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  _mm512_storeu_si512(o, _mm512_unpacklo_epi64(t0, t2));
  _mm512_storeu_si512(o + 64, _mm512_unpackhi_epi64(t0, t2));
  _mm512_storeu_si512(o + 128, _mm512_unpacklo_epi64(t1, t3));
  _mm512_storeu_si512(o + 192, _mm512_unpackhi_epi64(t1, t3));
}
#pragma GCC diagnostic pop
#endif

void interleave(const matrix_view& w, void* dst, thread_pool* pool) {
  if (!x16_shape_ok(w)) return;
  const x16_format f = x16_format_of(w.type);
  const int64_t nb = w.cols / f.block_elems, groups = w.rows / 16;
  const size_t block_bytes = static_cast<size_t>(2 * f.halves + 4 * f.words);
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<uint8_t*>(dst);
  // Block by block, each output group-block written in order (16 rows' field k side by side):
  // the stores stream and the 16 source rows are each read forward. Prefill interleaves every
  // weight row on the fly: the scalar word copy alone was 6.6 % of a qwen3-0.6b Q4_0 pp512.
#if defined(__x86_64__)
  const bool wide = cpu().avx512;
#endif
  auto one_group = [&](int64_t g) {
    const uint8_t* rows = src + static_cast<size_t>(g * 16) * w.row_bytes;
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* o = out + static_cast<size_t>(g * nb + b) * 16 * block_bytes;
      const uint8_t* in = rows + b * block_bytes;
      for (int h = 0; h < f.halves; ++h)
        for (int m = 0; m < 16; ++m)
          std::memcpy(o + 16 * f.half_at() + 32 * h + 2 * m,
                      in + m * w.row_bytes + f.half_at() + 2 * h, 2);
      int k = 0;
#if defined(__x86_64__)
      if (wide)  // 4 words of 16 rows at a time
        for (; k + 4 <= f.words; k += 4)
          words4_x16(in + f.word_at() + 4 * k, w.row_bytes, o + 16 * f.word_at() + 64 * k);
#endif
      for (; k < f.words; ++k)
        for (int m = 0; m < 16; ++m)
          std::memcpy(o + 16 * f.word_at() + 64 * k + 4 * m,
                      in + m * w.row_bytes + f.word_at() + 4 * k, 4);
    }
  };
  if (pool != nullptr && groups > 1)
    pool->parallel_for(groups, 1, [&](int, int64_t a, int64_t e) {
      for (int64_t g = a; g < e; ++g) one_group(g);
    });
  else
    for (int64_t g = 0; g < groups; ++g) one_group(g);
}

void deinterleave_row(const matrix_view& w, int64_t r, void* dst) {
  const x16_format f = x16_format_of(w.type);
  if (f.block_elems == 0) return;
  const int64_t nb = w.cols / f.block_elems;
  const size_t block_bytes = static_cast<size_t>(2 * f.halves + 4 * f.words);
  const auto* group = static_cast<const uint8_t*>(w.data) + (r / 16) * nb * 16 * block_bytes;
  const int m = static_cast<int>(r % 16);
  auto* row = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* o = group + static_cast<size_t>(b) * 16 * block_bytes;
    uint8_t* out = row + b * block_bytes;
    for (int h = 0; h < f.halves; ++h)
      std::memcpy(out + f.half_at() + 2 * h, o + 16 * f.half_at() + 32 * h + 2 * m, 2);
    for (int k = 0; k < f.words; ++k)
      std::memcpy(out + f.word_at() + 4 * k, o + 16 * f.word_at() + 64 * k + 4 * m, 4);
  }
}

namespace ref {

// Scalar reference over x16 tiles: de-interleave each row, then the rows-layout dot.
template <dtype T>
void matvec_x16(const gemm_args& g) {
  const matrix_view v{T, g.w, g.rows, g.cols, g.w_row_bytes, weight_layout::x16};
  thread_local std::vector<uint8_t> row;
  row.resize(g.w_row_bytes);
  for (int64_t r = 0; r < g.rows; ++r) {
    deinterleave_row(v, r, row.data());
    for (int64_t c = 0; c < g.n; ++c)
      g.y[c * g.ldy + r] = dot_row(T, row.data(), g.a + c * g.a_row_bytes, g.cols);
  }
}

void fill_x16_table(matmul_backend& b) {
  b.matvec_x16[static_cast<size_t>(dtype::q4_0)] = matvec_x16<dtype::q4_0>;
  b.matvec_x16[static_cast<size_t>(dtype::q5_0)] = matvec_x16<dtype::q5_0>;
  b.matvec_x16[static_cast<size_t>(dtype::q8_0)] = matvec_x16<dtype::q8_0>;
  b.matvec_x16[static_cast<size_t>(dtype::q4_k)] = matvec_x16<dtype::q4_k>;
  b.matvec_x16[static_cast<size_t>(dtype::q6_k)] = matvec_x16<dtype::q6_k>;
}

}  // namespace ref

}  // namespace uma::kernels
