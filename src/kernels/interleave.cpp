// The x16 weight layout (matmul.h): conversion from and to GGUF's row layout, and the scalar
// reference product over it (the dot of each de-interleaved row, exactly the rows-layout
// reference), which the scalar backend registers and every other backend is tested against.
#include <cstring>
#include <vector>

#include "kernels/backend.h"
#include "kernels/matmul.h"
#include "kernels/ref/scalar.h"
#include "tensor/blocks.h"
#include "util/thread_pool.h"

namespace uma::kernels {

namespace {

bool x16_shape_ok(const matrix_view& w) {
  return w.type == dtype::q4_0 && w.rows > 0 && w.rows % 16 == 0 && w.cols > 0 &&
         w.cols % qk32 == 0 && w.row_bytes == static_cast<size_t>(w.cols / qk32) * 18;
}

}  // namespace

bool interleave_supported(const matrix_view& w) {
  if (w.layout != weight_layout::rows || !x16_shape_ok(w)) return false;
  const auto ti = static_cast<size_t>(w.type);
  const gemm_fn native = best_backend().matvec_x16[ti];
  return native != nullptr && native != scalar_backend().matvec_x16[ti];
}

void interleave(const matrix_view& w, void* dst, thread_pool* pool) {
  if (!x16_shape_ok(w)) return;
  const int64_t nb = w.cols / qk32, groups = w.rows / 16;
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* out = static_cast<x16_block_q4_0*>(dst);
  auto one_group = [&](int64_t g) {
    for (int m = 0; m < 16; ++m) {
      const auto* row =
          reinterpret_cast<const block_q4_0*>(src + static_cast<size_t>(g * 16 + m) * w.row_bytes);
      for (int64_t b = 0; b < nb; ++b) {
        x16_block_q4_0& o = out[g * nb + b];
        o.d[m] = row[b].d;
        for (int j = 0; j < 4; ++j) std::memcpy(&o.qs[j][4 * m], row[b].qs + 4 * j, 4);
      }
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
  const int64_t nb = w.cols / qk32;
  const auto* in = static_cast<const x16_block_q4_0*>(w.data) + (r / 16) * nb;
  const int m = static_cast<int>(r % 16);
  auto* row = static_cast<block_q4_0*>(dst);
  for (int64_t b = 0; b < nb; ++b) {
    row[b].d = in[b].d[m];
    for (int j = 0; j < 4; ++j) std::memcpy(row[b].qs + 4 * j, &in[b].qs[j][4 * m], 4);
  }
}

namespace ref {

// Scalar reference over x16 tiles: de-interleave each row, then the rows-layout dot.
void matvec_x16_q4_0(const gemm_args& g) {
  const matrix_view v{dtype::q4_0, g.w, g.rows, g.cols, g.w_row_bytes, weight_layout::x16};
  thread_local std::vector<uint8_t> row;
  row.resize(g.w_row_bytes);
  for (int64_t r = 0; r < g.rows; ++r) {
    deinterleave_row(v, r, row.data());
    for (int64_t c = 0; c < g.n; ++c)
      g.y[c * g.ldy + r] = dot_row(dtype::q4_0, row.data(), g.a + c * g.a_row_bytes, g.cols);
  }
}

}  // namespace ref

}  // namespace uma::kernels
