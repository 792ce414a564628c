// matmul: the scalar reference against ggml's own quantized bytes (golden quants.gguf), and every
// backend this CPU supports against the scalar reference on odd shapes, misaligned buffers and
// several thread counts.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "gguf/gguf.h"
#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "test_util.h"
#include "util/thread_pool.h"

namespace uma::kernels {
namespace {

using test::available_backends;
using test::random_floats;
using test::random_rows;

matrix_view view_of(dtype t, const uint8_t* data, int64_t rows, int64_t cols) {
  const auto& tr = traits(t);
  return {t, data, rows, cols, static_cast<size_t>(cols / tr.block_elems * tr.block_bytes)};
}

// The scalar reference product of w and n activation rows, and the tolerance every backend is
// held to: 2e-5 of the largest output (+ 1e-6), plus, per output, what two fp32 summation orders
// of a quantized product can differ by: its block terms (exact integer dots, one per 32 or 256
// values, scaled in fp32) are added one by one, each addition off by at most 2^-24 of the running
// sum, so (cols / 32) x 2^-23 of sum |w x| (the dequantized weights times the activations) covers
// both sides. (The float formats add every element in fp32: not covered by that bound, they stay
// within the first term.) A single wrong term moves an output by about sum |w x| / cols, far
// more. (With only max |y| as the scale, one small output of a long row failed on a
// summation-order difference: AVX2 Q4_K, 1280 columns, 0.010033 against 0.010038 where sum |w x|
// is 1865, a difference of 3e-9 of it; the bound there is 0.0089, a single term ~1.5.)
struct reference_product {
  std::vector<float> y;
  float ymax = 0;
  std::vector<double> mag;  // per output: sum over the row of |w x|
  int64_t cols = 0;
  float tol(size_t i) const {
    return 2e-5f * ymax + 1e-6f +
           static_cast<float>(static_cast<double>(cols) / 32 * 0x1p-23 * mag[i]);
  }
};
reference_product reference(const matrix_view& w, const float* x, int64_t n) {
  reference_product r;
  r.y.resize(static_cast<size_t>(n * w.rows));
  ref::matmul(w, x, n, r.y.data());
  for (float v : r.y) r.ymax = std::max(r.ymax, std::fabs(v));
  r.cols = w.cols;
  r.mag.assign(r.y.size(), 0.0);
  std::vector<float> wf(static_cast<size_t>(w.cols));
  for (int64_t row = 0; row < w.rows; ++row) {
    const bool ok = dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + row * w.row_bytes,
                                   wf.data(), w.cols)
                        .ok();
    EXPECT_TRUE(ok) << dtype_name(w.type);
    for (int64_t j = 0; j < n; ++j) {
      double m = 0;
      for (int64_t i = 0; i < w.cols; ++i)
        m += std::fabs(static_cast<double>(wf[static_cast<size_t>(i)]) * x[j * w.cols + i]);
      r.mag[static_cast<size_t>(j * w.rows + row)] = m;
    }
  }
  return r;
}

// Converted activation rows, exactly as matmul makes them (scalar converter).
std::vector<uint8_t> convert_rows(act_format f, const float* x, int64_t n, int64_t cols) {
  const size_t arb = act_row_bytes(f, cols);
  std::vector<uint8_t> out(arb * n);
  for (int64_t j = 0; j < n; ++j)
    scalar_backend().convert[static_cast<size_t>(f)](x + j * cols, out.data() + j * arb, cols);
  return out;
}

TEST(matmul_ref, matches_ggml_dequantized_weights_times_converted_activations) {
  auto f = gguf::file::open(uma::test::shared_data("golden/quants.gguf"));
  ASSERT_TRUE(f.ok()) << f.message();
  const char* names[] = {"f16",  "bf16", "q8_0", "q4_0", "q4_1", "q5_0",
                         "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"};
  std::mt19937 rng(7);
  for (const char* name : names) {
    SCOPED_TRACE(name);
    const auto* q = f->find_tensor(std::string("q.") + name);
    const auto* dq = f->find_tensor(std::string("dq.") + name);
    ASSERT_NE(q, nullptr);
    ASSERT_NE(dq, nullptr);
    const int64_t cols = q->ne[0], rows = q->rows();
    ASSERT_TRUE(matmul_supports(q->type));
    std::vector<uint8_t> wbytes(q->data.size());
    std::memcpy(wbytes.data(), q->data.data(), wbytes.size());
    std::vector<float> wf(static_cast<size_t>(rows * cols));
    std::memcpy(wf.data(), dq->data.data(), wf.size() * 4);
    const int64_t n = 3;
    auto x = random_floats(rng, n * cols);
    const act_format af = act_format_for(q->type);
    const auto xa = convert_rows(af, x.data(), n, cols);
    const size_t arb = act_row_bytes(af, cols);
    for (auto id : available_backends()) {
      SCOPED_TRACE(find_backend(id)->name);
      std::vector<float> y(n * rows, NAN);
      matmul_on(*find_backend(id), view_of(q->type, wbytes.data(), rows, cols), x.data(), n,
                y.data(), nullptr);
      for (int64_t j = 0; j < n; ++j) {
        const auto xv = test::act_values(af, xa.data() + j * arb, cols);
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0, mag = 0;
          for (int64_t i = 0; i < cols; ++i) {
            want += wf[r * cols + i] * xv[i];
            mag += std::fabs(wf[r * cols + i] * xv[i]);
          }
          // Q4_1 / Q5_1 use the activation block sum rounded to fp16 (ggml's Q8_1 `s`).
          const double tol = 3e-5 * mag + (af == act_format::q8_1 ? 2e-3 * mag : 0) + 1e-30;
          EXPECT_NEAR(y[j * rows + r], want, tol) << "row " << r << " act " << j;
        }
      }
    }
  }
}

