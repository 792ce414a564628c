// Helpers of `uma bench` (bench.cpp): repetition statistics, process memory figures, and the
// model arithmetic its ratios use (matmul parameters, keys attention reads, attention FLOPs).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/kv_cache.h"
#include "model/model.h"

namespace uma::cli::bench_util {

using clock_type = std::chrono::steady_clock;

struct stats {
  std::vector<double> v;
  double median() const {
    if (v.empty()) return 0;
    auto s = v;
    std::sort(s.begin(), s.end());
    return s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
  }
  double min() const { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }
  double max() const { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }
  // (max - min) / median: the relative spread of the repetitions.
  double spread() const { return median() > 0 ? (max() - min()) / median() : 0; }
  // The q-quantile (0..1) by nearest rank: the smallest sample with at least q of them at or
  // below it.
  double quantile(double q) const {
    if (v.empty()) return 0;
    auto s = v;
    std::sort(s.begin(), s.end());
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(s.size())));
    return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
  }
};

// A stalled token: one that took more than this many times the median token.
constexpr double stall_factor = 1.5;

// The share of the decode time (the sum of `token_ms`) that tokens over stall_factor x the
// median spent beyond the median: what stalls (the host taking a core, a page fault) cost the
// mean tok/s, apart from the engine's own speed.
double stall_share(const stats& token_ms, int* n_stalled);

double seconds_since(clock_type::time_point t0);

// A "Key:   123 kB" field of /proc/self/status, in MiB (0 if absent).
double proc_status_mib(const char* key);

// Resets the peak-RSS mark (VmHWM) so the probes' buffer does not count (Linux >= 4.0).
void reset_peak_rss();

std::string cache_dir();

// Parameters that take part in matmuls (2 FLOPs each per token): every 2-D weight except the
// embedding table, which is a lookup unless it doubles as the output matrix (tied), and of a
// mixture of experts' 3-D expert tensors the share a token uses (expert_used_count of
// expert_count).
uint64_t matmul_params(const uma::gguf::file& f);

// Elements of the output matrix (output.weight, else the tied embedding table).
uint64_t output_params(const uma::gguf::file& f);

// Mean over `n` tokens at positions depth .. depth + n - 1 of the keys attention reads for each,
// summed over the layers: the token at position p sees positions [0, p] (the last sliding_window
// of them on sliding layers).
double mean_keys_seen(const uma::model::model_config& cfg, int depth, int n);

// Mean bytes of KV cache (K and V rows as `cache` stores them) that attention reads per decoded
// token when `tg` tokens are decoded after `depth`.
double kv_bytes_per_decode_token(const uma::model::model_config& cfg,
                                 const uma::model::kv_cache& cache, int depth, int tg);

// Attention's multiply-adds x 2 per prefill token when `pp` tokens follow `depth` cached ones:
// each query head scores the keys seen and sums as many values. Not in the 2 x params count.
double attention_flops_per_prefill_token(const uma::model::model_config& cfg, int depth, int pp);

}  // namespace uma::cli::bench_util
