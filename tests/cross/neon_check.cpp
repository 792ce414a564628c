// Cross check of the NEON backend (src/kernels/matmul_neon.cpp, ops_neon.cpp) against the scalar
// backend, built for aarch64 and run under qemu-user on an x86 machine: there is no ARM runner and
// no arm64 googletest, so this is a plain main() that prints the measured errors and exits
// non-zero on any mismatch. Not part of CI / ctest.
//
//   Run:  tests/cross/run_neon.sh     (installs the cross compiler and qemu, builds, runs)
//
// Checks, with the tolerances of tests/unit/kernels/{matmul,ops}_test.cpp:
//   converters  Q8_0 / Q8_1 / Q8_K / F16 bit-identical to the scalar ones (misaligned source and
//               destination, all-zero blocks, ties, f16 overflow and subnormals);
//   matmul      every weight type, odd rows, several column counts, n in {1,2,3,5,17,64,70},
//               misaligned weights and activations, 1 and 3 threads:
//               |neon - scalar| <= 2e-5 * max|scalar| + 1e-6;
//   ops         lengths 1..80 and a few long ones, offsets 0 / 1, ops_test's tolerances;
//   attention   blocks of 16 keys, GQA-decode and prefill row counts, head widths 12..128:
//               |neon - scalar| <= 2e-5 * (1 + |scalar|), and each row alone bit-identical to
//               the same row among all (prefill == token-by-token decode).
// `neon_check --expect-no-neon` (run on a CPU model without dotprod) checks that the dispatch
// then falls back to the scalar backend instead.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/ref/scalar.h"
#include "tensor/half.h"
#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace {

using namespace uma;
using namespace uma::kernels;

int failures = 0;

void fail(const std::string& what) {
  if (++failures <= 30) std::printf("FAIL %s\n", what.c_str());
}

matrix_view view_of(dtype t, const uint8_t* data, int64_t rows, int64_t cols) {
  const auto& tr = traits(t);
  return {t, data, rows, cols, static_cast<size_t>(cols / tr.block_elems * tr.block_bytes)};
}

const char* format_name(act_format f) {
  static const char* names[] = {"f32", "f16", "bf16", "q8_0", "q8_1", "q8_k"};
  return names[static_cast<int>(f)];
}

// Inputs that hit the f16 rounding edges: overflow to inf, subnormals, exact ties.
std::vector<float> f16_edge_values() {
  std::vector<float> v = {65504.f,        65519.f,         65520.f,  -65536.f, 1e-8f,        -3e-8f,
                          0x1p-25f,       0x3p-25f,        0x1p-24f, 0x1p-14f, 0x1.ffcp-15f, -0.f,
                          1.00048828125f, 1.000732421875f, 2049.f,   4097.f};
  return v;
}

// ---------------------------------------------------------------------------------------------

void check_converters(const matmul_backend& be) {
  std::mt19937 rng(11);
  const matmul_backend& sc = scalar_backend();
  int checked = 0;
  for (int64_t cols : {256, 512, 1024, 4096}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> xbuf(cols + 1);
      auto r = test::random_floats(rng, cols, 3.f);
      std::copy(r.begin(), r.end(), xbuf.begin() + 1);
      float* x = xbuf.data() + 1;  // misaligned source
      x[5] = 0.5f;
      std::fill(x + 256 - 32, x + 256, 0.f);  // an all-zero Q8_0 block
      if (variant == 1) {                     // tiny blocks: f16 scales become subnormal
        for (int64_t i = 0; i < cols; ++i) x[i] *= i < 128 ? 1e-7f : 1e-4f;
      } else if (variant == 2) {  // the largest |x| repeated with both signs (Q8_K's sign choice)
        x[3] = 40.f;
        x[17] = -40.f;
        x[200] = 40.f;
      } else if (variant == 3) {  // values that land exactly on .5 after scaling, and f16 edges
        for (int64_t i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16) * 0.5f;
        x[40] = 127.f;
        x[41] = -63.5f;
        const auto e = f16_edge_values();
        std::copy(e.begin(), e.end(), x + 64);
      }
      if (cols == 4096) std::fill(x + 1024, x + 1024 + 256, 0.f);  // an all-zero Q8_K block
      for (int fi = 0; fi < act_format_count; ++fi) {
        if (be.convert[fi] == nullptr || be.convert[fi] == sc.convert[fi]) continue;
        const auto f = static_cast<act_format>(fi);
        const size_t arb = act_row_bytes(f, cols);
        std::vector<uint8_t> want(arb), got(arb + 4, 0xAB);
        sc.convert[fi](x, want.data(), cols);
        be.convert[fi](x, got.data() + 4, cols);  // destination 4 bytes off a vector boundary
        ++checked;
        if (std::memcmp(want.data(), got.data() + 4, arb) != 0) {
          size_t i = 0;
          while (want[i] == got[i + 4]) ++i;
          fail(std::string("convert ") + format_name(f) + " cols " + std::to_string(cols) +
               " variant " + std::to_string(variant) + ": first differing byte " +
               std::to_string(i));
        }
      }
    }
  }
  std::printf("converters: %d rows checked, bit-identical: %s\n", checked,
              failures == 0 ? "yes" : "NO");
}

