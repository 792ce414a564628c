// The tile-matrix (AMX) engine's two products, each forced on its own: the int8 tiles against the
// scalar reference (the same block integers, fp32 scaling), the bf16 tiles against the float
// product within bf16's rounding bound. Runs on the amx backend where the CPU has AMX and on
// amx-emulated (the same source with the tile instructions modelled) on any AVX-512 BF16 CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "util/thread_pool.h"

namespace uma::kernels {
namespace {

std::vector<const matmul_backend*> tile_backends() {
  std::vector<const matmul_backend*> out;
  for (backend_id id : {backend_id::amx, backend_id::amx_emulated})
    if (const matmul_backend* b = find_backend(id)) out.push_back(b);
  return out;
}

matrix_view view_of(dtype t, const uint8_t* data, int64_t rows, int64_t cols) {
  const auto& tr = traits(t);
  return {t, data, rows, cols, static_cast<size_t>(cols / tr.block_elems * tr.block_bytes)};
}

TEST(amx, int8_and_bf16_tiles_match_their_references_on_odd_shapes) {
  const auto backends = tile_backends();
  if (backends.empty()) GTEST_SKIP() << "no AVX-512 BF16 (amx-emulated) or AMX on this CPU";
  std::mt19937 rng(5);
  thread_pool pool3(3);
  int bf16_products = 0, int8_products = 0;
  for (const matmul_backend* be : backends) {
    matmul_backend int8_only = *be, bf16_only = *be;
    int8_only.big_gemm_bf16_min_n = 0;
    int8_only.big_gemm_min_n = 16;
    bf16_only.big_gemm_bf16_min_n = 1;
    for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q5_0, dtype::q4_k, dtype::q6_k}) {
      const bool k = traits(t).block_elems == 256;
      for (int64_t cols : k ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{96, 544}) {
        for (int64_t rows : {13, 37, 48}) {
          auto wbuf = test::random_rows(rng, t, rows, cols);
          const matrix_view w = view_of(t, wbuf.data(), rows, cols);
          std::vector<uint8_t> ibuf(wbuf.size());
          matrix_view wi = w;
          if (rows % 16 == 0) {  // the same matrix interleaved (x16 layout)
            interleave(w, ibuf.data(), nullptr);
            wi.data = ibuf.data(), wi.layout = weight_layout::x16;
          }
          for (int64_t n : {1, 5, 16, 33, 47}) {
            const auto x = test::random_floats(rng, static_cast<size_t>(n * cols));
            std::vector<float> want(static_cast<size_t>(n * rows));
            ref::matmul(w, x.data(), n, want.data());
            float ymax = 0;
            for (float v : want) ymax = std::max(ymax, std::fabs(v));
            for (const matrix_view* m : {&w, static_cast<const matrix_view*>(&wi)}) {
              if (m == &wi && m->layout != weight_layout::x16) continue;
              for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool3}) {
                SCOPED_TRACE(testing::Message()
                             << be->name << " " << dtype_name(t) << " rows " << rows << " cols "
                             << cols << " n " << n << (m == &wi ? " x16" : " rows layout")
                             << " threads " << (pool ? pool->size() : 1));
                std::vector<float> got(want.size(), NAN);
                ASSERT_TRUE(matmul_rounds_to_bf16(bf16_only, *m, n));
                matmul_on(bf16_only, *m, x.data(), n, got.data(), pool);
                EXPECT_EQ(0, test::bf16_product_misses(w, x.data(), n, got.data()));
                ++bf16_products;
                if (n < int8_only.big_gemm_min_n) continue;  // below: the AVX-512 kernels
                ASSERT_EQ(matmul_order_class(int8_only, *m, n), 1);
                std::fill(got.begin(), got.end(), NAN);
                matmul_on(int8_only, *m, x.data(), n, got.data(), pool);
                for (size_t i = 0; i < got.size(); ++i)
                  ASSERT_NEAR(got[i], want[i], 2e-5f * ymax + 1e-6f) << "int8 tiles, i " << i;
                ++int8_products;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(bf16_products, 0);
  EXPECT_GT(int8_products, 0);
}

// The bf16 bound is tight enough to see a wrong element order: the product over activations with
// each pair of neighbours swapped (what a transposed pair layout would compute) fails it.
TEST(amx, bf16_bound_catches_swapped_elements) {
  const auto backends = tile_backends();
  if (backends.empty()) GTEST_SKIP() << "no AVX-512 BF16 (amx-emulated) or AMX on this CPU";
  std::mt19937 rng(9);
  const int64_t rows = 16, cols = 544, n = 33;
  auto wbuf = test::random_rows(rng, dtype::q8_0, rows, cols);
  const matrix_view w = view_of(dtype::q8_0, wbuf.data(), rows, cols);
  const auto x = test::random_floats(rng, static_cast<size_t>(n * cols));
  auto swapped = x;
  for (size_t i = 0; i + 1 < swapped.size(); i += 2) std::swap(swapped[i], swapped[i + 1]);
  matmul_backend bf16_only = *backends.front();
  bf16_only.big_gemm_bf16_min_n = 1;
  std::vector<float> got(static_cast<size_t>(n * rows));
  matmul_on(bf16_only, w, x.data(), n, got.data(), nullptr);
  EXPECT_EQ(0, test::bf16_product_misses(w, x.data(), n, got.data()));
  matmul_on(bf16_only, w, swapped.data(), n, got.data(), nullptr);
  EXPECT_GE(test::bf16_product_misses(w, x.data(), n, got.data()), rows * n * 9 / 10);
}

}  // namespace
}  // namespace uma::kernels