TEST(matmul_ref, quantized_product_is_close_to_float_product) {
  // End to end: the error of the Q8 activation rounding stays within its bound.
  auto f = gguf::file::open(uma::test::shared_data("golden/quants.gguf"));
  ASSERT_TRUE(f.ok()) << f.message();
  const auto* q = f->find_tensor("q.q8_0");
  const auto* dq = f->find_tensor("dq.q8_0");
  ASSERT_TRUE(q && dq);
  const int64_t cols = q->ne[0], rows = q->rows();
  std::vector<float> wf(rows * cols);
  std::memcpy(wf.data(), dq->data.data(), wf.size() * 4);
  std::mt19937 rng(3);
  auto x = random_floats(rng, cols);
  std::vector<float> y(rows);
  ref::matmul(view_of(q->type, reinterpret_cast<const uint8_t*>(q->data.data()), rows, cols),
              x.data(), 1, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    double want = 0, bound = 0;
    for (int64_t b = 0; b < cols / 32; ++b) {
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
      for (int i = 0; i < 32; ++i) {
        want += wf[r * cols + b * 32 + i] * x[b * 32 + i];
        bound += std::fabs(wf[r * cols + b * 32 + i]) * (amax / 254.0 * 1.01);
      }
    }
    EXPECT_NEAR(y[r], want, bound + 1e-6) << r;
  }
}

TEST(matmul, converters_are_bit_identical_on_every_backend) {
  std::mt19937 rng(11);
  for (int64_t cols : {256, 512, 1024}) {
    auto x = random_floats(rng, cols, 3.f);
    x[5] = 0.5f;  // exact halves after scaling are rare; still exercise odd values
    std::fill(x.begin() + 256 - 32, x.begin() + 256, 0.f);  // an all-zero block
    if (cols >= 512) {  // Q8_K: |x| max reached twice; the first (+ here, - next block) signs d
      x[256 + 40] = 100.f, x[256 + 200] = -100.f;
      if (cols >= 768) x[512 + 3] = -100.f, x[512 + 255] = 100.f;
    }
    for (int fi = 0; fi < act_format_count; ++fi) {
      const auto f = static_cast<act_format>(fi);
      const size_t arb = act_row_bytes(f, cols);
      std::vector<uint8_t> want(arb), got(arb + 4);
      scalar_backend().convert[fi](x.data(), want.data(), cols);
      for (auto id : available_backends()) {
        const auto* be = find_backend(id);
        if (be->convert[fi] == nullptr) continue;
        // Destination 4 bytes past a 64-byte boundary: naturally aligned for the block fields
        // (as GGUF data always is), misaligned for every vector load and store.
        be->convert[fi](x.data(), got.data() + 4, cols);
        EXPECT_EQ(0, std::memcmp(want.data(), got.data() + 4, arb))
            << be->name << " format " << fi << " cols " << cols;
      }
    }
  }
}

TEST(matmul, every_backend_matches_scalar_on_odd_shapes) {
  std::mt19937 rng(42);
  int x16_runs = 0;  // products that took the x16-on-the-fly prefill path
  thread_pool pool2(2), pool3(3);
  for (dtype t : test::matmul_types()) {
    const int64_t blk = traits(t).block_elems == 1 ? 32 : traits(t).block_elems;
    const std::vector<int64_t> col_set =
        blk == 256 ? std::vector<int64_t>{256, 768, 1280} : std::vector<int64_t>{32, 96, 544, 896};
    for (int64_t cols : col_set) {
      for (int64_t rows : {1, 5, 16, 37, 48}) {
        auto wbuf = random_rows(rng, t, rows, cols);
        // Weights 4 bytes off a vector boundary (block fields stay naturally aligned, as in GGUF).
        std::vector<uint8_t> wmis(wbuf.size() + 4);
        std::memcpy(wmis.data() + 4, wbuf.data(), wbuf.size());
        const auto w = view_of(t, wmis.data() + 4, rows, cols);
        // n >= 16 reaches the tile-matrix (AMX) path where the CPU has one; 65 and 70 leave a
        // slice of 1 and 6 rows past the prefill's 64-row activation slices (65: the x16 gemm
        // tiles' single-row pass).
        for (int64_t n : {1, 2, 3, 4, 5, 9, 16, 33, 65, 70}) {
          if (n >= 16 && rows != 37 && rows != 48 && !(n == 16 && rows == 5)) continue;
          if (rows == 48 && n < 16) continue;  // 48 rows: the x16-on-the-fly prefill path
          if (n >= 65 && cols > 256) continue;
          std::vector<float> xbuf(n * cols + 1);
          auto xr = random_floats(rng, n * cols);
          std::copy(xr.begin(), xr.end(), xbuf.begin() + 1);  // misaligned activations
          const float* x = xbuf.data() + 1;
          const reference_product ref = reference(w, x, n);
          const std::vector<float>& want = ref.y;
          for (auto id : available_backends()) {
            if (matmul_order_class(*find_backend(id), w, n) == 2) ++x16_runs;
            for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool2, &pool3}) {
              std::vector<float> got(n * rows, NAN);
              matmul_on(*find_backend(id), w, x, n, got.data(), pool);
              if (matmul_rounds_to_bf16(*find_backend(id), w, n)) {
                ASSERT_EQ(0, test::bf16_product_misses(w, x, n, got.data()))
                    << find_backend(id)->name << " " << dtype_name(t) << " rows " << rows
                    << " cols " << cols << " n " << n;
                continue;
              }
              for (size_t i = 0; i < got.size(); ++i)
                ASSERT_NEAR(got[i], want[i], ref.tol(i))
                    << find_backend(id)->name << " " << dtype_name(t) << " rows " << rows
                    << " cols " << cols << " n " << n << " i " << i << " threads "
                    << (pool ? pool->size() : 1);
            }
          }
        }
      }
    }
  }
  const auto* be512 = find_backend(backend_id::avx512);
  if (be512 != nullptr && be512->gemm_x16[static_cast<size_t>(dtype::q4_0)] != nullptr) {
    EXPECT_GT(x16_runs, 0);
  }
}