// ---------------------------------------------------------------------------------------------

struct err_stat {
  double max_abs = 0, max_rel = 0;  // rel: error / max|scalar| over the output
  long exact = 0, total = 0;
};

// neon-i8mm's smmla formats: a (row, activation) pair's result does not depend on its tile, so
// every activation row multiplied alone (decode) gives the same floats as among n (prefill), for
// odd and even row and activation counts and 1 or 3 threads; the K formats give the neon backend's
// floats exactly (the same int sums, the same float code); and the types it multiplies by smmla
// are its own (not the neon backend's tiles).
void check_one_order(const matmul_backend& be) {
  std::mt19937 rng(7);
  thread_pool pool3(3);
  int checked = 0;
  for (dtype t : {dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1, dtype::q8_0, dtype::q4_k,
                  dtype::q5_k, dtype::q6_k}) {
    const auto ti = static_cast<size_t>(t);
    if (be.gemm[ti] == find_backend(backend_id::neon)->gemm[ti] || be.matvec[ti] != be.gemm[ti])
      fail(std::string("neon-i8mm does not multiply ") + std::string(dtype_name(t)) + " by smmla");
    for (int64_t rows : {1, 2, 3, 7, 16}) {
      const int64_t cols = traits(t).block_elems == 256 ? 512 : 96;
      auto wb = test::random_rows(rng, t, rows, cols);
      const auto w = view_of(t, wb.data(), rows, cols);
      for (int64_t n : {1, 2, 3, 4, 5, 9}) {
        auto x = test::random_floats(rng, n * cols);
        for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool3}) {
          std::vector<float> all(n * rows);
          matmul_on(be, w, x.data(), n, all.data(), pool);
          if (traits(t).block_elems == 256) {  // the K formats: the sdot tiles' floats exactly
            std::vector<float> sdot(n * rows);
            matmul_on(*find_backend(backend_id::neon), w, x.data(), n, sdot.data(), pool);
            if (sdot != all)
              fail(std::string(dtype_name(t)) + " rows " + std::to_string(rows) + " n " +
                   std::to_string(n) + ": not the neon backend's floats");
          }
          for (int64_t j = 0; j < n; ++j) {
            std::vector<float> one(rows);
            matmul_on(be, w, x.data() + j * cols, 1, one.data(), pool);
            for (int64_t r = 0; r < rows; ++r, ++checked)
              if (one[r] != all[j * rows + r])
                fail(std::string(dtype_name(t)) + " rows " + std::to_string(rows) + " n " +
                     std::to_string(n) + ": activation " + std::to_string(j) + " alone differs");
          }
        }
      }
    }
  }
  std::printf("neon-i8mm: each activation alone bit-identical to it among n (%d values)\n",
              checked);
}

