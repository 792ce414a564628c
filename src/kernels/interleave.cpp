// The x16 weight layout (matmul.h): conversion from and to GGUF's row layout, and the scalar
// reference product over it (the dot of each de-interleaved row, exactly the rows-layout
// reference), which the scalar backend registers and every other backend is tested against.
//
// A format's block is H 16-bit fields (scales) and D 32-bit words, the halves first (Q4_0, Q4_K)
// or last (Q6_K); its x16 group-block holds, for 16 rows, each field as 16 halves and each word as
// 16 dwords, in the block's order.
#include <array>
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

bool repack_faster(const matrix_view& w) {
  const auto ti = static_cast<size_t>(w.type);
  return interleave_supported(w) && ti < max_dtype_id && best_backend().repack_faster[ti];
}

#if defined(__x86_64__)
// GCC 12's AVX-512 unpack intrinsics read an intentionally undefined register (false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// A group's own lines, up front (`own`), and its share for block b of the next group's lines,
// spread over its nb blocks (`sent` of them requested so far): see group_x16.
inline void request_group(const uint8_t* rows, size_t lines) {
  for (size_t l = 0; l < lines; ++l)
    _mm_prefetch(reinterpret_cast<const char*>(rows) + 64 * l, _MM_HINT_T0);
}
inline void request_share(const uint8_t* next, size_t lines, int64_t nb, int64_t b, size_t& sent) {
  if (next == nullptr) return;
  for (const size_t want = static_cast<size_t>(b + 1) * lines / static_cast<size_t>(nb);
       sent < want; ++sent)
    _mm_prefetch(reinterpret_cast<const char*>(next) + 64 * sent, _MM_HINT_T0);
}

// The 16 halves at h, h + row_bytes, .. h + 15 row_bytes, stored side by side at o. Scalar
// loads packed four to a qword: a vector gather of them took half of the Q4_0 copy's time
// (bench_matmul interleave q4_0, in L2, one thread: 37-38 -> 43-46 GB/s this way).
inline void copy_halves16(const uint8_t* h, size_t row_bytes, uint8_t* o) {
  uint64_t q[4];
  for (int k = 0; k < 4; ++k) {
    uint64_t v = 0;
    for (int m = 0; m < 4; ++m) {
      uint16_t x;
      std::memcpy(&x, h + static_cast<size_t>(4 * k + m) * row_bytes, 2);
      v |= static_cast<uint64_t>(x) << (16 * m);
    }
    q[k] = v;
  }
  std::memcpy(o, q, sizeof(q));
}