// Where a backend reports one summation order for decode (n = 1) and a small batch, the first
// activation row's outputs are the same floats either way: the decode tiles (rows in groups of
// 8 / 4, one shared horizontal sum) must pair the lanes as the prefill tiles' per-row sums do,
// or prefill and token-by-token decode drift apart (PrefillThenDecodeEqualsTokenByToken).
TEST(matmul, decode_and_batch_sum_each_row_alike) {
  std::mt19937 rng(7);
  thread_pool pool2(2);
  int compared = 0;
  for (dtype t : test::matmul_types()) {
    const int64_t blk = traits(t).block_elems == 1 ? 32 : traits(t).block_elems;
    // K formats: 3 super-blocks (a row tail only) and 6 (a group of four and a tail of two)
    for (int64_t cols :
         blk == 256 ? std::vector<int64_t>{768, 1536} : std::vector<int64_t>{544, 896}) {
      for (int64_t rows : {13, 37}) {  // groups of 8 and 4 plus single rows
        auto wbuf = random_rows(rng, t, rows, cols);
        const auto w = view_of(t, wbuf.data(), rows, cols);
        const int64_t n = 3;
        const auto x = random_floats(rng, n * cols);
        for (auto id : available_backends()) {
          const matmul_backend& be = *find_backend(id);
          if (matmul_order_class(be, w, 1) != matmul_order_class(be, w, n)) continue;
          std::vector<float> one(rows), batch(n * rows);
          matmul_on(be, w, x.data(), 1, one.data(), &pool2);
          matmul_on(be, w, x.data(), n, batch.data(), &pool2);
          EXPECT_EQ(0, std::memcmp(one.data(), batch.data(), rows * sizeof(float)))
              << be.name << " " << dtype_name(t) << " rows " << rows << " cols " << cols;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 0);
}

// Rows of 17..31 blocks (qwen2.5-0.5b's 896 columns: 28) decode as one stream of chunks across
// the row ends on AVX-512: row periods of 2 to 16 rows, row counts that end mid-period, several
// pool pieces, and longer rows that keep the row-by-row tiles, whose last chunk holds 4 (36
// blocks: Gemma 3 1B's 1152 columns), 7, 13, 1, 10 or 8 blocks and skips the groups past them.
// Each matches the scalar reference, and decode the first row of a batch bit for bit.
TEST(matmul, rows_that_end_inside_a_chunk_match_scalar_and_batch) {
  std::mt19937 rng(31);
  thread_pool pool2(2);
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0}) {
    for (int64_t nb : {17, 18, 20, 24, 28, 36, 39, 45, 65, 90, 152}) {
      const int64_t cols = 32 * nb, rows = nb > 64 ? 45 : 203;
      auto wbuf = random_rows(rng, t, rows, cols);
      const auto w = view_of(t, wbuf.data(), rows, cols);
      for (int64_t n : {1, 3, 7}) {
        auto x = random_floats(rng, n * cols);
        const reference_product ref = reference(w, x.data(), n);
        const std::vector<float>& want = ref.y;
        for (auto id : available_backends()) {
          const matmul_backend& be = *find_backend(id);
          std::vector<float> got(n * rows, NAN), one(rows, NAN);
          matmul_on(be, w, x.data(), n, got.data(), &pool2);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], ref.tol(i))
                << be.name << " " << dtype_name(t) << " blocks " << nb << " n " << n << " i " << i;
          if (matmul_order_class(be, w, 1) != matmul_order_class(be, w, n)) continue;
          matmul_on(be, w, x.data(), 1, one.data(), nullptr);
          EXPECT_EQ(0, std::memcmp(one.data(), got.data(), rows * sizeof(float)))
              << be.name << " " << dtype_name(t) << " blocks " << nb << " n " << n;
        }
      }
    }
  }
}