// neon-sme's engine (sme_bf16_product) on every matmul type: odd row counts (panels of L rows and
// a partial one), activation counts around the 4 L of a group, odd and even columns, 1 and 3
// threads: each output within the bf16 rounding bound of the float product
// (test::bf16_product_misses); and the backend hands it the products from its threshold on.
void check_sme(const matmul_backend& be) {
  std::mt19937 rng(11);
  thread_pool pool3(3);
  int64_t checked = 0, misses = 0;
  for (dtype t : test::matmul_types()) {
    const int64_t blk = traits(t).block_elems;
    for (int64_t cols : {blk == 1 ? int64_t{37} : 2 * blk, blk == 1 ? int64_t{96} : 4 * blk}) {
      if (cols % blk != 0 || cols < blk) continue;
      for (int64_t rows : {1, 15, 16, 37}) {
        auto wb = test::random_rows(rng, t, rows, cols);
        const auto w = view_of(t, wb.data(), rows, cols);
        for (int64_t n : {1, 5, 63, 64, 65, 130}) {
          if (n > 64 && rows > 16) continue;  // keep qemu time reasonable
          const auto x = test::random_floats(rng, n * cols);
          for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool3}) {
            std::vector<float> got(n * rows, NAN);
            sme_bf16_product(w, x.data(), n, got.data(), pool);
            const int64_t m = test::bf16_product_misses(w, x.data(), n, got.data());
            if (m != 0)
              fail(std::string("sme ") + std::string(dtype_name(t)) + " rows " +
                   std::to_string(rows) + " cols " + std::to_string(cols) + " n " +
                   std::to_string(n) + ": " + std::to_string(m) + " outside the bf16 bound");
            misses += m;
            checked += n * rows;
          }
        }
      }
    }
  }
  const matrix_view probe{dtype::q4_0, nullptr, 32, 64, 36};
  if (!matmul_rounds_to_bf16(be, probe, be.big_gemm_bf16_min_n) ||
      matmul_rounds_to_bf16(be, probe, be.big_gemm_bf16_min_n - 1))
    fail("neon-sme does not take the products from its threshold on");
  std::printf(
      "neon-sme (SVL %ld bytes): %ld outputs within the bf16 bound (%ld outside), from n >= %ld\n",
      static_cast<long>(sme_vector_bytes()), static_cast<long>(checked), static_cast<long>(misses),
      static_cast<long>(be.big_gemm_bf16_min_n));
}

void check_matmul(const matmul_backend& be) {
  std::mt19937 rng(42);
  thread_pool pool3(3);
  std::map<std::string, err_stat> stats;
  for (dtype t : test::matmul_types()) {
    const int64_t blk = traits(t).block_elems;
    std::vector<int64_t> col_set;
    if (blk == 256) col_set = {256, 768, 2048};
    if (blk == 32) col_set = {32, 96, 544, 2048};
    if (blk == 1) col_set = {7, 32, 37, 96, 544, 2048};  // float rows need no block multiple
    auto& st = stats[std::string(dtype_name(t))];
    for (int64_t cols : col_set) {
      for (int64_t rows : {1, 5, 16, 37, 67}) {
        if (cols == 2048 && rows != 67) continue;  // the long rows: one odd row count
        auto wbuf = test::random_rows(rng, t, rows, cols);
        std::vector<uint8_t> wmis(wbuf.size() + 4);
        std::memcpy(wmis.data() + 4, wbuf.data(), wbuf.size());  // 4 bytes off a vector boundary
        const auto w = view_of(t, wmis.data() + 4, rows, cols);
        for (int64_t n : {1, 2, 3, 5, 17, 64, 70}) {
          if (n >= 17 && cols > 768) continue;  // keep qemu time reasonable
          std::vector<float> xbuf(n * cols + 1);
          auto xr = test::random_floats(rng, n * cols);
          std::copy(xr.begin(), xr.end(), xbuf.begin() + 1);  // misaligned activations
          const float* x = xbuf.data() + 1;
          std::vector<float> want(n * rows);
          ref::matmul(w, x, n, want.data());
          float ymax = 0;
          for (float v : want) ymax = std::max(ymax, std::fabs(v));
          for (thread_pool* pool : {static_cast<thread_pool*>(nullptr), &pool3}) {
            std::vector<float> got(n * rows, NAN);
            matmul_on(be, w, x, n, got.data(), pool);
            for (size_t i = 0; i < got.size(); ++i) {
              const double e = std::fabs(static_cast<double>(got[i]) - want[i]);
              ++st.total;
              if (got[i] == want[i]) ++st.exact;
              if (!(e <= 2e-5 * ymax + 1e-6)) {  // also catches NaN
                fail(std::string(dtype_name(t)) + " rows " + std::to_string(rows) + " cols " +
                     std::to_string(cols) + " n " + std::to_string(n) + " i " + std::to_string(i) +
                     ": got " + std::to_string(got[i]) + " want " + std::to_string(want[i]));
                continue;
              }
              st.max_abs = std::max(st.max_abs, e);
              if (ymax > 0) st.max_rel = std::max(st.max_rel, e / ymax);
            }
          }
        }
      }
    }
  }
  std::printf("%s matmul vs scalar (tolerance 2e-5 * max|y| + 1e-6):\n", be.name);
  for (dtype t : test::matmul_types()) {
    const auto& st = stats[std::string(dtype_name(t))];
    const bool native =
        be.matvec[static_cast<size_t>(t)] != scalar_backend().matvec[static_cast<size_t>(t)];
    std::printf("  %-5s max abs %.3g  max err/max|y| %.3g  bit-identical %5.1f%% of %ld%s\n",
                std::string(dtype_name(t)).c_str(), st.max_abs, st.max_rel,
                100.0 * static_cast<double>(st.exact) / static_cast<double>(st.total), st.total,
                native ? "" : "  (scalar fallback)");
  }
}

