// `uma bench`'s command line checked and expanded into points and loads (bench_plan.h).
#include "cli/bench_plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "cli/command.h"
#include "util/pages.h"
#include "util/thread_pool.h"

namespace uma::cli::bench_plan {

// --attn-bf16's list as values, or false and a message in *err.
bool parse_on_off_list(const std::string& s, std::vector<bool>* out, std::string* err) {
  out->clear();
  size_t at = 0;
  while (true) {
    const size_t comma = s.find(',', at);
    const std::string v = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (v == "1" || v == "on")
      out->push_back(true);
    else if (v == "0" || v == "off")
      out->push_back(false);
    else {
      *err =
          fmt::format("--attn-bf16: '{}' is not 0, 1, off or on (a comma list compares them)", v);
      return false;
    }
    if (comma == std::string::npos) return true;
    at = comma + 1;
  }
}

int make_plan(const bench_cli& c, plan* out) {
  const char* cmd = "bench";
  if (c.reps < 1) return uma::cli::fail(cmd, "--reps must be >= 1");
  const auto all_in = [](const std::vector<int>& v, int lo, int hi) {
    return !v.empty() && std::all_of(v.begin(), v.end(), [&](int x) { return x >= lo && x <= hi; });
  };
  if (!all_in(c.pp, 1, 1'000'000) || !all_in(c.tg, 1, 1'000'000))
    return uma::cli::fail(cmd, "--pp and --tg values must be between 1 and 1000000");
  if (!all_in(c.depth, 0, 1'000'000))
    return uma::cli::fail(cmd, "--depth values must be between 0 and 1000000");
  if (c.threads.empty()) return uma::cli::fail(cmd, "--threads needs a value");
  for (const int t : c.threads)
    if (int code = 0; uma::cli::bad_threads(cmd, t, &code)) return code;
  // The probe touches its whole buffer: at most half the machine's memory.
  const int64_t max_bw_mib =
      std::max<int64_t>(1, static_cast<int64_t>(uma::physical_memory_bytes() / 2) >> 20);
  if (c.bw_mib < 1 || c.bw_mib > max_bw_mib)
    return uma::cli::fail(
        cmd,
        fmt::format("--bw-mib must be between 1 and {} (half this machine's memory)", max_bw_mib));
  if (!all_in(c.batch, 1, max_batch))
    return uma::cli::fail(cmd, fmt::format("--batch values must be between 1 and {}", max_batch));
  // Every combination of the lists, depth outermost, then pp and tg; each point decodes every
  // --batch size.
  std::vector<bench_point>& points = out->points;
  for (int depth : c.depth)
    for (int pp : c.pp)
      for (int tg : c.tg) points.push_back({pp, tg, depth});
  // Each --threads value (0: one per physical core); the start-up probes read the machine with the
  // most of them, and each load's probes around its repetitions with its own count (with 1 and
  // 2: what one core reads against two).
  std::vector<int> thread_counts;
  for (const int t : c.threads) {
    const int n = t > 0 ? t : uma::thread_pool::physical_cores();
    if (std::find(thread_counts.begin(), thread_counts.end(), n) == thread_counts.end())
      thread_counts.push_back(n);
  }
  out->threads = *std::max_element(thread_counts.begin(), thread_counts.end());
  // The loads: every --threads x --kv-type x --attn-bf16 combination, in that order. BF16 products
  // asked for where the CPU has none run as f32 (attn_bf16_of says so once), and only once.
  std::vector<bool> bf16_list;
  if (std::string err; !parse_on_off_list(c.attn_bf16, &bf16_list, &err))
    return uma::cli::fail(cmd, err);
  const bool bf16_asked = std::find(bf16_list.begin(), bf16_list.end(), true) != bf16_list.end();
  const bool bf16_ok = uma::cli::attn_bf16_of(bf16_asked, cmd);
  std::vector<bench_load>& loads = out->loads;
  for (const int t : thread_counts)
    for (const std::string& kv : c.kv_type)
      for (const bool bf : bf16_list) {
        const bench_load l{t, uma::cli::kv_format_of(kv), bf && bf16_ok};
        if (std::none_of(loads.begin(), loads.end(), [&](const bench_load& o) {
              return o.threads == l.threads && o.kv == l.kv && o.attn_bf16 == l.attn_bf16;
            }))
          loads.push_back(l);
      }
  const size_t n_runs = loads.size() * points.size() * c.batch.size();
  if (n_runs > max_points)
    return uma::cli::fail(cmd, fmt::format("--pp, --tg, --depth, --batch, --threads, --kv-type "
                                           "and --attn-bf16 lists make {} runs; at most {}",
                                           n_runs, max_points));
  out->max_pp = *std::max_element(c.pp.begin(), c.pp.end());
  out->max_tg = *std::max_element(c.tg.begin(), c.tg.end());
  out->max_depth = *std::max_element(c.depth.begin(), c.depth.end());
  out->max_seqs = *std::max_element(c.batch.begin(), c.batch.end());
  if (c.ubatch < 0)
    return uma::cli::fail(cmd, "--ubatch must be >= 0 (0: the whole prompt at once)");
  if (c.attn_part_keys < 1 || c.attn_part_keys > 1'000'000'000)
    return uma::cli::fail(cmd, "--attn-part-keys must be between 1 and 1000000000");
  return 0;
}

}  // namespace uma::cli::bench_plan