TEST(matmul, x16_layout_round_trips_and_every_backend_matches_the_rows_layout_reference) {
  std::mt19937 rng(17);
  thread_pool pool2(2), pool3(3);
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0, dtype::q2_k,
                  dtype::q3_k, dtype::q4_k, dtype::q5_k, dtype::q6_k}) {
    const std::vector<int64_t> col_set = traits(t).block_elems == 256
                                             ? std::vector<int64_t>{256, 768, 2048}
                                             : std::vector<int64_t>{32, 96, 544, 1024};
    for (int64_t cols : col_set) {
      for (int64_t rows : {16, 48, 160}) {
        auto wbuf = random_rows(rng, t, rows, cols);
        const auto w = view_of(t, wbuf.data(), rows, cols);
        std::vector<uint8_t> ibuf(wbuf.size() + 64);  // 4 bytes off a vector boundary
        uint8_t* idata = ibuf.data() + 4;
        interleave(w, idata, rows > 16 ? &pool2 : nullptr);
        {  // the same rows 3 bytes off any alignment give the same bytes
          std::vector<uint8_t> shifted(wbuf.size() + 3), again(wbuf.size());
          std::memcpy(shifted.data() + 3, wbuf.data(), wbuf.size());
          matrix_view ws = w;
          ws.data = shifted.data() + 3;
          interleave(ws, again.data(), nullptr);
          ASSERT_EQ(0, std::memcmp(again.data(), idata, wbuf.size()))
              << dtype_name(t) << " rows " << rows << " cols " << cols;
          // and every copy this CPU has (the AVX2 one serves CPUs without AVX-512) the same
          for (copy_isa isa : {copy_isa::scalar, copy_isa::avx2, copy_isa::avx512}) {
            std::fill(again.begin(), again.end(), uint8_t{0xA5});
            interleave(ws, again.data(), nullptr, false, isa);
            ASSERT_EQ(0, std::memcmp(again.data(), idata, wbuf.size()))
                << dtype_name(t) << " rows " << rows << " cols " << cols << " isa "
                << static_cast<int>(isa);
          }
        }
        matrix_view wi = w;
        wi.data = idata;
        wi.layout = weight_layout::x16;
        EXPECT_FALSE(interleave_supported(wi));  // already interleaved
        std::vector<uint8_t> row(w.row_bytes);
        for (int64_t r = 0; r < rows; ++r) {
          deinterleave_row(wi, r, row.data());
          ASSERT_EQ(0, std::memcmp(row.data(), wbuf.data() + r * w.row_bytes, w.row_bytes)) << r;
        }
        for (int64_t n : {1, 2, 3, 5, 9, 16, 33}) {
          if (n >= 16 && cols > 768) continue;
          auto x = random_floats(rng, n * cols);
          const reference_product ref = reference(w, x.data(), n);
          const std::vector<float>& want = ref.y;
          for (auto id : available_backends()) {
            for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool2, &pool3}) {
              std::vector<float> got(n * rows, NAN);
              matmul_on(*find_backend(id), wi, x.data(), n, got.data(), pool);
              if (matmul_rounds_to_bf16(*find_backend(id), wi, n)) {
                ASSERT_EQ(0, test::bf16_product_misses(w, x.data(), n, got.data()))
                    << find_backend(id)->name << " " << dtype_name(t) << " rows " << rows
                    << " cols " << cols << " n " << n;
                continue;
              }
              for (size_t i = 0; i < got.size(); ++i) {
                if (id == backend_id::scalar)  // same dots in the same order
                  ASSERT_EQ(got[i], want[i])
                      << dtype_name(t) << " rows " << rows << " cols " << cols << " n " << n;
                else
                  ASSERT_NEAR(got[i], want[i], ref.tol(i))
                      << find_backend(id)->name << " " << dtype_name(t) << " rows " << rows
                      << " cols " << cols << " n " << n << " i " << i << " threads "
                      << (pool ? pool->size() : 1);
              }
            }
          }
        }
      }
    }
  }
}