// ---------------------------------------------------------------------------------------------

struct op_stat {
  double max_abs = 0, max_ratio = 0;  // ratio: error / tolerance (must stay <= 1)
};

void check_ops(const ops_backend& b) {
  std::mt19937 rng(9);
  const ops_backend& s = scalar_ops();
  std::map<std::string, op_stat> stats;
  auto near = [&](const char* op, int64_t n, double got, double want, double tol) {
    const double e = std::fabs(got - want);
    auto& st = stats[op];
    if (!(e <= tol)) {
      fail(std::string(op) + " n " + std::to_string(n) + ": got " + std::to_string(got) + " want " +
           std::to_string(want));
      return;
    }
    st.max_abs = std::max(st.max_abs, e);
    st.max_ratio = std::max(st.max_ratio, e / tol);
  };
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 80; ++n) lengths.push_back(n);
  for (int64_t n : {255, 1000, 4099}) lengths.push_back(n);
  for (int64_t n : lengths) {
    for (int off = 0; off < 2; ++off) {
      auto xv = test::random_floats(rng, n + 1, 2.f);
      auto wv = test::random_floats(rng, n + 1);
      auto uv = test::random_floats(rng, n + 1);
      const float* x = xv.data() + off;
      const float* w = wv.data() + off;
      const float* u = uv.data() + off;
      std::vector<float> a(n + 1), c(n + 1);
      s.rms_norm(x, w, n, 1e-6f, a.data());
      b.rms_norm(x, w, n, 1e-6f, c.data() + off);
      for (int64_t i = 0; i < n; ++i)
        near("rms_norm", n, c[i + off], a[i], 1e-5 * std::fabs(a[i]) + 1e-6);
      s.rms_norm(x, nullptr, n, 1e-6f, a.data());
      b.rms_norm(x, nullptr, n, 1e-6f, c.data() + off);
      for (int64_t i = 0; i < n; ++i)
        near("rms_norm", n, c[i + off], a[i], 1e-5 * std::fabs(a[i]) + 1e-6);
      s.silu_mul(x, u, a.data(), n);
      b.silu_mul(x, u, c.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        near("silu_mul", n, c[i + off], a[i], 1e-5 * std::fabs(a[i]) + 1e-6);
      s.gelu_mul(x, u, a.data(), n);
      b.gelu_mul(x, u, c.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        near("gelu_mul", n, c[i + off], a[i], 1e-5 * std::fabs(a[i]) + 1e-6);
      auto wide = test::random_floats(rng, n + 1, 12.f);  // both tails, past exp's clamps
      s.gelu_mul(wide.data() + off, u, a.data(), n);
      b.gelu_mul(wide.data() + off, u, c.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        near("gelu_mul", n, c[i + off], a[i], 1e-5 * std::fabs(a[i]) + 1e-6);
      std::vector<float> ca(wide.begin() + off, wide.begin() + off + n), cb(n + 1);
      std::copy(ca.begin(), ca.end(), cb.begin() + off);
      s.softcap(ca.data(), n, 5.f);
      b.softcap(cb.data() + off, n, 5.f);
      for (int64_t i = 0; i < n; ++i)
        near("softcap", n, cb[i + off], ca[i], 1e-5 * std::fabs(ca[i]) + 2e-6);
      std::vector<float> sa(x, x + n), sb(n + 1);
      std::copy(x, x + n, sb.begin() + off);
      s.softmax(sa.data(), n);
      b.softmax(sb.data() + off, n);
      for (int64_t i = 0; i < n; ++i) near("softmax", n, sb[i + off], sa[i], 1e-5 * sa[i] + 1e-7);
      double mag = 0;
      for (int64_t i = 0; i < n; ++i) mag += std::fabs(x[i] * w[i]);
      near("dot_f32", n, b.dot_f32(x, w, n), s.dot_f32(x, w, n), 1e-5 * mag + 1e-6);
      std::vector<uint16_t> h(n + 1), h2(n + 1);
      s.f32_to_f16_row(w, h.data() + off, n);
      b.f32_to_f16_row(w, h2.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        if (h[i + off] != h2[i + off]) fail("f32_to_f16_row n " + std::to_string(n));
      std::vector<float> f1(n), f2(n + 1);
      s.f16_to_f32_row(h.data() + off, f1.data(), n);
      b.f16_to_f32_row(h.data() + off, f2.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        if (std::memcmp(&f1[i], &f2[i + off], 4) != 0)
          fail("f16_to_f32_row n " + std::to_string(n));
      near("dot_f16", n, b.dot_f16(x, h.data() + off, n), s.dot_f16(x, h.data() + off, n),
           1e-5 * mag + 1e-6);
      std::vector<float> y1(u, u + n), y2(n + 1);
      std::copy(u, u + n, y2.begin() + off);
      s.axpy_f16(0.7f, h.data() + off, y1.data(), n);
      b.axpy_f16(0.7f, h.data() + off, y2.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        near("axpy_f16", n, y2[i + off], y1[i], 1e-6 * std::fabs(y1[i]) + 1e-6);
      std::copy(u, u + n, y1.begin());
      std::copy(u, u + n, y2.begin() + off);
      s.add(x, y1.data(), n);
      b.add(x, y2.data() + off, n);
      for (int64_t i = 0; i < n; ++i)
        if (y2[i + off] != y1[i]) fail("add n " + std::to_string(n));
    }
  }
  // f16 conversions on the rounding edges (overflow, subnormals, ties), every vector position.
  auto e = f16_edge_values();
  for (int rep = 0; rep < 3; ++rep) e.insert(e.end(), e.begin(), e.begin() + 16);
  for (size_t start = 0; start < 8; ++start) {
    const auto n = static_cast<int64_t>(e.size() - start);
    std::vector<uint16_t> h1(n), h2(n);
    s.f32_to_f16_row(e.data() + start, h1.data(), n);
    b.f32_to_f16_row(e.data() + start, h2.data(), n);
    if (h1 != h2) fail("f32_to_f16_row edge values, start " + std::to_string(start));
  }
  // softmax with very negative entries and silu of large |gate|: the clamped exp stays finite.
  std::vector<float> big = {1000.f, 1001.f, 999.f, -1e30f, 3.f, -90.f, 88.f, 0.f};
  std::vector<float> sm1 = big, sm2 = big;
  s.softmax(sm1.data(), 8);
  b.softmax(sm2.data(), 8);
  for (int i = 0; i < 8; ++i) near("softmax", 8, sm2[i], sm1[i], 1e-5 * sm1[i] + 1e-7);
  std::vector<float> g = {-100.f, -80.f, -20.f, 20.f, 80.f, 100.f, -0.f, 1e-6f}, o1(8), o2(8);
  std::vector<float> up(8, 1.5f);
  s.silu_mul(g.data(), up.data(), o1.data(), 8);
  b.silu_mul(g.data(), up.data(), o2.data(), 8);
  for (int i = 0; i < 8; ++i) near("silu_mul", 8, o2[i], o1[i], 1e-5 * std::fabs(o1[i]) + 1e-6);

  // RoPE with precomputed angles: both styles, rotations of 2..64 dims in wider heads.
  for (auto style : {rope_style::normal, rope_style::neox}) {
    for (int n_rot : {2, 6, 8, 14, 16, 24, 40, 62, 64}) {
      rope_params p;
      p.n_rot = n_rot, p.freq_base = 1e6f, p.freq_scale = 0.5f, p.style = style;
      const int64_t head_dim = n_rot + 2 * (rng() % 3), heads = 1 + rng() % 3;
      for (int64_t pos : {0, 1, 17, 4000}) {
        std::vector<float> cs(static_cast<size_t>(n_rot));
        ref::rope_angles(pos, p, cs.data(), cs.data() + n_rot / 2);
        const int off = static_cast<int>(pos % 2);
        auto x1 = test::random_floats(rng, static_cast<size_t>(heads * head_dim + off));
        auto x2 = x1;
        s.rope_with(x1.data() + off, heads, head_dim, cs.data(), cs.data() + n_rot / 2, p);
        b.rope_with(x2.data() + off, heads, head_dim, cs.data(), cs.data() + n_rot / 2, p);
        for (size_t i = 0; i < x1.size(); ++i)
          near("rope_with", n_rot, x2[i], x1[i], 2e-6 * (1 + std::fabs(x1[i])));
      }
    }
  }

  std::printf("ops vs scalar (error / tolerance must stay <= 1):\n");
  for (const auto& [op, st] : stats)
    std::printf("  %-9s max abs %.3g  max err/tol %.3g\n", op.c_str(), st.max_abs, st.max_ratio);
  std::printf("  f32_to_f16_row, f16_to_f32_row, add: bit-identical checked\n");
}

// All m query rows (queries q, row i seeing keys [first[i], last[i]]) through attn_block over
// blocks of 16 keys of K tiles and V rows in format f (d / dv values a key); the normalised
// outputs.
std::vector<float> attend(const ops_backend& b, kv_format f, int64_t m, int64_t d, int64_t dv,
                          int64_t n_keys, const std::vector<float>& q,
                          const std::vector<uint8_t>& k, const std::vector<uint8_t>& v,
                          const std::vector<int32_t>& first, const std::vector<int32_t>& last) {
  constexpr int64_t block = 16;
  std::vector<float> o(m * dv, 0.f), mx(m, -INFINITY), sum(m, 0.f), scratch(block * (d + dv));
  std::vector<int32_t> lo(m), hi(m);
  const int64_t rk = kv_row_bytes(f, d), rv = kv_row_bytes(f, dv);
  for (int64_t j0 = 0; j0 < n_keys; j0 += block) {
    attn_block_args a;
    a.q = q.data(), a.m = m, a.ldq = d, a.d = d, a.dv = dv, a.kv = f;
    a.k = k.data() + j0 * rk, a.v = v.data() + j0 * rv, a.ldk = d, a.ldv = dv;
    a.nk = std::min(block, n_keys - j0);
    if (j0 + block < n_keys) {
      a.k_next = k.data() + (j0 + block) * rk, a.v_next = v.data() + (j0 + block) * rv;
      a.nk_next = std::min(block, n_keys - j0 - block);
    }
    for (int64_t i = 0; i < m; ++i) {
      lo[i] = static_cast<int32_t>(std::clamp<int64_t>(first[i] - j0, 0, a.nk));
      hi[i] = static_cast<int32_t>(std::clamp<int64_t>(last[i] + 1 - j0, lo[i], a.nk));
    }
    a.lo = lo.data(), a.hi = hi.data(), a.row_max = mx.data(), a.row_sum = sum.data();
    a.o = o.data(), a.ldo = dv, a.scratch = scratch.data();
    b.attn_block(a);
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t e = 0; e < dv; ++e) o[i * dv + e] /= sum[i];
  return o;
}

// n rows of `width` floats stored as K/V rows of format f (the scalar converters' bytes).
std::vector<uint8_t> kv_rows_of(kv_format f, const std::vector<float>& x, int64_t n,
                                int64_t width) {
  std::vector<uint8_t> out(static_cast<size_t>(n * kv_row_bytes(f, width)));
  for (int64_t j = 0; j < n; ++j) {
    uint8_t* dst = out.data() + j * kv_row_bytes(f, width);
    if (f == kv_format::q8_0) {
      uma::kernels::ref::convert_q8_0(x.data() + j * width, dst, width);
    } else {
      for (int64_t e = 0; e < width; ++e) {
        const uint16_t h = f32_to_f16(x[static_cast<size_t>(j * width + e)]);
        std::memcpy(dst + e * 2, &h, 2);
      }
    }
  }
  return out;
}

// n keys of `width` floats stored as key tiles of format f (kv_key_tile keys a tile, whole tiles:
// f32_to_kv_key, whose layout the unit tests check).
std::vector<uint8_t> kv_keys_of(kv_format f, const std::vector<float>& x, int64_t n,
                                int64_t width) {
  const int64_t tiles = (n + kv_key_tile - 1) / kv_key_tile, tb = kv_tile_bytes(f, width);
  std::vector<uint8_t> out(static_cast<size_t>(tiles * tb), 0);
  for (int64_t j = 0; j < n; ++j)
    f32_to_kv_key(f, x.data() + j * width, width, out.data() + j / kv_key_tile * tb,
                  j % kv_key_tile);
  return out;
}

void check_attention(const ops_backend& b) {
  std::mt19937 rng(13);
  const ops_backend& s = scalar_ops();
  double max_ratio = 0;
  struct shape {
    int64_t m, d, dv, n_keys;
  };
  for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
    for (const shape& c : {shape{1, 128, 128, 40}, shape{2, 128, 128, 50}, shape{7, 64, 64, 33},
                           shape{9, 128, 128, 45}, shape{4, 12, 20, 30}, shape{3, 13, 8, 17},
                           shape{5, 32, 96, 29}, shape{12, 64, 32, 23}}) {
      if (!kv_fits(f, c.d) || !kv_fits(f, c.dv)) continue;
      const auto q = test::random_floats(rng, c.m * c.d);
      const auto k = kv_keys_of(f, test::random_floats(rng, c.n_keys * c.d, 2.f), c.n_keys, c.d);
      const auto v = kv_rows_of(f, test::random_floats(rng, c.n_keys * c.dv), c.n_keys, c.dv);
      std::vector<int32_t> first(c.m), last(c.m);
      for (int64_t i = 0; i < c.m; ++i) {  // causal, every fourth row a sliding window
        last[i] = static_cast<int32_t>(c.n_keys - c.m + i);
        first[i] = i % 4 == 3 ? std::max(0, last[i] - 11) : 0;
      }
      const auto want = attend(s, f, c.m, c.d, c.dv, c.n_keys, q, k, v, first, last);
      const auto got = attend(b, f, c.m, c.d, c.dv, c.n_keys, q, k, v, first, last);
      const std::string name = std::string("attention ") + kv_format_name(f) + " m " +
                               std::to_string(c.m) + " d " + std::to_string(c.d);
      for (size_t i = 0; i < want.size(); ++i) {
        const double tol = 2e-5 * (1 + std::fabs(want[i])), e = std::fabs(got[i] - want[i]);
        if (!(e <= tol)) fail(name + " i " + std::to_string(i));
        max_ratio = std::max(max_ratio, e / tol);
      }
      for (int64_t i = 0; i < c.m; ++i) {
        const std::vector<float> qi(q.begin() + i * c.d, q.begin() + (i + 1) * c.d);
        const auto alone = attend(b, f, 1, c.d, c.dv, c.n_keys, qi, k, v, {first[i]}, {last[i]});
        for (int64_t e = 0; e < c.dv; ++e)
          if (alone[e] != got[i * c.dv + e]) fail(name + " row " + std::to_string(i) + " alone");
      }
    }
  }
  std::printf(
      "attention (f16 and q8_0 K/V) vs scalar: max err/tol %.3g; rows alone bit-identical "
      "checked\n",
      max_ratio);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);  // progress shows even if a check hangs under qemu
  const bool expect_no_neon = argc > 1 && std::string(argv[1]) == "--expect-no-neon";
  std::printf("cpu: %s\n", uma::cpu().describe().c_str());
  const matmul_backend* be = find_backend(backend_id::neon);
  const ops_backend* ob = find_ops(backend_id::neon);
  if (expect_no_neon) {
    const bool ok =
        be == nullptr && ob == nullptr && find_backend(backend_id::neon_i8mm) == nullptr &&
        std::string(best_backend().name) == "scalar" && std::string(best_ops().name) == "scalar";
    std::printf("no dotprod: neon backend %s, dispatch to %s / %s: %s\n",
                be == nullptr ? "absent" : "PRESENT", best_backend().name, best_ops().name,
                ok ? "ok" : "FAIL");
    if (!ok) return 1;
    // Run the production entry points once per weight type and op, so that an instruction this
    // CPU lacks, compiled outside the neon files (or an inline function merged from them), faults.
    std::mt19937 rng(1);
    thread_pool pool(2);
    for (dtype t : test::matmul_types()) {
      const int64_t cols = 256, rows = 9, n = 3;
      auto wb = test::random_rows(rng, t, rows, cols);
      auto x = test::random_floats(rng, n * cols);
      std::vector<float> y(n * rows), want(n * rows);
      const auto w = view_of(t, wb.data(), rows, cols);
      matmul(w, x.data(), n, y.data(), &pool);
      ref::matmul(w, x.data(), n, want.data());
      if (y != want) fail(std::string("scalar dispatch ") + std::string(dtype_name(t)));
    }
    auto v = test::random_floats(rng, 100);
    std::vector<uint16_t> h(100);
    rms_norm(v.data(), nullptr, 100, 1e-6f, v.data());
    softmax(v.data(), 100);
    silu_mul(v.data(), v.data(), v.data(), 100);
    f32_to_f16_row(v.data(), h.data(), 100);
    axpy_f16(0.5f, h.data(), v.data(), 100);
    f16_to_f32_row(h.data(), v.data(), 100);
    add(v.data(), v.data(), 100);
    if (!std::isfinite(dot_f32(v.data(), v.data(), 100)) ||
        !std::isfinite(dot_f16(v.data(), h.data(), 100)))
      fail("scalar dispatch ops");
    std::printf("scalar kernels ran on this CPU: %s\n", failures == 0 ? "ok" : "FAIL");
    return failures == 0 ? 0 : 1;
  }
  if (be == nullptr || ob == nullptr) {
    std::printf("FAIL: no neon backend on this CPU (needs dotprod)\n");
    return 1;
  }
  // neon-sme where the CPU has SME, else neon-i8mm where it has smmla (qemu's max CPU has both),
  // else neon (Cortex-A76).
  const matmul_backend* mm = find_backend(backend_id::neon_i8mm);
  const matmul_backend* sm = find_backend(backend_id::neon_sme);
  if ((mm != nullptr) != uma::cpu().neon_i8mm) fail("neon-i8mm present without i8mm, or absent");
  if ((sm != nullptr) != (uma::cpu().neon_i8mm && uma::cpu().sme))
    fail("neon-sme present without SME, or absent");
  const matmul_backend* want_best = sm != nullptr ? sm : mm != nullptr ? mm : be;
  if (&best_backend() != want_best || &best_ops() != ob ||
      std::string(matmul_backend_name()) != want_best->name)
    fail(std::string("dispatch does not pick the ") + want_best->name + " backend");
  if (mm != nullptr && find_ops(backend_id::neon_i8mm) != ob)
    fail("neon-i8mm does not run the neon ops");
  std::printf("i8mm: %s; sme: %s; matmul backend %s\n", mm != nullptr ? "yes" : "no",
              sm != nullptr ? "yes" : "no", best_backend().name);
  check_converters(*be);
  check_matmul(*be);
  if (mm != nullptr) {
    check_matmul(*mm);
    check_one_order(*mm);
  }
  if (sm != nullptr) check_sme(*sm);
  check_ops(*ob);
  check_attention(*ob);
  std::printf("%s (%d failures)\n", failures == 0 ? "PASS" : "FAIL", failures);
  return failures == 0 ? 0 : 1;
}
