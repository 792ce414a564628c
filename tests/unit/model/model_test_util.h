// Helpers shared by the model tests: golden file loading, logit comparisons (max/mean abs diff,
// KL divergence, argmax agreement), greedy decoding through the production path.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "kernels/backend.h"
#include "model/model.h"
#include "model/weights.h"
#include "test_util.h"

namespace uma::model::testing {

struct golden {
  std::vector<int32_t> tokens;
  std::vector<float> logits;  // (tokens.size(), n_vocab)
  std::vector<int32_t> greedy;
  int64_t n_vocab = 0;
};

// The TinyModel tests' models: llama.cpp's golden tiny models (../shared/data/golden) for llama,
// qwen2 and qwen3. Architectures without a llama.cpp golden file in ../shared/data (gemma3, the
// MoE ones) get their tiny-<arch> model from `uma synth` (seed 3).
inline bool synth_only(const std::string& arch) {
  return arch == "gemma3" || arch.find("moe") != std::string::npos;
}

// `uma synth PRESET -t TYPE --seed SEED` into the test temp dir, made once per process.
inline std::string synth_model(const std::string& preset, const std::string& type, uint64_t seed) {
  static std::map<std::string, std::string> made;
  const std::string key = preset + "." + type + ".s" + std::to_string(seed);
  if (auto it = made.find(key); it != made.end()) return it->second;
  const std::string path = uma::test::temp_dir() + "/" + key + ".gguf";
  auto r =
      uma::test::run_uma({"synth", preset, "-o", path, "-t", type, "--seed", std::to_string(seed)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return made[key] = path;
}

inline std::string golden_model(const std::string& arch, const std::string& type) {
  if (synth_only(arch)) return synth_model("tiny-" + arch, type, 3);
  return uma::test::shared_data("golden/tiny-" + arch + "." + type + ".gguf");
}

inline golden load_golden(const std::string& arch, const std::string& type) {
  golden g;
  auto f =
      gguf::file::open(uma::test::shared_data("golden/tiny-" + arch + "." + type + ".logits.gguf"));
  EXPECT_TRUE(f.ok()) << f.message();
  if (!f.ok()) return g;
  auto ints = [&](const char* name) {
    const auto* t = f->find_tensor(name);
    std::vector<int32_t> v(t->n_elements);
    std::memcpy(v.data(), t->data.data(), t->n_bytes);
    return v;
  };
  g.tokens = ints("tokens");
  g.greedy = ints("greedy");
  const auto* l = f->find_tensor("logits");
  g.n_vocab = l->ne[0];
  g.logits.resize(l->n_elements);
  std::memcpy(g.logits.data(), l->data.data(), l->n_bytes);
  return g;
}

struct logit_stats {
  double max_abs = 0;
  double mean_abs = 0;
  double kl_mean = 0;  // KL(expected || got) averaged over rows
  double kl_max = 0;
  double top1 = 0;                    // fraction of rows with the same argmax
  double max_rel = 0;                 // max |diff| / max |expected| per row, over rows
  int64_t clear_argmax_mismatch = 0;  // rows whose argmax differs although the expected top-2
                                      // margin exceeds `tie` (a real error, not a near-tie)
};

inline std::vector<double> log_softmax(const float* x, int64_t n) {
  double mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] - mx - std::log(sum);
  return out;
}

inline float top2_margin(const float* x, int64_t n);

inline logit_stats compare_logits(const float* expected, const float* got, int64_t rows,
                                  int64_t n_vocab, float tie = 0.02f) {
  logit_stats s;
  for (int64_t r = 0; r < rows; ++r) {
    const float* e = expected + r * n_vocab;
    const float* g = got + r * n_vocab;
    double row_max = 0, row_diff = 0;
    for (int64_t i = 0; i < n_vocab; ++i) {
      const double d = std::abs(double(e[i]) - g[i]);
      s.max_abs = std::max(s.max_abs, d);
      s.mean_abs += d;
      row_diff = std::max(row_diff, d);
      row_max = std::max(row_max, std::abs(double(e[i])));
    }
    s.max_rel = std::max(s.max_rel, row_diff / std::max(row_max, 1e-30));
    auto le = log_softmax(e, n_vocab), lg = log_softmax(g, n_vocab);
    double kl = 0;
    for (int64_t i = 0; i < n_vocab; ++i) kl += std::exp(le[i]) * (le[i] - lg[i]);
    s.kl_mean += kl;
    s.kl_max = std::max(s.kl_max, kl);
    const bool same =
        (std::max_element(e, e + n_vocab) - e) == (std::max_element(g, g + n_vocab) - g);
    s.top1 += same;
    if (!same && top2_margin(e, n_vocab) > tie) s.clear_argmax_mismatch++;
  }
  s.mean_abs /= double(rows * n_vocab);
  s.kl_mean /= double(rows);
  s.top1 /= double(rows);
  return s;
}

// Production vs float64 reference bounds per weight format (docs/model.md). The production path
// rounds the matmul inputs to the weight type's activation format, as ggml does: none for F32,
// F16 (unit roundoff 2^-11) for F16, BF16 (2^-8) for BF16, Q8_0 / Q8_K blocks (relative RMS ~5e-3)
// for the quantized formats; the F16 KV cache adds ~7e-4 to every format.
struct logit_bound {
  double max_rel;  // max over rows of max|diff| / max|logit|
  double kl_mean;
  float tie;  // argmax must agree wherever the reference's top-2 margin exceeds this
};

// Whether the best backend's decode (matvec) and prefill (gemm) kernels sum every (row, activation)
// pair in the same float order, so that prefill and token-by-token decode
// agree to float noise. The SIMD backends run one tile per format for both (on AVX-512 the
// rows-layout kernels of x86/matmul_row16-inl.h and matmul_rowk-inl.h, R x C for prefill, 1 x 1
// for decode); AMX's tiles scale whole tiles in another order. There the two paths agree only as
// two correct quantized products do: a value near a rounding boundary of the next layer's Q8
// activation quantization flips one int8 step (measured on the tiny models: kl_mean up to 3e-4,
// max_abs 0.08-0.14, against 2e-4..1e-3 for production vs the float reference). The x16
// (--repack) kernels differ from the rows ones the same way.
inline bool decode_and_prefill_share_order() {
  return std::string(kernels::best_backend().name) != "amx";
}

// Two such paths differ by up to ~0.14 in a logit, so where the expected top-2 margin is below
// this they may legitimately pick different tokens.
inline constexpr float path_tie = 0.25f;

// Whether a forward of n tokens sums every matrix row in decode's (one token's) float order:
// decode_and_prefill_share_order(), and no matrix of m crosses into another order class for n
// activation rows (kernels::matmul_order_class: from a backend's x16_min_n rows, a rows-layout
// matrix goes through the interleaved copy, whose tiles scale the block sums in another order).
inline bool one_summation_order(const model& m, int64_t n) {
  if (!decode_and_prefill_share_order()) return false;
  const auto& be = kernels::best_backend();
  const weights& w = m.bound();
  const auto same = [&](const matrix_ref& r) {
    return r.data == nullptr || kernels::matmul_order_class(be, r.view(), n) ==
                                    kernels::matmul_order_class(be, r.view(), 1);
  };
  if (!same(w.output)) return false;
  for (const layer_weights& l : w.layers)
    for (const matrix_ref* r : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      if (!same(*r)) return false;
  return true;
}

inline logit_bound production_bound(const std::string& type) {
  if (type == "f32") return {1e-3, 1e-5, 0.02f};
  if (type == "f16") return {2e-3, 1e-5, 0.02f};
  if (type == "bf16") return {2e-2, 1e-3, 0.1f};
  return {0.08, 5e-3, 0.25f};
}

// Logits of every position of `tokens` from one prefill batch of the production path.
inline std::vector<float> prefill_all(model& m, kv_cache& cache, const std::vector<int32_t>& tokens,
                                      int64_t start = 0) {
  batch b;
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.add(tokens[i], static_cast<int32_t>(start + i), 0, true);
  }
  std::vector<float> logits(tokens.size() * static_cast<size_t>(m.config().n_vocab));
  auto st = m.forward(b, cache, logits.data());
  EXPECT_TRUE(st.ok()) << st.message();
  return logits;
}

inline int32_t argmax(const float* x, int64_t n) {
  return static_cast<int32_t>(std::max_element(x, x + n) - x);
}

// Gap between the best and second-best logit.
inline float top2_margin(const float* x, int64_t n) {
  float a = -INFINITY, b = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (x[i] > a) {
      b = a;
      a = x[i];
    } else if (x[i] > b) {
      b = x[i];
    }
  }
  return a - b;
}

// Greedy continuation through the production path: prompt in one batch, then one token at a time.
// `margins` receives the top-2 margin at each step.
inline std::vector<int32_t> production_greedy(model& m, const std::vector<int32_t>& prompt, int n,
                                              std::vector<float>* margins = nullptr) {
  auto cache = m.make_cache(static_cast<int64_t>(prompt.size()) + n + 1, 1);
  const int64_t nv = m.config().n_vocab;
  batch b;
  for (size_t i = 0; i < prompt.size(); ++i) {
    b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
  }
  std::vector<float> logits(static_cast<size_t>(nv));
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    auto st = m.forward(b, *cache, logits.data());
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) break;
    const int32_t t = argmax(logits.data(), nv);
    if (margins) margins->push_back(top2_margin(logits.data(), nv));
    out.push_back(t);
    b.clear();
    b.add(t, static_cast<int32_t>(prompt.size() + i), 0, true);
  }
  return out;
}

}  // namespace uma::model::testing