// Where a backend unpacks a prefill task's x16 groups once (x16_expand: Q5_0, Q6_K), its
// tiles over the widened bytes give the same floats as the unpacking tiles over the groups, for
// any number of activation rows; and the expansion is what the products see: a wrong byte there
// changes them.
TEST(matmul, expanded_x16_groups_give_the_unpacking_tiles_bits) {
  std::mt19937 rng(23);
  int checked = 0;
  constexpr int64_t rows = 48;
  // gemm over weights w (x16 groups or their expansion) and n random activation rows.
  const auto product = [&](const matmul_backend& be, dtype t, gemm_fn gemm, const uint8_t* w,
                           int64_t cols, const std::vector<float>& x, int64_t n) {
    const auto ti = static_cast<size_t>(t);
    const act_format af = act_format_for(t);
    const auto xa = convert_rows(af, x.data(), n, cols);
    std::vector<float> y(n * rows, NAN);
    std::vector<uint8_t> prep;
    gemm_args g;
    g.w = w;
    g.w_row_bytes = static_cast<size_t>(cols / traits(t).block_elems * traits(t).block_bytes);
    g.rows = rows;
    g.cols = cols;
    g.a = xa.data();
    g.a_row_bytes = act_row_bytes(af, cols);
    g.n = n;
    g.y = y.data();
    g.ldy = rows;
    if (be.gemm_prep_x16[ti] != nullptr) {
      g.prep_row_bytes = be.gemm_prep_x16[ti](nullptr, cols, nullptr);
      prep.resize(g.prep_row_bytes * n);
      for (int64_t j = 0; j < n; ++j)
        be.gemm_prep_x16[ti](xa.data() + j * g.a_row_bytes, cols,
                             prep.data() + j * g.prep_row_bytes);
      g.prep = prep.data();
    }
    gemm(g);
    return y;
  };
  for (auto id : available_backends()) {
    const matmul_backend& be = *find_backend(id);
    for (dtype t : test::matmul_types()) {
      const auto ti = static_cast<size_t>(t);
      if (be.x16_expand[ti] == nullptr) continue;
      ASSERT_NE(be.gemm_x16_expanded[ti], nullptr) << be.name << " " << dtype_name(t);
      const std::vector<int64_t> col_set = traits(t).block_elems == 256
                                               ? std::vector<int64_t>{256, 768}
                                               : std::vector<int64_t>{32, 96, 544};
      for (int64_t cols : col_set) {
        auto wbuf = random_rows(rng, t, rows, cols);
        std::vector<uint8_t> packed(wbuf.size());
        interleave(view_of(t, wbuf.data(), rows, cols), packed.data(), nullptr);
        const size_t bytes = be.x16_expand[ti](nullptr, rows, cols, nullptr);
        EXPECT_GE(bytes, packed.size());  // the operands as bytes, the scales as they are
        std::vector<uint8_t> wide(bytes + 64);
        uint8_t* expanded = wide.data() + 4;  // off a vector boundary
        EXPECT_EQ(be.x16_expand[ti](packed.data(), rows, cols, expanded), bytes);
        for (int64_t n : {1, 7, 17, 64}) {
          const auto x = random_floats(rng, n * cols);
          const auto want = product(be, t, be.gemm_x16[ti], packed.data(), cols, x, n);
          const auto got = product(be, t, be.gemm_x16_expanded[ti], expanded, cols, x, n);
          ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
              << be.name << " " << dtype_name(t) << " cols " << cols << " n " << n;
          ++checked;
        }
        // The middle third of the expansion changed (operands, and scales where they lie there):
        // the products see it (one byte alone may meet a zero scale or activation).
        const auto x = random_floats(rng, cols);
        const auto before = product(be, t, be.gemm_x16_expanded[ti], expanded, cols, x, 1);
        for (size_t i = bytes / 3; i < 2 * bytes / 3; ++i) expanded[i] ^= 0x01;
        const auto after = product(be, t, be.gemm_x16_expanded[ti], expanded, cols, x, 1);
        EXPECT_NE(0, std::memcmp(after.data(), before.data(), after.size() * sizeof(float)))
            << be.name << " " << dtype_name(t) << " cols " << cols;
      }
    }
  }
  const auto* be512 = find_backend(backend_id::avx512);
  if (be512 != nullptr && be512->x16_expand[static_cast<size_t>(dtype::q5_0)] != nullptr) {
    EXPECT_GT(checked, 0);
  }
}

// Weights are mapped from the file, and the last tensor may end at the mapping's last byte: no
// kernel (decode, batched decode, prefill's on-the-fly interleave) may read past a matrix. Each
// matrix here ends where an inaccessible page begins.
TEST(matmul, no_kernel_reads_past_the_matrix_end) {
  std::mt19937 rng(23);
  thread_pool pool2(2);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (dtype t :
       {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0, dtype::q2_k, dtype::q3_k,
        dtype::q4_k, dtype::q5_k, dtype::q6_k, dtype::f16, dtype::bf16, dtype::f32}) {
    const int64_t rows = 48, cols = 768;  // 24 / 3 blocks a row, 3 x16 groups
    const auto wbuf = random_rows(rng, t, rows, cols);
    const size_t span = (wbuf.size() + page - 1) / page * page;
    void* m =
        mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    auto* base = static_cast<uint8_t*>(m);
    ASSERT_EQ(0, mprotect(base + span, page, PROT_NONE));
    uint8_t* at = base + span - wbuf.size();  // the last weight byte is the page's last
    std::memcpy(at, wbuf.data(), wbuf.size());
    const auto w = view_of(t, at, rows, cols);
    if (interleave_supported(w) || x16_layout_fits(w)) {
      std::vector<uint8_t> out(wbuf.size());
      for (copy_isa isa : {copy_isa::scalar, copy_isa::avx2, copy_isa::avx512})
        interleave(w, out.data(), nullptr, false, isa);
      interleave(w, out.data(), &pool2);
    }
    for (int64_t n : {1, 2, 4, 8, 16, 40}) {
      auto x = random_floats(rng, n * cols);
      const reference_product ref = reference(view_of(t, wbuf.data(), rows, cols), x.data(), n);
      const std::vector<float>& want = ref.y;
      for (auto id : available_backends()) {
        const matmul_backend& be = *find_backend(id);
        std::vector<float> got(n * rows, NAN);
        matmul_on(be, w, x.data(), n, got.data(), &pool2);
        if (matmul_rounds_to_bf16(be, w, n)) {
          EXPECT_EQ(0, test::bf16_product_misses(w, x.data(), n, got.data())) << be.name;
          continue;
        }
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], ref.tol(i))
              << be.name << " " << dtype_name(t) << " n " << n << " i " << i;
      }
    }
    munmap(m, span + page);
  }
}

