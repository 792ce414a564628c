// Helpers of `uma bench`; see bench_util.h.
#include "cli/bench_util.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace uma::cli::bench_util {

double stall_share(const stats& token_ms, int* n_stalled) {
  const double med = token_ms.median();
  double total = 0, lost = 0;
  *n_stalled = 0;
  for (double t : token_ms.v) {
    total += t;
    if (t > stall_factor * med) {
      lost += t - med;
      ++*n_stalled;
    }
  }
  return total > 0 ? lost / total : 0;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double proc_status_mib(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) return std::strtod(line.c_str() + k.size(), nullptr) / 1024.0;
  return 0;
}

void reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

std::string cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != 0)
    return std::string(x) + "/uma";
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != 0)
    return std::string(h) + "/.cache/uma";
  return "/tmp/uma-cache";
}

uint64_t matmul_params(const uma::gguf::file& f) {
  uint64_t n = 0;
  bool has_output = false, counted_embd = false;
  uint64_t embd = 0;
  const std::string a(f.architecture());
  const uint64_t experts = f.get_uint(a + ".expert_count").value_or(0);
  const uint64_t used = f.get_uint(a + ".expert_used_count").value_or(experts);
  for (const auto& t : f.tensors()) {
    if (t.n_dims < 2) continue;
    if (t.n_dims == 3 && experts > 0 && static_cast<uint64_t>(t.ne[2]) == experts) {
      n += t.n_elements / experts * std::min(used, experts);
      continue;
    }
    if (t.name == "token_embd.weight") {
      embd = t.n_elements;
      counted_embd = true;
      continue;
    }
    if (t.name == "output.weight") has_output = true;
    n += t.n_elements;
  }
  if (!has_output && counted_embd) n += embd;
  return n;
}

uint64_t output_params(const uma::gguf::file& f) {
  uint64_t embd = 0;
  for (const auto& t : f.tensors()) {
    if (t.name == "output.weight") return t.n_elements;
    if (t.name == "token_embd.weight") embd = t.n_elements;
  }
  return embd;
}

double mean_keys_seen(const uma::model::model_config& cfg, int depth, int n) {
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t seen = int64_t(depth) + i + 1;
    for (int64_t il = 0; il < cfg.n_layer; ++il)
      total +=
          double(cfg.layer_is_sliding(il) ? std::min<int64_t>(seen, cfg.sliding_window) : seen);
  }
  return n > 0 ? total / n : 0;
}

double kv_bytes_per_decode_token(const uma::model::model_config& cfg,
                                 const uma::model::kv_cache& cache, int depth, int tg) {
  // One position's K and V rows of one layer, as the cache stores them.
  const double per_key =
      double(cache.n_head_kv()) * double(cache.k_row_bytes() + cache.v_row_bytes());
  return mean_keys_seen(cfg, depth, tg) * per_key;
}

double attention_flops_per_prefill_token(const uma::model::model_config& cfg, int depth, int pp) {
  return mean_keys_seen(cfg, depth, pp) * 2.0 * double(cfg.n_head) *
         double(cfg.head_dim + cfg.head_dim_v);
}

}  // namespace uma::cli::bench_util
