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
    case dtype::q4_1:
      return {qk32, 2, 4};
    case dtype::q5_0:
      return {qk32, 1, 5};
    case dtype::q5_1:
      return {qk32, 2, 5};
    case dtype::q8_0:
      return {qk32, 1, 8};
    case dtype::q2_k:
      return {qk_k, 2, 20, true};
    case dtype::q3_k:
      return {qk_k, 1, 27, true};
    case dtype::q4_k:
      return {qk_k, 2, 35};
    case dtype::q5_k:
      return {qk_k, 2, 43};
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
// One x16 group (16 rows from `rows`, row_bytes apart, nb blocks each) to `out`, for a format of
// H halves and W words (halves last where HL). Each half and each fourth word onward comes from a
// gather of the 16 rows; each 4 words are a 16 x 4 dword transpose: z[r] holds rows r, r + 4,
// r + 8, r + 12 in its 128-bit lanes, and two rounds of unpacks leave word k + j of row 4L + i at
// dword 4L + i of output j, the x16 order.
//
// Prefill interleaves every weight row on the fly, straight from DRAM, and the 16 rows read in
// step starve the hardware prefetchers (7 GB/s for a Q4_0 group from DRAM, 25 in cache). So a
// group first requests its own lines where `own` (the first group of a call) and spreads requests
// for `next` (the group after it in the call, if any) over its blocks: ~17 GB/s from DRAM
// (docs/performance.md).
template <int H, int W, bool HL>
__attribute__((target("avx512f,avx512bw"))) void group_x16(const uint8_t* rows, size_t row_bytes,
                                                           int64_t nb, uint8_t* out, bool own,
                                                           const uint8_t* next) {
  constexpr int block_bytes = 2 * H + 4 * W, half_at = HL ? 4 * W : 0, word_at = HL ? 0 : 2 * H;
  const size_t lines = 16 * row_bytes / 64;
  if (own)
    for (size_t l = 0; l < lines; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(rows) + 64 * l, _MM_HINT_T0);
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(row_bytes)));
  size_t sent = 0;
  for (int64_t b = 0; b < nb; ++b) {
    if (next != nullptr)
      for (const size_t want = static_cast<size_t>(b + 1) * lines / static_cast<size_t>(nb);
           sent < want; ++sent)
        _mm_prefetch(reinterpret_cast<const char*>(next) + 64 * sent, _MM_HINT_T0);
    const uint8_t* in = rows + b * block_bytes;
    uint8_t* o = out + b * 16 * block_bytes;
    for (int h = 0; h < H; ++h) {  // a trailing half is the top of the dword that ends at it
      __m512i g = _mm512_i32gather_epi32(idx, in + half_at + 2 * h - (HL ? 2 : 0), 1);
      if (HL) g = _mm512_srli_epi32(g, 16);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16 * half_at + 32 * h),
                          _mm512_cvtepi32_epi16(g));
    }
    constexpr int w4 = W / 4 * 4;  // words in 4s, then one by one
    for (int k = 0; k < w4; k += 4) {
      const uint8_t* src = in + word_at + 4 * k;
      const auto row = [&](int m) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + m * row_bytes));
      };
      __m512i z[4];
      for (int r = 0; r < 4; ++r) {
        __m512i v = _mm512_castsi128_si512(row(r));
        v = _mm512_inserti32x4(v, row(r + 4), 1);
        v = _mm512_inserti32x4(v, row(r + 8), 2);
        z[r] = _mm512_inserti32x4(v, row(r + 12), 3);
      }
      const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]);
      const __m512i t1 = _mm512_unpackhi_epi32(z[0], z[1]);
      const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]);
      const __m512i t3 = _mm512_unpackhi_epi32(z[2], z[3]);
      uint8_t* d = o + 16 * word_at + 64 * k;
      _mm512_storeu_si512(d, _mm512_unpacklo_epi64(t0, t2));
      _mm512_storeu_si512(d + 64, _mm512_unpackhi_epi64(t0, t2));
      _mm512_storeu_si512(d + 128, _mm512_unpacklo_epi64(t1, t3));
      _mm512_storeu_si512(d + 192, _mm512_unpackhi_epi64(t1, t3));
    }
    for (int k = w4; k < W; ++k)
      _mm512_storeu_si512(o + 16 * word_at + 64 * k,
                          _mm512_i32gather_epi32(idx, in + word_at + 4 * k, 1));
  }
}
#pragma GCC diagnostic pop

