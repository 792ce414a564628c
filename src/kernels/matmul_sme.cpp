// The neon-sme matmul backend (Arm SME: Apple M4, and Armv9.2 cores with it): neon-i8mm's kernels,
// with prefill's products from big_gemm_bf16_min_n activation rows on taken by SME's outer-product
// engine, as the amx backend takes them with AMX-BF16 tiles. The weights (the quantized types; the
// engine reads any type dequantize_row reads) and the activations are rounded to bf16, and `bfmopa`
// adds the products into fp32 ZA tiles over the whole row: no per-block scaling inside the loop
// (matmul_rounds_to_bf16: each output within 2^-8 x sum |w x| of the float product, not the
// reference's Q8 arithmetic).
//
// Layout. With SVL the streaming vector length in bytes and L = SVL / 4 (an fp32 ZA tile is L x L:
// 16 x 16 on the M4), a task takes a panel of L weight rows, dequantizes and rounds them into
// pairs (element 2i + k of step t is row i's column 2t + k: one SVL vector a step), and for each
// group of 4 L activation rows (the 4 fp32 tiles za0..za3) runs `cols / 2` steps of one weight
// vector against 4 activation vectors (the activations packed the same way once per call,
// zero-padded to whole groups). A tile's vertical slice j is then activation j's L outputs,
// stored to scratch and copied to y.
//
// Streaming mode is entered and left inside one asm block per (panel, group): in it only SVE / SME
// instructions run (no Advanced SIMD: an SME CPU without FEAT_SME_FA64 faults on them), and the
// block declares every vector register clobbered (smstart / smstop zero them). GCC 12 has no SME
// intrinsics; binutils >= 2.38 assembles the instructions after `.arch_extension sme`.
//
// Checked under qemu only (tests/cross/run_neon.sh: qemu's max CPU has SME; SVL 64 and 32 bytes),
// never timed: big_gemm_bf16_min_n is a guess until an M4 measures it.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/backend.h"
#include "tensor/quant.h"
#include "util/thread_pool.h"

