// The kernel backend table behind kernels::matmul (and kernels::ops): one entry per SIMD target,
// each with per-weight-type matvec (n == 1, decode) and gemm (n > 1, prefill / batched decode)
// kernels and its activation quantizers. A tile-matrix engine (AMX, SME) is another row of this
// table that fills only the gemm entries. Exposed so tests and benchmarks can force a backend.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kernels/matmul.h"
#include "tensor/dtype.h"

namespace uma::kernels {

// Format the activation rows are converted to before the dot products: ggml's vec_dot_type.
enum class act_format : uint8_t { f32, f16, bf16, q8_0, q8_1, q8_k };
inline constexpr int act_format_count = 6;

// The activation format for weight type `w` (f32 for unsupported types).
act_format act_format_for(dtype w);
// Elements per block of the activation format (1 for float formats).
int64_t act_block_elems(act_format f);
// Bytes of one converted activation row of `cols` elements.
size_t act_row_bytes(act_format f, int64_t cols);

// One tile of the product: for r in [0, rows), j in [0, n):
//   y[j * ldy + r] = dot(W row r, activation row j)
struct gemm_args {
  const uint8_t* w = nullptr;  // first weight row of the tile
  size_t w_row_bytes = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* a = nullptr;  // first converted activation row
  size_t a_row_bytes = 0;
  int64_t n = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  // Where the backend has a gemm_prep for the type: its layout of the same n activation rows.
  const uint8_t* prep = nullptr;
  size_t prep_row_bytes = 0;
  // The weights are read from memory as they are (decode's pieces, an x16-layout matrix in
  // prefill), not rows just interleaved into a per-thread copy in cache: the x16 gemm tiles then
  // request theirs ahead on their first pass over them.
  bool streamed = false;
  // Where set (with streamed), the x16 gemm tiles request, while they read a block at offset o
  // from w, the bytes at prefetch_to + o instead of their own ahead: prefill's on-the-fly copies
  // point it at the next block's rows, so that memory works during the tile's compute.
  const uint8_t* prefetch_to = nullptr;
};
// Up to how many activation rows the x16 gemm tiles prefetch streamed weights (one pass over
// them is then most of the work; with more, the passes after the first find them in cache).
inline constexpr int64_t streamed_few_max_n = 16;
using gemm_fn = void (*)(const gemm_args&);
// Lays out one converted activation row (`cols` elements) the way the type's matvec and gemm
// kernels want it, once per call instead of once per task; returns the bytes per row (and writes
// nothing) when out is null.
using gemm_prep_fn = size_t (*)(const uint8_t* a, int64_t cols, uint8_t* out);
// Widens x16 groups (rows x cols, rows a multiple of 16) to another layout; returns its bytes
// (only the size when out is null).
using x16_expand_fn = size_t (*)(const uint8_t* packed, int64_t rows, int64_t cols, uint8_t* out);
// Converts one activation row of `cols` floats (a multiple of the block size) to the format.
using act_convert_fn = void (*)(const float* x, void* dst, int64_t cols);
// A whole product for n >= big_gemm_min_n, for engines that lay out the activations themselves
// and schedule their own tiles over the pool (a tile-matrix engine: AMX, SME).
using big_gemm_fn = void (*)(const matrix_view& w, const float* x, int64_t n, float* y,
                             thread_pool* pool);

// avx2_vnni: the AVX2 kernels with VEX vpdpbusd / vpdpwssd (AVX-VNNI: Intel client CPUs from Alder
// Lake on, which have no AVX-512; Zen 5 has both). best_backend() prefers amx, avx512, avx2_vnni,
// avx2, neon-sme, neon-i8mm, neon, scalar in that order.
// neon_i8mm: the neon kernels with smmla for the legacy and K4-K6 formats (matmul_i8mm.cpp;
// FEAT_I8MM). neon_sme: neon-i8mm plus prefill's products on SME's bf16 outer products
// (matmul_sme.cpp; FEAT_SME).
// amx_emulated: the amx backend's source with the tile instructions modelled in scalar code
// (x86/amx_tiles-inl.h), on any AVX-512 VNNI + BF16 CPU; for tests, never chosen by best_backend.
enum class backend_id : int {
  scalar = 0,
  avx2 = 1,
  avx512 = 2,
  neon = 3,
  amx = 4,
  avx2_vnni = 5,
  amx_emulated = 6,
  neon_i8mm = 7,
  neon_sme = 8
};
inline constexpr int backend_count = 9;
inline constexpr int max_dtype_id = 40;

struct matmul_backend {
  const char* name = nullptr;
  // Indexed by dtype id. matvec must handle any n (looping over activation rows); gemm, where set,
  // is the tiled path used for n > 1.
  std::array<gemm_fn, max_dtype_id> matvec{};
  std::array<gemm_fn, max_dtype_id> gemm{};
  // Optional per-type activation layout for matvec and gemm (gemm_args::prep), made once per call
  // by matmul_on / matmul_many; the type's kernels then require gemm_args::prep.
  std::array<gemm_prep_fn, max_dtype_id> gemm_prep{};
  std::array<act_convert_fn, act_format_count> convert{};
  // Optional per-type whole-product override used when n >= big_gemm_min_n.
  std::array<big_gemm_fn, max_dtype_id> big_gemm{};
  int64_t big_gemm_min_n = 0;
  // The same three entries for matrices in the x16 layout (matmul.h). Their gemm_args see tiles
  // that start at a multiple of 16 rows and span whole groups: `w` is the tile's first group,
  // `w_row_bytes` the rows layout's row size (a group is 16 of them).
  std::array<gemm_fn, max_dtype_id> matvec_x16{};
  std::array<gemm_fn, max_dtype_id> gemm_x16{};
  // Optional activation layout for gemm_x16 (gemm_args::prep), made once per call.
  std::array<gemm_prep_fn, max_dtype_id> gemm_prep_x16{};
  std::array<big_gemm_fn, max_dtype_id> big_gemm_x16{};
  // Optional, for prefill of many activation rows: a task's x16 groups (rows a multiple of 16)
  // widened once to operand bytes (x16_expand; the bytes it needs when out is null) that
  // gemm_x16_expanded's tiles load as they are, where gemm_x16 unpacks them again for every few
  // activation rows. The same integer sums, so the same floats as gemm_x16.
  std::array<x16_expand_fn, max_dtype_id> x16_expand{};
  std::array<gemm_fn, max_dtype_id> gemm_x16_expanded{};
  // Optional whole products that round weights and activations to bf16 and accumulate in fp32
  // (AMX-BF16 tiles: no per-block scaling inside the K loop), used from big_gemm_bf16_min_n
  // activation rows on (0: never) ahead of big_gemm. Not the reference's arithmetic: each product
  // is within 2^-8 of sum |w x| of the float product (see matmul_rounds_to_bf16).
  std::array<big_gemm_fn, max_dtype_id> big_gemm_bf16{};
  std::array<big_gemm_fn, max_dtype_id> big_gemm_bf16_x16{};
  int64_t big_gemm_bf16_min_n = 0;
  // From how many activation rows a rows-layout matrix of the type goes through gemm_x16 (rows
  // interleaved on the fly) instead of the rows gemm tile over decode's pieces; 0: the default,
  // x16_min_n_default. Where the rows tiles are dear (the K formats on AVX-512) batched decode
  // of a few sequences already gains from it (docs/performance.md 2026-12-04 11:30). An x16-layout
  // matrix (`--repack`) runs its x16 tiles over decode's pieces below x16_min_n_default rows
  // whatever this says (matmul.cpp, pieces_kernel).
  std::array<int64_t, max_dtype_id> x16_min_n{};
  // The types whose single-sequence decode measured faster from an x16 copy than from the file's
  // rows (load_options::repack's `faster` mode copies only these; `all` copies every type with an
  // x16 kernel, which batched decode gains from).
  std::array<bool, max_dtype_id> repack_faster{};
  // Whether the gemm_x16 tiles honour gemm_args::prefetch_to (the AVX-512 ones); else the
  // on-the-fly path requests each next block itself before copying the current one.
  bool x16_prefetch_to = false;
};
inline constexpr int64_t x16_min_n_default = 16;

// nullptr if the backend is not compiled in or this CPU lacks it.
const matmul_backend* find_backend(backend_id id);
// The best backend for this CPU (what matmul() uses); UMA_BACKEND=<name> (scalar, avx2, avx2-vnni,
// avx512-vnni, amx, neon, neon-i8mm, neon-sme) overrides.
const matmul_backend& best_backend();
// matmul() on a chosen backend (types the backend lacks fall back to the scalar kernels).
void matmul_on(const matmul_backend& be, const matrix_view& w, const float* x, int64_t n, float* y,
               thread_pool* pool, std::span<const matrix_view> then = {});
// Which summation order matmul_on uses for `w` and n activation rows: 0 the backend's matvec /
// gemm tiles (one order on the SIMD backends), 1 its whole-product tile engine (AMX), 2 the x16
// kernels over rows interleaved on the fly (prefill of the types that have them), 3 the bf16 tile
// engine (big_gemm_bf16). Results for the same row agree to float noise only within one class
// (tests use this).
int matmul_order_class(const matmul_backend& be, const matrix_view& w, int64_t n);
// Whether matmul_on rounds `w` and the n activation rows to bf16 (class 3): each output is then
// within 2^-8 x sum |w x| (plus fp32 accumulation) of the float product over the dequantized
// weights and the unrounded activations, instead of matching the reference's Q8 arithmetic.
bool matmul_rounds_to_bf16(const matmul_backend& be, const matrix_view& w, int64_t n);
// matmul_many() on a chosen backend.
void matmul_many_on(const matmul_backend& be, std::span<const matrix_view> ws, const float* x,
                    int64_t n, std::span<float* const> ys, thread_pool* pool,
                    std::span<const matrix_view> then = {});
// matmul_grouped() on a chosen backend.
void matmul_grouped_on(const matmul_backend& be, std::span<const matrix_view> ws, const float* x,
                       std::span<const matmul_rows> groups, std::span<float* const> ys,
                       thread_pool* pool, std::span<const matrix_view> then = {});

// Decode's work split (matmul_on / matmul_many over pieces): every matrix's rows in pieces of
// decode_piece_rows rows (a multiple of 16, about 32 KB), and thread t of nt owns the run of
// pieces from the first one that starts at or after t / nt of the call's bytes (matrices in order)
// to the next thread's. decode_share_start says where: the matrix and its row, or
// {ws.size(), 0} when no piece does.
int64_t decode_piece_rows(size_t row_bytes);
struct share_point {
  size_t matrix;
  int64_t row;
};
share_point decode_share_start(std::span<const matrix_view> ws, int t, int nt);

// Per-backend tables, defined in the backend's own translation unit.
const matmul_backend& scalar_backend();
#if defined(__x86_64__)
const matmul_backend& avx2_backend();
const matmul_backend& avx2_vnni_backend();
const matmul_backend& avx512_backend();
// AVX-512 VNNI plus AMX tiles for prefill products of n >= 256 rows (bf16 tiles; int8 where the
// CPU has no AMX-BF16), for Q4_0, Q5_0, Q8_0, Q4_K, Q6_K. amx_usable() asks Linux for the tile
// state once (arch_prctl) and says whether it was granted.
const matmul_backend& amx_backend();
bool amx_usable();
const matmul_backend& amx_emulated_backend();
#endif
#if defined(__aarch64__)
const matmul_backend& neon_backend();
const matmul_backend& neon_i8mm_backend();
const matmul_backend& neon_sme_backend();
// neon-sme's engine for any n (its backend takes it from big_gemm_bf16_min_n rows on; tests call
// it on small products). Only where find_backend(backend_id::neon_sme) is not null.
void sme_bf16_product(const matrix_view& w, const float* x, int64_t n, float* y, thread_pool* pool);
// SME's streaming vector length in bytes (the same condition).
int64_t sme_vector_bytes();
#endif

}  // namespace uma::kernels