TEST(matmul, x16_is_offered_only_where_it_applies) {
  std::mt19937 rng(19);
  auto q4 = random_rows(rng, dtype::q4_0, 32, 64);
  auto f16 = random_rows(rng, dtype::f16, 32, 64);
  EXPECT_FALSE(interleave_supported(view_of(dtype::q4_0, q4.data(), 24, 64)));  // 24 % 16 != 0
  EXPECT_FALSE(interleave_supported(view_of(dtype::f16, f16.data(), 32, 64)));  // no x16 layout
  auto w = view_of(dtype::q4_0, q4.data(), 32, 64);
  const auto& be = best_backend();
  const bool native = be.matvec_x16[static_cast<size_t>(dtype::q4_0)] !=
                      scalar_backend().matvec_x16[static_cast<size_t>(dtype::q4_0)];
  EXPECT_EQ(interleave_supported(w), native) << be.name;
  w.row_bytes += 1;  // inconsistent row size
  EXPECT_FALSE(interleave_supported(w));
}

// Random matrices of type t, `cols` wide, one for each row count (their bytes in bufs).
template <size_t N>
std::vector<matrix_view> random_matrices(std::mt19937& rng, dtype t, const int64_t (&rows)[N],
                                         int64_t cols, std::vector<std::vector<uint8_t>>& bufs) {
  std::vector<matrix_view> ws;
  for (int64_t r : rows) {
    bufs.push_back(random_rows(rng, t, r, cols));
    ws.push_back(view_of(t, bufs.back().data(), r, cols));
  }
  return ws;
}

// x16 copies of ws (into bufs) up to the first matrix the backend cannot interleave.
std::vector<matrix_view> x16_copies(const std::vector<matrix_view>& ws,
                                    std::vector<std::vector<uint8_t>>& bufs) {
  std::vector<matrix_view> out;
  for (const matrix_view& w : ws) {
    if (!interleave_supported(w)) break;
    bufs.emplace_back(w.row_bytes * static_cast<size_t>(w.rows));
    interleave(w, bufs.back().data(), nullptr);
    matrix_view wi = w;
    wi.data = bufs.back().data(), wi.layout = weight_layout::x16;
    out.push_back(wi);
  }
  return out;
}

TEST(matmul, many_equals_separate_products) {
  std::mt19937 rng(29);
  thread_pool pool(2);
  for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::f16}) {
    const int64_t cols = 512;
    const int64_t rows[] = {64, 32, 48};
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<matrix_view> ws = random_matrices(rng, t, rows, cols, bufs);
    // The same matrices interleaved (x16 layout, as --repack loads them).
    std::vector<std::vector<uint8_t>> ibufs;
    std::vector<matrix_view> wis = x16_copies(ws, ibufs);
    // n = 40: prefill, where the x16 path converts the activation once for all matrices (in
    // either layout).
    for (int64_t n : {1, 3, 40}) {
      auto x = random_floats(rng, n * cols);
      for (auto id : available_backends()) {
        for (const auto* set : {&ws, &wis}) {
          if (set->empty()) continue;
          std::vector<std::vector<float>> want(3), got(3);
          std::vector<float*> outs;
          for (int i = 0; i < 3; ++i) {
            want[i].resize(n * rows[i]);
            got[i].assign(n * rows[i], NAN);
            matmul_on(*find_backend(id), (*set)[i], x.data(), n, want[i].data(), &pool);
            outs.push_back(got[i].data());
          }
          matmul_many_on(*find_backend(id), *set, x.data(), n, outs, &pool);
          for (int i = 0; i < 3; ++i)
            EXPECT_EQ(got[i], want[i]) << find_backend(id)->name << " " << dtype_name(t) << " n "
                                       << n << " matrix " << i << (set == &wis ? " x16" : " rows");
        }
      }
    }
  }
  // Prefill of Q4_K with Q6_K (a Q4_K_M model's Q/K/V): one conversion, one task list, the
  // same bits as separate products on every backend.
  {
    const int64_t cols = 512, n = 37;
    auto k4 = random_rows(rng, dtype::q4_k, 64, cols), k6 = random_rows(rng, dtype::q6_k, 48, cols);
    const matrix_view qkv[] = {view_of(dtype::q4_k, k4.data(), 64, cols),
                               view_of(dtype::q6_k, k6.data(), 48, cols),
                               view_of(dtype::q4_k, k4.data(), 32, cols)};
    auto x = random_floats(rng, n * cols);
    for (auto id : available_backends()) {
      std::vector<std::vector<float>> want(3), got(3);
      std::vector<float*> outs;
      for (int i = 0; i < 3; ++i) {
        want[i].resize(static_cast<size_t>(n * qkv[i].rows));
        got[i].assign(static_cast<size_t>(n * qkv[i].rows), NAN);
        matmul_on(*find_backend(id), qkv[i], x.data(), n, want[i].data(), &pool);
        outs.push_back(got[i].data());
      }
      matmul_many_on(*find_backend(id), qkv, x.data(), n, outs, &pool);
      for (int i = 0; i < 3; ++i)
        EXPECT_EQ(got[i], want[i]) << find_backend(id)->name << " q4_k + q6_k matrix " << i;
    }
  }
  // Mixed types fall back to one product each.
  auto a = random_rows(rng, dtype::q4_0, 32, 64), b = random_rows(rng, dtype::q8_0, 16, 64);
  const matrix_view mixed[] = {view_of(dtype::q4_0, a.data(), 32, 64),
                               view_of(dtype::q8_0, b.data(), 16, 64)};
  auto x = random_floats(rng, 64);
  std::vector<float> y0(32), y1(16), w0(32), w1(16);
  float* const outs[] = {y0.data(), y1.data()};
  matmul_many(mixed, x.data(), 1, outs, &pool);
  matmul(mixed[0], x.data(), 1, w0.data(), nullptr);
  matmul(mixed[1], x.data(), 1, w1.data(), nullptr);
  EXPECT_EQ(y0, w0);
  EXPECT_EQ(y1, w1);
}

