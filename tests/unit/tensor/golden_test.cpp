// The codecs against ggml itself (../shared/data/golden/quants.gguf): dequantizing ggml's bytes
// gives ggml's floats bit for bit, and our quantizers' error on the same rows is no worse than
// ggml's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "test_util.h"

namespace uma {
namespace {

struct golden_type {
  const char* suffix;  // as the file names it
  dtype type;
  double ggml_rel_rms;  // README: relative RMS error of ggml's format over all rows
};

const golden_type kGolden[] = {
    {"f16", dtype::f16, 2.1e-4},   {"bf16", dtype::bf16, 1.6e-3}, {"q8_0", dtype::q8_0, 5.1e-3},
    {"q4_0", dtype::q4_0, 8.2e-2}, {"q4_1", dtype::q4_1, 7.4e-2}, {"q5_0", dtype::q5_0, 4.1e-2},
    {"q5_1", dtype::q5_1, 3.6e-2}, {"q2_K", dtype::q2_k, 0.29},   {"q3_K", dtype::q3_k, 0.15},
    {"q4_K", dtype::q4_k, 7.2e-2}, {"q5_K", dtype::q5_k, 3.4e-2}, {"q6_K", dtype::q6_k, 1.7e-2},
};

class golden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto f = gguf::file::open(test::shared_data("golden/quants.gguf"));
    ASSERT_TRUE(f.ok()) << f.message();
    file_ = new gguf::file(std::move(f).value());
  }
  static void TearDownTestSuite() {
    delete file_;
    file_ = nullptr;
  }

  static std::vector<float> floats(const gguf::tensor_info& t) {
    std::vector<float> v(t.n_elements);
    std::memcpy(v.data(), t.data.data(), t.n_elements * 4);
    return v;
  }

  static gguf::file* file_;
};
gguf::file* golden::file_ = nullptr;

constexpr int64_t kCols = 512, kRows = 12;

TEST_F(golden, dequantize_matches_ggml_bit_for_bit) {
  for (const auto& g : kGolden) {
    const auto* q = file_->find_tensor(std::string("q.") + g.suffix);
    const auto* dq = file_->find_tensor(std::string("dq.") + g.suffix);
    ASSERT_NE(q, nullptr) << g.suffix;
    ASSERT_NE(dq, nullptr) << g.suffix;
    ASSERT_EQ(q->type, g.type) << g.suffix;
    ASSERT_EQ(q->ne[0], kCols);
    ASSERT_EQ(q->rows(), kRows);
    const auto expected = floats(*dq);
    std::vector<float> got(kCols);
    const size_t rb = q->row_bytes();
    int mismatches = 0;
    for (int64_t r = 0; r < kRows; ++r) {
      ASSERT_TRUE(dequantize_row(g.type, q->data.data() + r * rb, got.data(), kCols).ok());
      for (int64_t i = 0; i < kCols; ++i) {
        if (std::memcmp(&got[i], &expected[r * kCols + i], 4) != 0 && mismatches++ < 5)
          ADD_FAILURE() << g.suffix << " row " << r << " col " << i << ": " << got[i]
                        << " != " << expected[r * kCols + i];
      }
    }
    EXPECT_EQ(mismatches, 0) << g.suffix;
  }
}

// Formats with nothing to choose (no scale search) give ggml's bytes exactly.
TEST_F(golden, f16_bf16_q8_0_quantize_to_ggml_bytes) {
  const auto src = floats(*file_->find_tensor("src"));
  for (dtype t : {dtype::f16, dtype::bf16, dtype::q8_0}) {
    const auto* q = file_->find_tensor(std::string("q.") + std::string(dtype_name(t)));
    ASSERT_NE(q, nullptr);
    std::vector<unsigned char> mine(q->n_bytes);
    ASSERT_TRUE(quantize_row(t, src.data(), mine.data(), kCols * kRows).ok());
    EXPECT_EQ(std::memcmp(mine.data(), q->data.data(), q->n_bytes), 0) << dtype_name(t);
  }
}

double sq_err(const float* a, const float* b, int64_t n) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i) e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return e;
}

TEST_F(golden, quantize_error_close_to_ggml_per_row) {
  const auto src = floats(*file_->find_tensor("src"));
  double src_sq = 0;
  for (float v : src) src_sq += double(v) * v;
  for (const auto& g : kGolden) {
    if (!can_quantize(g.type)) continue;
    const auto ggml = floats(*file_->find_tensor(std::string("dq.") + g.suffix));
    const size_t rb = static_cast<size_t>(*bytes_for(g.type, kCols));
    std::vector<unsigned char> q(rb);
    std::vector<float> mine(kCols);
    double total = 0;
    for (int64_t r = 0; r < kRows; ++r) {
      const float* x = src.data() + r * kCols;
      ASSERT_TRUE(quantize_row(g.type, x, q.data(), kCols).ok());
      ASSERT_TRUE(dequantize_row(g.type, q.data(), mine.data(), kCols).ok());
      const double e_mine = std::sqrt(sq_err(x, mine.data(), kCols) / kCols);
      const double e_ggml = std::sqrt(sq_err(x, ggml.data() + r * kCols, kCols) / kCols);
      const double row_rms =
          std::sqrt(sq_err(x, std::vector<float>(kCols, 0).data(), kCols) / kCols);
      // 10 % over ggml, plus 1e-4 of the row's RMS: on rows that both fit almost exactly (sparse
      // spikes) the residue is the luck of one half-precision rounding, far below format noise.
      EXPECT_LE(e_mine, 1.1 * e_ggml + 1e-4 * row_rms)
          << g.suffix << " row " << r << ": ours " << e_mine << " ggml " << e_ggml;
      total += e_mine * e_mine * kCols;
    }
    const double rel = std::sqrt(total / src_sq);
    EXPECT_LE(rel, 1.1 * g.ggml_rel_rms) << g.suffix;
    std::printf("%-5s relative RMS error over all rows: %.3g (ggml %.3g)\n", g.suffix, rel,
                g.ggml_rel_rms);
  }
}

}  // namespace
}  // namespace uma
