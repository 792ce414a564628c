// Matrix products over weights as GGUF stores them (quantized, mmap'd, never copied).
//
//   Y[n x rows] = X[n x cols] * W^T     (W: `rows` rows of `cols` elements, row-major)
//
// n == 1 is decode (matrix x vector, bandwidth-bound); n > 1 is batched decode or prefill
// (compute-bound). For quantized W the activations are quantized once per call to 8-bit blocks
// (Q8_0, or Q8_K for the K formats) and multiplied with integer dot products, as ggml does.
// The implementation is picked at run time for the CPU (scalar reference, AVX2, AVX-512 VNNI,
// NEON dotprod; a tile-matrix engine such as AMX or SME slots in as another backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.h"

namespace uma {
class thread_pool;
}

namespace uma::kernels {

// How a matrix's rows lie in memory.
//   rows: as GGUF stores them, row after row of blocks: the zero-copy default (a view into the
//         mapping).
//   x16:  a copy made at load by interleave() (opt-in, `--repack`): groups of 16 rows stored block
//         by block. For group g and block b (one x16_block_q4_0 at index g * blocks_per_row + b)
//         the 16 rows' fp16 scales come first, then their nibble bytes 4 at a time (bytes
//         4j..4j+3 of every row, j = 0..3), so one 512-bit load holds 4 bytes of each of 16 rows
//         and the integer dot products run 16 rows wide with no shuffles, and the scales of 16
//         rows convert in one instruction. Same size as the rows layout. Q4_0, Q4_1, Q5_0, Q5_1,
//         Q8_0, Q2_K .. Q6_K (whose fields are interleaved the same way: fp16 fields as halves,
//         the rest as dwords, in the block's order).
enum class weight_layout : uint8_t { rows, x16 };

struct matrix_view {
  dtype type = dtype::f32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;      // elements per row (a multiple of the type's block size)
  size_t row_bytes = 0;  // bytes per row (of the rows layout; an x16 group is 16 x row_bytes)
  weight_layout layout = weight_layout::rows;
};

// One x16 group-block: 16 rows x 32 Q4_0 weights (288 bytes, as 16 block_q4_0).
struct x16_block_q4_0 {
  uint16_t d[16];     // row m's scale
  uint8_t qs[4][64];  // qs[j][4 * m + i] = row m's qs[4 * j + i]
};
static_assert(sizeof(x16_block_q4_0) == 16 * 18);
// One x16 group-block of Q5_0: 16 rows x 32 weights (352 bytes, as 16 block_q5_0).
struct x16_block_q5_0 {
  uint16_t d[16];
  uint8_t qh[64];     // row m's 32 fifth bits at qh[4 * m]
  uint8_t qs[4][64];  // qs[j][4 * m + i] = row m's qs[4 * j + i]
};
static_assert(sizeof(x16_block_q5_0) == 16 * 22);
// One x16 group-block of Q4_1: 16 rows x 32 weights (320 bytes, as 16 block_q4_1).
struct x16_block_q4_1 {
  uint16_t d[16];     // row m's scale
  uint16_t m[16];     // row m's min
  uint8_t qs[4][64];  // qs[j][4 * m + i] = row m's qs[4 * j + i]
};
static_assert(sizeof(x16_block_q4_1) == 16 * 20);
// One x16 group-block of Q5_1: 16 rows x 32 weights (384 bytes, as 16 block_q5_1).
struct x16_block_q5_1 {
  uint16_t d[16];
  uint16_t m[16];
  uint8_t qh[64];     // row m's 32 fifth bits at qh[4 * m]
  uint8_t qs[4][64];  // qs[j][4 * m + i] = row m's qs[4 * j + i]
};
static_assert(sizeof(x16_block_q5_1) == 16 * 24);
// One x16 group-block of Q8_0: 16 rows x 32 weights (544 bytes, as 16 block_q8_0).
struct x16_block_q8_0 {
  uint16_t d[16];
  int8_t qs[8][64];  // qs[j][4 * m + i] = row m's qs[4 * j + i]
};
static_assert(sizeof(x16_block_q8_0) == 16 * 34);
// One x16 group-block of Q2_K: 16 rows x 256 weights (1344 bytes, as 16 block_q2_k).
struct x16_block_q2_k {
  uint8_t scales[4][64];  // scales[k][4 * m + i] = row m's scales[4 * k + i]
  uint8_t qs[16][64];     // qs[k][4 * m + i] = row m's qs[4 * k + i]
  uint16_t d[16];
  uint16_t dmin[16];
};
static_assert(sizeof(x16_block_q2_k) == 16 * 84);
// One x16 group-block of Q3_K: 16 rows x 256 weights (1760 bytes, as 16 block_q3_k).
struct x16_block_q3_k {
  uint8_t hmask[8][64];   // hmask[k][4 * m + i] = row m's hmask[4 * k + i]
  uint8_t qs[16][64];     // qs[k][4 * m + i] = row m's qs[4 * k + i]
  uint8_t scales[3][64];  // scales[k][4 * m + i] = row m's scales[4 * k + i]
  uint16_t d[16];
};
static_assert(sizeof(x16_block_q3_k) == 16 * 110);
// One x16 group-block of Q4_K: 16 rows x 256 weights (2304 bytes, as 16 block_q4_k).
struct x16_block_q4_k {
  uint16_t d[16];
  uint16_t dmin[16];
  uint8_t scales[3][64];  // scales[k][4 * m + i] = row m's scales[4 * k + i]
  uint8_t qs[32][64];     // qs[k][4 * m + i] = row m's qs[4 * k + i]
};
static_assert(sizeof(x16_block_q4_k) == 16 * 144);
// One x16 group-block of Q5_K: 16 rows x 256 weights (2816 bytes, as 16 block_q5_k).
struct x16_block_q5_k {
  uint16_t d[16];
  uint16_t dmin[16];
  uint8_t scales[3][64];  // scales[k][4 * m + i] = row m's scales[4 * k + i]
  uint8_t qh[8][64];      // qh[k][4 * m + i] = row m's qh[4 * k + i]
  uint8_t qs[32][64];     // qs[k][4 * m + i] = row m's qs[4 * k + i]
};
static_assert(sizeof(x16_block_q5_k) == 16 * 176);
// One x16 group-block of Q6_K: 16 rows x 256 weights (3360 bytes, as 16 block_q6_k).
struct x16_block_q6_k {
  uint8_t ql[32][64];    // ql[k][4 * m + i] = row m's ql[4 * k + i]
  uint8_t qh[16][64];    // qh[k][4 * m + i] = row m's qh[4 * k + i]
  int8_t scales[4][64];  // scales[k][4 * m + i] = row m's scales[4 * k + i]
  uint16_t d[16];
};
static_assert(sizeof(x16_block_q6_k) == 16 * 210);

// Production path: best available backend. `pool` may be null (single-threaded).
// x: n rows, stride `cols` floats; y: n rows, stride `rows` floats.
// `then`: the matrices of the matmul (or matmul_many) call that comes next, if known. In decode
// each worker thread, once its share is done, warms the start of its share of that call into its
// cache while the caller runs the glue in between (thread_pool::warm_after_job); same results.
void matmul(const matrix_view& w, const float* x, int64_t n, float* y, thread_pool* pool,
            std::span<const matrix_view> then = {});
// ys[i] = matmul(ws[i], x) for several matrices with one input (Q/K/V, gate/up). For decode
// (n == 1) with matrices of one type, layout and width, and for prefill of matrices of one width
// that the backend interleaves on the fly (types sharing the activation format, as Q4_K with
// Q6_K), the activation is converted once and all their row chunks go to the pool as one job
// (one hand-off and one wait instead of one per matrix); otherwise it is one matmul per matrix.
// Same results as separate matmul calls.
void matmul_many(std::span<const matrix_view> ws, const float* x, int64_t n,
                 std::span<float* const> ys, thread_pool* pool,
                 std::span<const matrix_view> then = {});

// Activation rows [first, first + count) of a matmul_grouped input.
struct matmul_rows {
  int64_t first = 0, count = 1;
};
// ys[i] (groups[i].count rows of ws[i].rows) = matmul(ws[i], rows groups[i] of x) (x: rows of the
// matrices' width): a mixture of experts' matrices, each over its own tokens' rows (decode: one
// row each). Where the matrices share type, layout and width and each group is few enough rows
// for decode's pieces (below the backend's x16_min_n), all run as one pool job, every activation
// row converted once; otherwise one matmul per matrix. Same results as separate matmul calls.
void matmul_grouped(std::span<const matrix_view> ws, const float* x,
                    std::span<const matmul_rows> groups, std::span<float* const> ys,
                    thread_pool* pool, std::span<const matrix_view> then = {});

// True when this CPU's backend has a native x16 kernel for `w` (a rows-layout matrix of a type
// with an x16 layout, above, whose row count is a multiple of 16): only then is interleaving a
// speed-up.
bool interleave_supported(const matrix_view& w);
// interleave_supported, and the backend measured decode from the x16 copy of `w`'s type faster
// than from its rows (matmul_backend::repack_faster).
bool repack_faster(const matrix_view& w);
// Writes rows-layout `w` in the x16 layout to `dst` (w.rows * w.row_bytes bytes), in parallel
// over `pool` (may be null). The caller checks interleave_supported (or at least Q4_0 and
// rows % 16 == 0) first; other matrices are left unwritten. Each thread requests the lines of
// its groups as it goes unless `requested` (the caller has: prefill's on-the-fly copies).
// `isa` picks the copy's instructions where the CPU has them (tests; best: the widest).
enum class copy_isa { best, scalar, avx2, avx512 };
void interleave(const matrix_view& w, void* dst, thread_pool* pool, bool requested = false,
                copy_isa isa = copy_isa::best);
// Whether `w` (rows layout) has a shape interleave() takes: an x16 format, a multiple of 16 rows,
// whole blocks per row. Says nothing about the CPU's kernels.
bool x16_layout_fits(const matrix_view& w);
// Row r of an x16 matrix, back in GGUF's block layout (row_bytes bytes at dst).
void deinterleave_row(const matrix_view& w, int64_t r, void* dst);

// True if matmul supports this weight type.
bool matmul_supports(dtype t);

// Name of the backend matmul dispatches to on this CPU ("avx512-vnni", "avx2", "neon", "scalar").
const char* matmul_backend_name();

namespace ref {
// Scalar reference of exactly the same arithmetic (same activation quantization).
void matmul(const matrix_view& w, const float* x, int64_t n, float* y);
}  // namespace ref

}  // namespace uma::kernels