namespace {

using uma::kernels::matrix_view;

// Round to nearest even bf16 (a NaN stays a quiet NaN), as f32_to_bf16 (tensor/half.h is not
// included in SIMD-flagged files: see matmul_neon.cpp).
inline uint16_t bf16_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// The streaming vector length in bytes (`rdsvl` works outside streaming mode).
int64_t svl_bytes() {
  uint64_t b = 0;
  asm volatile(".arch_extension sme\n rdsvl %0, #1" : "=r"(b));
  return static_cast<int64_t>(b);
}

// One (panel, group): za0..za3 = sum over `steps` pair steps of the weight vector (w, SVL bytes a
// step) times activation vectors a, a + SVL, a + 2 SVL, a + 3 SVL (4 SVL bytes a step); then the
// 4 tiles' L vertical slices each to out (4 L slices of L floats, tile after tile).
void sme_panel(const uint16_t* w, const uint16_t* a, int64_t steps, float* out) {
  asm volatile(
      ".arch_extension sme\n"
      "smstart\n"
      "ptrue p0.h\n"
      "ptrue p1.s\n"
      "zero {za}\n"
      "rdsvl x9, #1\n"  // x9: SVL bytes
      "mov x10, %[w]\n"
      "mov x11, %[a]\n"
      "mov x12, %[steps]\n"
      "cbz x12, 2f\n"
      "1:\n"
      "ld1h {z0.h}, p0/z, [x10]\n"
      "ld1h {z1.h}, p0/z, [x11]\n"
      "ld1h {z2.h}, p0/z, [x11, #1, mul vl]\n"
      "ld1h {z3.h}, p0/z, [x11, #2, mul vl]\n"
      "ld1h {z4.h}, p0/z, [x11, #3, mul vl]\n"
      "bfmopa za0.s, p0/m, p0/m, z0.h, z1.h\n"
      "bfmopa za1.s, p0/m, p0/m, z0.h, z2.h\n"
      "bfmopa za2.s, p0/m, p0/m, z0.h, z3.h\n"
      "bfmopa za3.s, p0/m, p0/m, z0.h, z4.h\n"
      "add x10, x10, x9\n"
      "add x11, x11, x9, lsl #2\n"
      "subs x12, x12, #1\n"
      "b.ne 1b\n"
      "2:\n"
      "lsr x13, x9, #2\n"  // x13: L slices a tile
      "mov x14, %[out]\n"
      "mov w12, #0\n"
      "3:\n"
      "st1w {za0v.s[w12, 0]}, p1, [x14]\n"
      "add x14, x14, x9\n"
      "add w12, w12, #1\n"
      "cmp x12, x13\n"
      "b.lt 3b\n"
      "mov w12, #0\n"
      "4:\n"
      "st1w {za1v.s[w12, 0]}, p1, [x14]\n"
      "add x14, x14, x9\n"
      "add w12, w12, #1\n"
      "cmp x12, x13\n"
      "b.lt 4b\n"
      "mov w12, #0\n"
      "5:\n"
      "st1w {za2v.s[w12, 0]}, p1, [x14]\n"
      "add x14, x14, x9\n"
      "add w12, w12, #1\n"
      "cmp x12, x13\n"
      "b.lt 5b\n"
      "mov w12, #0\n"
      "6:\n"
      "st1w {za3v.s[w12, 0]}, p1, [x14]\n"
      "add x14, x14, x9\n"
      "add w12, w12, #1\n"
      "cmp x12, x13\n"
      "b.lt 6b\n"
      "smstop\n"
      :
      : [w] "r"(w), [a] "r"(a), [steps] "r"(steps), [out] "r"(out)
      : "x9", "x10", "x11", "x12", "x13", "x14", "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5",
        "v6", "v7", "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18",
        "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31");
}

// The product y[j * w.rows + r] = sum_i bf16(w[r][i]) bf16(x[j][i]) in fp32 (rows layout).
void sme_bf16_matmul(const matrix_view& w, const float* x, int64_t n, float* y,
                     uma::thread_pool* pool) {
  const int64_t svl = svl_bytes(), L = svl / 4, steps = (w.cols + 1) / 2, group = 4 * L;
  const int64_t groups = (n + group - 1) / group;
  // Activations: per group, per step, 4 L pairs (tile t's activation j at element 2 (t L + j) + k
  // of the step's 4 SVL bytes); rows past n and the odd column's partner are zero.
  // (Per-thread buffers that only grow: fresh ones of a few MB each call were mapped and faulted
  // in again every prefill matmul.)
  thread_local std::vector<uint16_t> a_tl;
  std::vector<uint16_t>& a = a_tl;
  a.assign(static_cast<size_t>(groups * steps * 2 * group), 0);
  for (int64_t j = 0; j < n; ++j) {
    uint16_t* g = a.data() + (j / group) * steps * 2 * group + 2 * (j % group);
    const float* xj = x + j * w.cols;
    for (int64_t i = 0; i < w.cols; ++i) g[(i / 2) * 2 * group + (i & 1)] = bf16_of(xj[i]);
  }
  const int64_t panels = (w.rows + L - 1) / L;
  const auto work = [&](int t, int nt) {
    thread_local std::vector<float> row, out;
    thread_local std::vector<uint16_t> wp;
    row.resize(static_cast<size_t>(w.cols));
    wp.resize(static_cast<size_t>(steps * 2 * L));
    out.resize(static_cast<size_t>(group * L));
    for (int64_t p = t; p < panels; p += nt) {
      const int64_t r0 = p * L, nr = std::min(L, w.rows - r0);
      std::fill(wp.begin(), wp.end(), uint16_t{0});
      for (int64_t i = 0; i < nr; ++i) {
        (void)uma::dequantize_row(w.type,
                                  static_cast<const uint8_t*>(w.data) + (r0 + i) * w.row_bytes,
                                  row.data(), w.cols);
        for (int64_t c = 0; c < w.cols; ++c)
          wp[static_cast<size_t>((c / 2) * 2 * L + 2 * i + (c & 1))] = bf16_of(row[c]);
      }
      for (int64_t gi = 0; gi < groups; ++gi) {
        sme_panel(wp.data(), a.data() + gi * steps * 2 * group, steps, out.data());
        const int64_t nj = std::min(group, n - gi * group);
        for (int64_t j = 0; j < nj; ++j)
          std::memcpy(y + (gi * group + j) * w.rows + r0, out.data() + j * L,
                      static_cast<size_t>(nr) * sizeof(float));
      }
    }
  };
  if (pool != nullptr && pool->size() > 1)
    pool->run_on_all(work);
  else
    work(0, 1);
}

// From how many activation rows the SME tiles take the product: a guess (the amx backend's
// measured 256 on a Xeon), to be measured on an M4.
constexpr int64_t sme_min_n = 256;

}  // namespace

namespace uma::kernels {

const matmul_backend& neon_sme_backend() {
  static const matmul_backend be = [] {
    matmul_backend b = neon_i8mm_backend();
    b.name = "neon-sme";
    // The quantized types (as the amx backend): F32 / F16 / BF16 weights keep their precision
    // (rounded to bf16, a 260-token prefill of the f32 golden models moved the logits by up to
    // 1.4 % where the tests allow 0.1 %).
    for (const dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0,
                          dtype::q2_k, dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k})
      b.big_gemm_bf16[static_cast<size_t>(t)] = sme_bf16_matmul;
    b.big_gemm_bf16_min_n = sme_min_n;
    return b;
  }();
  return be;
}

int64_t sme_vector_bytes() {
  return svl_bytes();
}

// The engine itself, whatever n (tests: the backend's threshold keeps small products off it).
void sme_bf16_product(const matrix_view& w, const float* x, int64_t n, float* y,
                      thread_pool* pool) {
  sme_bf16_matmul(w, x, n, y, pool);
}

}  // namespace uma::kernels