using group_fn = void (*)(const uint8_t*, size_t, int64_t, uint8_t*, bool, const uint8_t*);

group_fn group_x16_for(dtype t) {
  switch (t) {
    case dtype::q4_0:
      return group_x16<1, 4, false>;
    case dtype::q4_1:
      return group_x16<2, 4, false>;
    case dtype::q5_0:
      return group_x16<1, 5, false>;
    case dtype::q5_1:
      return group_x16<2, 5, false>;
    case dtype::q8_0:
      return group_x16<1, 8, false>;
    case dtype::q2_k:
      return group_x16<2, 20, true>;
    case dtype::q3_k:
      return group_x16<1, 27, true>;
    case dtype::q4_k:
      return group_x16<2, 35, false>;
    case dtype::q5_k:
      return group_x16<2, 43, false>;
    case dtype::q6_k:
      return group_x16<1, 52, true>;
    default:
      return nullptr;
  }
}
#endif

void interleave(const matrix_view& w, void* dst, thread_pool* pool) {
  if (!x16_shape_ok(w)) return;
  const x16_format f = x16_format_of(w.type);
  const int64_t nb = w.cols / f.block_elems, groups = w.rows / 16;
  const size_t block_bytes = static_cast<size_t>(2 * f.halves + 4 * f.words);
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<uint8_t*>(dst);
  // Groups [a, e): block by block, each output group-block written in order (16 rows' field k side
  // by side), so the stores stream and the 16 source rows are each read forward.
  auto run_groups = [&](int64_t a, int64_t e) {
    for (int64_t g = a; g < e; ++g) {
      const uint8_t* rows = src + static_cast<size_t>(g * 16) * w.row_bytes;
      uint8_t* o = out + static_cast<size_t>(g * nb) * 16 * block_bytes;
#if defined(__x86_64__)
      if (cpu().avx512) {
        group_x16_for(w.type)(rows, w.row_bytes, nb, o, g == a,
                              g + 1 < e ? rows + 16 * w.row_bytes : nullptr);
        continue;
      }
#endif
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* ob = o + static_cast<size_t>(b) * 16 * block_bytes;
        const uint8_t* in = rows + b * block_bytes;
        for (int h = 0; h < f.halves; ++h)
          for (int m = 0; m < 16; ++m)
            std::memcpy(ob + 16 * f.half_at() + 32 * h + 2 * m,
                        in + m * w.row_bytes + f.half_at() + 2 * h, 2);
        for (int k = 0; k < f.words; ++k)
          for (int m = 0; m < 16; ++m)
            std::memcpy(ob + 16 * f.word_at() + 64 * k + 4 * m,
                        in + m * w.row_bytes + f.word_at() + 4 * k, 4);
      }
    }
  };
  if (pool != nullptr && groups > 1)
    pool->parallel_for(groups, 1, [&](int, int64_t a, int64_t e) { run_groups(a, e); });
  else
    run_groups(0, groups);
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
  b.matvec_x16[static_cast<size_t>(dtype::q4_1)] = matvec_x16<dtype::q4_1>;
  b.matvec_x16[static_cast<size_t>(dtype::q5_0)] = matvec_x16<dtype::q5_0>;
  b.matvec_x16[static_cast<size_t>(dtype::q5_1)] = matvec_x16<dtype::q5_1>;
  b.matvec_x16[static_cast<size_t>(dtype::q8_0)] = matvec_x16<dtype::q8_0>;
  b.matvec_x16[static_cast<size_t>(dtype::q2_k)] = matvec_x16<dtype::q2_k>;
  b.matvec_x16[static_cast<size_t>(dtype::q3_k)] = matvec_x16<dtype::q3_k>;
  b.matvec_x16[static_cast<size_t>(dtype::q4_k)] = matvec_x16<dtype::q4_k>;
  b.matvec_x16[static_cast<size_t>(dtype::q5_k)] = matvec_x16<dtype::q5_k>;
  b.matvec_x16[static_cast<size_t>(dtype::q6_k)] = matvec_x16<dtype::q6_k>;
}

}  // namespace ref

}  // namespace uma::kernels