// matmul_grouped (a mixture of experts' matrices, each over its own tokens' rows): one job where
// the matrices share type, layout and width and every group fits decode's pieces; the same bits
// as one product each, on every backend: one row each (decode), a row picked twice, groups of
// 2 .. 5 rows next to single rows (batched decode), the x16 layout, odd row counts and one below a
// piece; a group of 40 rows (the prefill kernels) and mixed types fall back to one product each.
TEST(matmul, grouped_equals_one_product_per_group) {
  std::mt19937 rng(37);
  thread_pool pool(2);
  for (dtype t : {dtype::q4_0, dtype::q8_0, dtype::q4_k, dtype::q6_k, dtype::f16, dtype::f32}) {
    const int64_t cols = 768;
    const int64_t rows[] = {48, 16, 272, 32, 80};
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<matrix_view> ws = random_matrices(rng, t, rows, cols, bufs);
    std::vector<std::vector<uint8_t>> ibufs;
    std::vector<matrix_view> wis = x16_copies(ws, ibufs);
    if (wis.size() != ws.size()) wis.clear();
    const auto x = random_floats(rng, 48 * cols);
    const std::vector<std::vector<matmul_rows>> layouts = {
        {{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}},   // one row each
        {{3, 1}, {0, 1}, {3, 1}, {1, 1}, {0, 1}},   // picked, repeated
        {{0, 2}, {2, 1}, {3, 5}, {8, 3}, {11, 1}},  // batched decode
        {{0, 40}, {40, 1}, {41, 2}, {43, 1}, {44, 3}}};
    for (auto id : available_backends()) {
      for (const auto* set : {&ws, &wis}) {
        if (set->empty()) continue;
        for (size_t li = 0; li < layouts.size(); ++li) {
          const auto& groups = layouts[li];
          std::vector<std::vector<float>> want(5), got(5);
          std::vector<float*> outs;
          for (size_t i = 0; i < 5; ++i) {
            const size_t n = static_cast<size_t>(groups[i].count * rows[i]);
            want[i].resize(n);
            got[i].assign(n, NAN);
            matmul_on(*find_backend(id), (*set)[i], x.data() + groups[i].first * cols,
                      groups[i].count, want[i].data(), &pool);
            outs.push_back(got[i].data());
          }
          matmul_grouped_on(*find_backend(id), *set, x.data(), groups, outs, &pool);
          for (size_t i = 0; i < 5; ++i)
            EXPECT_EQ(got[i], want[i])
                << find_backend(id)->name << " " << dtype_name(t) << " layout " << li << " matrix "
                << i << (set == &wis ? " x16" : " rows");
        }
      }
    }
  }
  auto a = random_rows(rng, dtype::q4_0, 32, 64), b = random_rows(rng, dtype::q8_0, 16, 64);
  const matrix_view mixed[] = {view_of(dtype::q4_0, a.data(), 32, 64),
                               view_of(dtype::q8_0, b.data(), 16, 64)};
  const auto x = random_floats(rng, 128);
  std::vector<float> y0(32), y1(16), w0(32), w1(16);
  float* const outs[] = {y0.data(), y1.data()};
  const matmul_rows one_each[] = {{0, 1}, {1, 1}};
  matmul_grouped(mixed, x.data(), one_each, outs, &pool);
  matmul(mixed[0], x.data(), 1, w0.data(), nullptr);
  matmul(mixed[1], x.data() + 64, 1, w1.data(), nullptr);
  EXPECT_EQ(y0, w0);
  EXPECT_EQ(y1, w1);
}