// The x16 copy of 16 rows (row_bytes apart) is a 16 x 4 dword transpose per 4 dwords of a block:
// z[r] holds rows r, r + 4, r + 8, r + 12 in its 128-bit lanes, and two rounds of unpacks leave
// dword k + j of row 4L + i at dword 4L + i of col[j], the x16 order. With n < 4 the loads are
// masked to n dwords (nothing past them is read: the matrix may end there).
template <int N>
[[gnu::always_inline]] __attribute__((target("avx512f,avx512bw,avx512vl"))) inline void
transpose16x4(const uint8_t* src, size_t row_bytes, __m512i col[4]) {
  __m128i q[16];
#pragma GCC unroll 16
  for (int m = 0; m < 16; ++m) {
    const uint8_t* p = src + m * row_bytes;
    if constexpr (N == 4)
      q[m] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    else
      q[m] = _mm_maskz_loadu_epi32(static_cast<__mmask8>((1u << N) - 1), p);
  }
  __m512i z[4];
  for (int r = 0; r < 4; ++r) {
    __m512i v = _mm512_castsi128_si512(q[r]);
    v = _mm512_inserti32x4(v, q[r + 4], 1);
    v = _mm512_inserti32x4(v, q[r + 8], 2);
    z[r] = _mm512_inserti32x4(v, q[r + 12], 3);
  }
  const __m512i t0 = _mm512_unpacklo_epi32(z[0], z[1]);
  const __m512i t1 = _mm512_unpackhi_epi32(z[0], z[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(z[2], z[3]);
  const __m512i t3 = _mm512_unpackhi_epi32(z[2], z[3]);
  col[0] = _mm512_unpacklo_epi64(t0, t2), col[1] = _mm512_unpackhi_epi64(t0, t2);
  col[2] = _mm512_unpacklo_epi64(t1, t3), col[3] = _mm512_unpackhi_epi64(t1, t3);
}

// D dwords of a block from 16 rows at in to the group-block at o (dword i of the 16 rows at bytes
// 64 i), except that dword HD (if in range), which holds the block's two halves, is split by one
// vpermw into the 16 first halves, then the 16 second ones (the x16 order).
template <int D, int HD, int K = 0>
[[gnu::always_inline]] __attribute__((target("avx512f,avx512bw,avx512vl"))) inline void copy_dwords(
    const uint8_t* in, size_t row_bytes, uint8_t* o, __m512i split_idx) {
  if constexpr (K < D) {
    constexpr int n = D - K < 4 ? D - K : 4;
    __m512i col[4];
    transpose16x4<n>(in + 4 * K, row_bytes, col);
#pragma GCC unroll 4
    for (int j = 0; j < n; ++j)
      _mm512_storeu_si512(o + 64 * (K + j),
                          K + j == HD ? _mm512_permutexvar_epi16(split_idx, col[j]) : col[j]);
    copy_dwords<D, HD, K + 4>(in, row_bytes, o, split_idx);
  }
}

// One x16 group (16 rows from `rows`, row_bytes apart, nb blocks each) to `out`, for a format of
// H halves and W words (halves last where HL), by copy_dwords: the words, and where H == 2 the
// halves as one more dword (Q4_1, Q5_1, Q4_K, Q5_K first, Q2_K last); a single half (Q4_0, Q5_0,
// Q8_0, Q3_K, Q6_K) from copy_halves16. (Gathers for the halves and the words past the last
// four: Q4_K 25-33 GB/s in L2 against 59-65 this way, Q5_1 20 against 46-49.)
//
// Prefill interleaves every weight row on the fly, straight from DRAM, and the 16 rows read in
// step starve the hardware prefetchers (7 GB/s for a Q4_0 group from DRAM, 25 in cache). So a
// group first requests its own lines where `own` (the first group of a call) and spreads requests
// for `next` (the group after it in the call, if any) over its blocks: ~17 GB/s from DRAM
// (docs/performance.md).
template <int H, int W, bool HL>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void group_x16(const uint8_t* rows,
                                                                    size_t row_bytes, int64_t nb,
                                                                    uint8_t* out, bool own,
                                                                    const uint8_t* next) {
  constexpr int block_bytes = 2 * H + 4 * W, half_at = HL ? 4 * W : 0, word_at = HL ? 0 : 2 * H;
  const size_t lines = 16 * row_bytes / 64;
  if (own) request_group(rows, lines);
  alignas(64) static constexpr auto split = [] {
    std::array<int16_t, 32> t{};
    for (int i = 0; i < 16; ++i) t[i] = static_cast<int16_t>(2 * i), t[16 + i] = t[i] + 1;
    return t;
  }();
  const __m512i split_idx = _mm512_load_si512(split.data());
  size_t sent = 0;
  for (int64_t b = 0; b < nb; ++b) {
    request_share(next, lines, nb, b, sent);
    const uint8_t* in = rows + b * block_bytes;
    uint8_t* o = out + b * 16 * block_bytes;
    if constexpr (H == 2) {
      copy_dwords<W + 1, HL ? W : 0>(in, row_bytes, o, split_idx);
    } else {
      copy_halves16(in + half_at, row_bytes, o + 16 * half_at);
      copy_dwords<W, -1>(in + word_at, row_bytes, o + 16 * word_at, split_idx);
    }
  }
}

// The same copy in 256-bit registers, for CPUs without AVX-512 (before, they copied field by
// field in scalar code: ~5 GB/s, which halved batched decode through the x16 tiles). Each dword
// column of 16 rows is two ymm (rows 0..7, 8..15), each from an 8 x 4 transpose: z[r] holds rows
// r, r + 4 in its 128-bit lanes.
template <int N>
[[gnu::always_inline]] __attribute__((target("avx2"))) inline void transpose8x4(const uint8_t* src,
                                                                                size_t row_bytes,
                                                                                __m256i col[4]) {
  const __m128i valid = _mm_setr_epi32(N > 0 ? -1 : 0, N > 1 ? -1 : 0, N > 2 ? -1 : 0, 0);
  __m128i q[8];
#pragma GCC unroll 8
  for (int m = 0; m < 8; ++m) {
    const auto* p = reinterpret_cast<const int*>(src + m * row_bytes);
    if constexpr (N == 4)
      q[m] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    else
      q[m] = _mm_maskload_epi32(p, valid);  // reads nothing past the N dwords
  }
  __m256i z[4];
  for (int r = 0; r < 4; ++r)
    z[r] = _mm256_inserti128_si256(_mm256_castsi128_si256(q[r]), q[r + 4], 1);
  const __m256i t0 = _mm256_unpacklo_epi32(z[0], z[1]), t1 = _mm256_unpackhi_epi32(z[0], z[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(z[2], z[3]), t3 = _mm256_unpackhi_epi32(z[2], z[3]);
  col[0] = _mm256_unpacklo_epi64(t0, t2), col[1] = _mm256_unpackhi_epi64(t0, t2);
  col[2] = _mm256_unpacklo_epi64(t1, t3), col[3] = _mm256_unpackhi_epi64(t1, t3);
}

// 16 words (the low or, with Shift 16, the high half of each dword of lo then hi) as 32 bytes.
template <int Shift>
[[gnu::always_inline]] __attribute__((target("avx2"))) inline __m256i words16(__m256i lo,
                                                                              __m256i hi) {
  const __m256i m = _mm256_set1_epi32(0xFFFF);
  lo = Shift != 0 ? _mm256_srli_epi32(lo, Shift) : _mm256_and_si256(lo, m);
  hi = Shift != 0 ? _mm256_srli_epi32(hi, Shift) : _mm256_and_si256(hi, m);
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xD8);
}

template <int D, int HD, int K = 0>
[[gnu::always_inline]] __attribute__((target("avx2"))) inline void copy_dwords256(const uint8_t* in,
                                                                                  size_t row_bytes,
                                                                                  uint8_t* o) {
  if constexpr (K < D) {
    constexpr int n = D - K < 4 ? D - K : 4;
    __m256i lo[4], hi[4];
    transpose8x4<n>(in + 4 * K, row_bytes, lo);
    transpose8x4<n>(in + 4 * K + 8 * row_bytes, row_bytes, hi);
#pragma GCC unroll 4
    for (int j = 0; j < n; ++j) {
      auto* d = reinterpret_cast<__m256i*>(o + 64 * (K + j));
      if (K + j == HD) {
        _mm256_storeu_si256(d, words16<0>(lo[j], hi[j]));
        _mm256_storeu_si256(d + 1, words16<16>(lo[j], hi[j]));
      } else {
        _mm256_storeu_si256(d, lo[j]);
        _mm256_storeu_si256(d + 1, hi[j]);
      }
    }
    copy_dwords256<D, HD, K + 4>(in, row_bytes, o);
  }
}

template <int H, int W, bool HL>
__attribute__((target("avx2"))) void group_x16_256(const uint8_t* rows, size_t row_bytes,
                                                   int64_t nb, uint8_t* out, bool own,
                                                   const uint8_t* next) {
  constexpr int block_bytes = 2 * H + 4 * W, half_at = HL ? 4 * W : 0, word_at = HL ? 0 : 2 * H;
  const size_t lines = 16 * row_bytes / 64;
  if (own) request_group(rows, lines);
  size_t sent = 0;
  for (int64_t b = 0; b < nb; ++b) {
    request_share(next, lines, nb, b, sent);
    const uint8_t* in = rows + b * block_bytes;
    uint8_t* o = out + b * 16 * block_bytes;
    if constexpr (H == 2) {
      copy_dwords256<W + 1, HL ? W : 0>(in, row_bytes, o);
    } else {
      copy_halves16(in + half_at, row_bytes, o + 16 * half_at);
      copy_dwords256<W, -1>(in + word_at, row_bytes, o + 16 * word_at);
    }
  }
}
#pragma GCC diagnostic pop

using group_fn = void (*)(const uint8_t*, size_t, int64_t, uint8_t*, bool, const uint8_t*);

// The group copy of each format with an x16 layout, as pick.operator()<H, W, HL>() makes it.
template <class Pick>
group_fn group_copy(dtype t, const Pick& pick) {
  switch (t) {
    case dtype::q4_0:
      return pick.template operator()<1, 4, false>();
    case dtype::q4_1:
      return pick.template operator()<2, 4, false>();
    case dtype::q5_0:
      return pick.template operator()<1, 5, false>();
    case dtype::q5_1:
      return pick.template operator()<2, 5, false>();
    case dtype::q8_0:
      return pick.template operator()<1, 8, false>();
    case dtype::q2_k:
      return pick.template operator()<2, 20, true>();
    case dtype::q3_k:
      return pick.template operator()<1, 27, true>();
    case dtype::q4_k:
      return pick.template operator()<2, 35, false>();
    case dtype::q5_k:
      return pick.template operator()<2, 43, false>();
    case dtype::q6_k:
      return pick.template operator()<1, 52, true>();
    default:
      return nullptr;
  }
}

// The copy for the CPU (or the one asked for, if the CPU has it); null: the scalar one.
group_fn group_copy_for(dtype t, copy_isa isa) {
  const bool avx512 = cpu().avx512 && (isa == copy_isa::best || isa == copy_isa::avx512);
  const bool avx2 = cpu().avx2 && (isa == copy_isa::best || isa == copy_isa::avx2);
  if (avx512)
    return group_copy(t, []<int H, int W, bool HL>() -> group_fn { return group_x16<H, W, HL>; });
  if (avx2)
    return group_copy(t,
                      []<int H, int W, bool HL>() -> group_fn { return group_x16_256<H, W, HL>; });
  return nullptr;
}
#endif

void interleave(const matrix_view& w, void* dst, thread_pool* pool, bool requested, copy_isa isa) {
  if (!x16_shape_ok(w)) return;
  const x16_format f = x16_format_of(w.type);
  const int64_t nb = w.cols / f.block_elems, groups = w.rows / 16;
  const size_t block_bytes = static_cast<size_t>(2 * f.halves + 4 * f.words);
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<uint8_t*>(dst);
#if defined(__x86_64__)
  const group_fn copy = group_copy_for(w.type, isa);
#endif
  // Groups [a, e): block by block, each output group-block written in order (16 rows' field k side
  // by side), so the stores stream and the 16 source rows are each read forward.
  auto run_groups = [&](int64_t a, int64_t e) {
    for (int64_t g = a; g < e; ++g) {
      const uint8_t* rows = src + static_cast<size_t>(g * 16) * w.row_bytes;
      uint8_t* o = out + static_cast<size_t>(g * nb) * 16 * block_bytes;
#if defined(__x86_64__)
      if (copy != nullptr) {
        copy(rows, w.row_bytes, nb, o, g == a && !requested,
             g + 1 < e && !requested ? rows + 16 * w.row_bytes : nullptr);
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
