// Scalar reference forward pass: plain loops over dequantized weights with float64 accumulation,
// exact K/V (no F16 rounding; Q8_0 rounding on request), no activation quantization. It shares
// nothing with the production path beyond the config and the weight binding, so the two check
// each other; tests compare them, and it is kept forever as the definition of what the model
// computes.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "model/weights.h"
#include "util/status.h"

namespace uma::model {

class model;

class reference_forward {
 public:
  reference_forward(const model_config& c, const weights& w);
  explicit reference_forward(const model& m);

  // Appends `tokens` (positions continue the cached ones) and returns their logits,
  // tokens.size() rows of n_vocab floats.
  result<std::vector<float>> forward(const std::vector<int32_t>& tokens);
  int64_t length() const { return length_; }
  void reset();
  // Mixture of experts: the smallest gap, over every token and layer forwarded since the
  // construction or reset, between the router logit of a token's last chosen expert and the best
  // one left out (+inf without experts). Where it is small, a rounding difference elsewhere can
  // swap the experts and the logits jump: tests compare production with it on clear routing.
  double min_route_gap() const { return min_route_gap_; }
  // Cache keys and values as a Q8_0 KV cache holds them (each head's row quantized to ggml's Q8_0
  // blocks and back) instead of exact, and score with the scaled queries so rounded too: the
  // definition of what a model with a Q8_0 cache computes.
  // Head dims must be multiples of 32. Set before the first forward.
  void quantize_kv_q8_0(bool on) { kv_q8_0_ = on; }

 private:
  std::vector<double> project(const matrix_ref& m, const std::vector<double>& x, int64_t n) const;
  std::vector<double> experts(const layer_weights& l, const std::vector<double>& h,
                              int64_t n) const;
  const model_config& c_;
  const weights& w_;
  int64_t length_ = 0;
  bool kv_q8_0_ = false;
  mutable double min_route_gap_ = INFINITY;
  // Per layer: cached keys and values, (length, kv_width) and (length, v_width).
  std::vector<std::vector<double>> k_, v_;
};

// Greedy continuation of `prompt` by `n` tokens with the reference.
result<std::vector<int32_t>> reference_greedy(reference_forward& ref,
                                              const std::vector<int32_t>& prompt, int n);

}  // namespace uma::model