// Decode's split: each share starts on a piece boundary (a multiple of decode_piece_rows rows
// from its matrix's start), at or after t / nt of the bytes and before any later piece that
// would do, in order of t; and a `then` hint (the warm-up of the next call) changes no result.
TEST(matmul, decode_shares_and_then_hint) {
  std::mt19937 rng(31);
  const int64_t cols = 1024;
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<matrix_view> ws;
  for (int64_t r : {2048, 16, 0, 1024, 1000}) {
    bufs.push_back(random_rows(rng, dtype::q4_0, std::max<int64_t>(r, 1), cols));
    ws.push_back(view_of(dtype::q4_0, bufs.back().data(), r, cols));
  }
  const size_t rb = ws[0].row_bytes;
  size_t total = 0;
  for (const auto& w : ws) total += static_cast<size_t>(w.rows) * rb;
  for (int nt : {1, 2, 3, 7, 64}) {
    size_t last = 0;
    for (int t = 0; t < nt; ++t) {
      const share_point p = decode_share_start(ws, t, nt);
      const size_t at = total / static_cast<size_t>(nt) * static_cast<size_t>(t);
      if (p.matrix == ws.size()) {
        last = total;
        continue;
      }
      ASSERT_LT(p.matrix, ws.size());
      EXPECT_GT(ws[p.matrix].rows, 0);
      EXPECT_EQ(p.row % decode_piece_rows(rb), 0);
      EXPECT_LT(p.row, ws[p.matrix].rows);
      size_t before = 0;
      for (size_t m = 0; m < p.matrix; ++m) before += static_cast<size_t>(ws[m].rows) * rb;
      const size_t start = before + static_cast<size_t>(p.row) * rb;
      EXPECT_GE(start, at) << nt << " " << t;
      EXPECT_GE(start, last);
      // The piece before it (in its matrix, or the previous matrix's last) starts before `at`.
      if (p.row > 0) {
        EXPECT_LT(start - static_cast<size_t>(decode_piece_rows(rb)) * rb, at);
      }
      last = start;
    }
    EXPECT_EQ(decode_share_start(ws, 0, nt).matrix, 0u);
    EXPECT_EQ(decode_share_start(ws, 0, nt).row, 0);
  }
  const std::vector<matrix_view> none;
  EXPECT_EQ(decode_share_start(none, 1, 2).matrix, 0u);

  thread_pool pool(2);
  auto x = random_floats(rng, cols);
  const matrix_view first[] = {ws[3], ws[4]};
  std::vector<float> want0(1024), want1(1000), got0(1024), got1(1000), y(2048), yw(2048);
  float* const want[] = {want0.data(), want1.data()};
  float* const got[] = {got0.data(), got1.data()};
  matmul_many(first, x.data(), 1, want, &pool);
  matmul_many(first, x.data(), 1, got, &pool, ws);
  EXPECT_EQ(got0, want0);
  EXPECT_EQ(got1, want1);
  matmul(ws[0], x.data(), 1, yw.data(), &pool);
  matmul(ws[0], x.data(), 1, y.data(), &pool, first);
  EXPECT_EQ(y, yw);
  // The last call's warm-up runs to its end (no job follows it); bounded wait, no timing asserted.
  // Only a worker that ran its share warms: one that came late was left out of the job
  // (thread_pool::run_shared; under ctest -j2 on 2 cores it happened in a whole 10 s wait), so
  // the call is repeated until a worker took part.
  for (int call = 0; call < 100 && pool.warmed_bytes() < (256u << 10); ++call) {
    if (call > 0) matmul(ws[0], x.data(), 1, y.data(), &pool, first);
    for (int i = 0; i < 100 && pool.warmed_bytes() < (256u << 10); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(pool.warmed_bytes(), 256u << 10) << pool.workers_left_out() << " workers left out";
}

// The AVX-VNNI build computes the AVX2 kernels' integers with other instructions: every type,
// decode and prefill shapes, rows that end inside a kernel chunk, the same bits.
TEST(matmul, avx2_vnni_matches_avx2_bit_for_bit) {
  const auto* avx2 = find_backend(backend_id::avx2);
  const auto* vnni = find_backend(backend_id::avx2_vnni);
  if (avx2 == nullptr || vnni == nullptr) GTEST_SKIP() << "no AVX-VNNI on this CPU";
  std::mt19937 rng(41);
  thread_pool pool(2);
  for (dtype t : test::matmul_types()) {
    for (int64_t cols : {256, 1280}) {
      // 48 rows and n >= 16: the formats with an x16 layout take the x16 prefill tiles
      // (interleaved on the fly).
      for (int64_t rows : {37, 48}) {
        auto w = random_rows(rng, t, rows, cols);
        const auto v = view_of(t, w.data(), rows, cols);
        for (int64_t n : {1, 3, 21}) {
          if (rows == 48 && n < 16) continue;
          if (rows == 48 &&
              (t == dtype::q4_0 || t == dtype::q5_0 || t == dtype::q8_0 || t == dtype::q2_k ||
               t == dtype::q3_k || t == dtype::q4_k || t == dtype::q5_k || t == dtype::q6_k)) {
            EXPECT_EQ(matmul_order_class(*avx2, v, n), 2) << dtype_name(t);
            EXPECT_EQ(matmul_order_class(*vnni, v, n), 2) << dtype_name(t);
          }
          auto x = random_floats(rng, static_cast<size_t>(n * cols));
          std::vector<float> a(static_cast<size_t>(n * rows)), b(a.size(), NAN);
          matmul_on(*avx2, v, x.data(), n, a.data(), &pool);
          matmul_on(*vnni, v, x.data(), n, b.data(), &pool);
          EXPECT_EQ(a, b) << dtype_name(t) << " rows " << rows << " cols " << cols << " n " << n;
        }
      }
    }
  }
}

TEST(matmul, dispatch_reports_a_backend_and_supported_types) {
  EXPECT_NE(std::string(matmul_backend_name()), "");
  for (dtype t : test::matmul_types()) EXPECT_TRUE(matmul_supports(t)) << dtype_name(t);
  EXPECT_FALSE(matmul_supports(dtype::iq2_xxs));
  EXPECT_FALSE(matmul_supports(dtype::i32));
}

TEST(matmul, production_entry_equals_best_backend) {
  std::mt19937 rng(5);
  const int64_t rows = 19, cols = 256;
  auto wb = random_rows(rng, dtype::q4_k, rows, cols);
  const auto w = view_of(dtype::q4_k, wb.data(), rows, cols);
  auto x = random_floats(rng, 2 * cols);
  std::vector<float> a(2 * rows), b(2 * rows);
  thread_pool pool(2);
  matmul(w, x.data(), 2, a.data(), &pool);
  matmul_on(best_backend(), w, x.data(), 2, b.data(), nullptr);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ(a[i], b[i]);
}

}  // namespace
}  // namespace uma::kernels
