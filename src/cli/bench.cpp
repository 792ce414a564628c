// `uma bench`: how fast this machine runs a model, against what its memory and int8 units allow.
// Measures read bandwidth and the int8 dot-product peak, then prefill (pp) and decode (tg) of a
// model (by default a qwen3-0.6b-shaped Q4_0 model synthesized into the cache directory), and
// prints measured tok/s, roofline tok/s and their ratio, plus memory use (DESIGN.md "Performance
// method"). --json prints the same as one JSON object.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/bench_plan.h"
#include "cli/bench_util.h"
#include "cli/command.h"
#include "engine/generate.h"
#include "gguf/gguf.h"
#include "kernels/backend.h"
#include "kernels/matmul.h"
#include "kernels/probe.h"
#include "model/model.h"
#include "model/weights.h"
#include "synth/synth.h"
#include "util/cpu_features.h"
#include "util/pages.h"
#include "util/thread_pool.h"

namespace {

namespace fs = std::filesystem;

using namespace uma::cli::bench_util;
using namespace uma::cli::bench_plan;

// What every point's runs share: the model, loaded once, its cache, and the start-up probes.
struct bench_env {
  const bench_cli& c;
  int threads;
  std::string path;
  uma::model::model& m;
  uma::model::kv_cache& cache;
  uma::kernels::probe_result bw, peak, amx, amx_bf16;
  double barrier_us, load_s, first_token_s, rss_after_first_mib;
  bool attn_bf16;
  double peak_rss_before = 0;  // the highest peak RSS before a probe reset the mark
};

// Memory so far, in MiB: peak RSS (the probes' buffers left out), anonymous and file-backed RSS,
// the mapping on 2 MiB pages, the KV cache reserved and faulted in, and the interleaved weight
// copies (--repack: anonymous memory, but weights, not overhead).
struct memory_mib {
  double peak_rss, rss_anon, rss_file, huge, kv, kv_faulted, repacked;
};
memory_mib memory_now(const bench_env& e) {
  return {std::max(e.peak_rss_before, proc_status_mib("VmHWM")),
          proc_status_mib("RssAnon"),
          proc_status_mib("RssFile"),
          static_cast<double>(e.m.file().huge_mapped_bytes()) / (1 << 20),
          double(e.cache.bytes()) / (1 << 20),
          double(e.cache.faulted_bytes()) / (1 << 20),
          double(e.m.repacked_bytes()) / (1 << 20)};
}

// One point: its prefill, decode (and batched decode) repetitions, then its rows of the table
// (or its JSON object, appended to `runs`). 0, or the exit code of a failure.
int run_point(bench_env& e, const bench_point& p, nlohmann::json& runs) {
  const char* cmd = "bench";
  const bench_cli& c = e.c;
  uma::model::model& m = e.m;
  uma::model::kv_cache* cache = &e.cache;
  const auto& bw = e.bw;
  const auto& peak = e.peak;
  const auto& amx = e.amx;
  const auto& amx_bf16 = e.amx_bf16;
  const int threads = e.threads;
  auto say = [&](const std::string& s) {
    if (!c.json) std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  };
  const int64_t n_vocab = m.config().n_vocab;
  std::vector<float> logits(static_cast<size_t>(n_vocab)), batch_logits;
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> tok(
      3, static_cast<int32_t>(std::max<int64_t>(4, n_vocab - 1)));
  uma::model::batch b;
  // `n` random tokens of sequence `seq` at positions [from, from + n) into the cache, in forwards
  // of at most --ubatch tokens (as the engine's sessions prefill a prompt), the last one's logits
  // kept.
  const auto prefill = [&](int seq, int from, int n) -> uma::status {
    const int step = c.ubatch > 0 ? c.ubatch : n;
    for (int i0 = 0; i0 < n; i0 += step) {
      b.clear();
      const int i1 = std::min(n, i0 + step);
      for (int i = i0; i < i1; ++i) b.add(tok(rng), from + i, seq, i + 1 == n);
      UMA_TRY(m.forward(b, *cache, logits.data()));
    }
    return {};
  };

  const uint64_t weight_bytes = m.weight_bytes();
  const uint64_t params = matmul_params(m.file());
  // The FLOPs a prefill token takes: pp tokens go through every layer but the output matrix
  // only for the last one (its logits), so the 2 x params per token credits the prefill
  // with 2 x (pp - 1) x output params it never computes (a quarter of qwen3-0.6b's matmul
  // parameters); this count is the work done.
  const uint64_t out_params = output_params(m.file());
  const double pp_flops_per_token = 2.0 * double(params - std::min(params, out_params)) +
                                    2.0 * double(out_params) / double(std::max(1, p.pp));
  const double kv_bytes = kv_bytes_per_decode_token(m.config(), *cache, p.depth, p.tg);
  const double bytes_per_token = double(weight_bytes) + kv_bytes;
  say(fmt::format(
      "model: {} ({}, {:.1f} MiB of weights read per token, {:.0f} M matmul params); load {:.3f} "
      "s, first token {:.3f} s",
      e.path, m.file().architecture(), double(weight_bytes) / (1 << 20), params / 1e6, e.load_s,
      e.first_token_s));
  const double pp_attn_flops = attention_flops_per_prefill_token(m.config(), p.depth, p.pp);
  say(fmt::format(
      "prefill: {} tokens after {} in the cache; attention {:.2f} GFLOP a token (mean) beside the "
      "matmuls' {:.2f}",
      p.pp, p.depth, pp_attn_flops / 1e9, pp_flops_per_token / 1e9));
  say(fmt::format(
      "decode: {} tokens after {} in the cache, {:.1f} MiB of {} KV cache read per "
      "token (mean)",
      p.tg, p.depth, kv_bytes / (1 << 20), uma::kernels::kv_format_name(cache->format())));

  // 4. Prefill: pp tokens after --depth cached ones (prefilled untimed before each repetition, as
  // llama-bench's -d: an agent's next turn after its conversation so far), logits for the last,
  // after one untimed run (as llama-bench's warm-up): the first prefill of a size touches its
  // buffers, KV blocks and scratch for the first time, and on the dev VM ran 25-30 % slower than
  // the rest (page faults under shadow paging), which made the spread mostly a first-run effect.
  // With the probes on, the int8 peak is also read (best of 2 runs of 0.05 s) right before each
  // timed repetition and after the last, for the same reason as decode's bandwidth below: on the
  // dev VM one model's pp512 ratio moved by up to 28 % between minutes, and the start-up peak can
  // describe another state of the machine than the one a repetition ran in (docs/performance.md).
  stats pp, tg;
  std::vector<double> peak_around;
  const auto bracket_peak = [&] {
    uma::thread_pool probe_pool(threads);
    peak_around.push_back(uma::kernels::measure_int8_peak(&probe_pool, 0.05, 2).best);
  };
  for (int r = -1; r < c.reps; ++r) {
    cache->clear();
    if (p.depth > 0) {  // the cached context the prompt follows, untimed
      if (auto st = prefill(0, 0, p.depth); !st.ok()) return uma::cli::fail(cmd, st.message());
    }
    if (r >= 0 && !c.no_probe) bracket_peak();
    const auto t0 = clock_type::now();
    if (auto st = prefill(0, p.depth, p.pp); !st.ok()) return uma::cli::fail(cmd, st.message());
    if (r >= 0) pp.v.push_back(p.pp / seconds_since(t0));
  }
  if (!c.no_probe && c.reps > 0) bracket_peak();
  // 5. Decode: tg tokens one at a time from an empty cache (as llama-bench's tg). With the probes
  // on, the bandwidth is also read right before each repetition and after the last, and each
  // repetition is compared with the mean of the two readings around it: on a shared host the
  // bandwidth can change by 2x within seconds (docs/performance.md), so the start-up probe alone
  // can describe another state of the machine than the one the decode ran in. The probe buffer is
  // freed each time and its pages are kept out of the peak-RSS figure.
  double peak_rss_before = 0;
  std::vector<double> bw_around;
  const auto bracket_probe = [&] {
    peak_rss_before = std::max(peak_rss_before, proc_status_mib("VmHWM"));
    uma::thread_pool probe_pool(threads);
    bw_around.push_back(
        uma::kernels::measure_read_bandwidth(&probe_pool, size_t(c.bw_mib) << 20, 1).best);
    reset_peak_rss();
  };
  stats token_ms;  // every decoded token's forward, all repetitions
  const uint64_t parts_before = uma::model::attention_part_tasks();
  for (int r = 0; r < c.reps; ++r) {
    cache->clear();
    if (p.depth > 0) {  // the context decode starts from, untimed
      if (auto st = prefill(0, 0, p.depth); !st.ok()) return uma::cli::fail(cmd, st.message());
    }
    if (!c.no_probe) bracket_probe();
    const auto t0 = clock_type::now();
    for (int i = 0; i < p.tg; ++i) {
      b.clear();
      b.add(tok(rng), p.depth + i, 0, true);
      const auto t_tok = clock_type::now();
      if (auto st = m.forward(b, *cache, logits.data()); !st.ok())
        return uma::cli::fail(cmd, st.message());
      token_ms.v.push_back(1e3 * seconds_since(t_tok));
    }
    tg.v.push_back(p.tg / seconds_since(t0));
  }
  if (!c.no_probe) bracket_probe();
  // Attention part tasks a decoded token ran (model::attention_part_tasks: decode's few long
  // attention tasks split over the threads; 0 where the tasks were enough or the context short).
  const double parts_per_token =
      double(uma::model::attention_part_tasks() - parts_before) / (double(c.reps) * p.tg);
  // 5b. --timeline: one more decode pass of tg tokens (untimed by the figures above) with the
  // model's op timeline attached: where the calling thread's time goes, per token.
  uma::model::op_timeline timeline;
  double timeline_seconds = 0;
  if (c.timeline) {
    cache->clear();
    if (p.depth > 0) {
      if (auto st = prefill(0, 0, p.depth); !st.ok()) return uma::cli::fail(cmd, st.message());
    }
    m.set_timeline(&timeline);
    const auto t0 = clock_type::now();
    for (int i = 0; i < p.tg; ++i) {
      b.clear();
      b.add(tok(rng), p.depth + i, 0, true);
      if (auto st = m.forward(b, *cache, logits.data()); !st.ok()) {
        m.set_timeline(nullptr);
        return uma::cli::fail(cmd, st.message());
      }
    }
    timeline_seconds = seconds_since(t0);
    m.set_timeline(nullptr);
  }
  // 6. Batched decode (--batch B > 1): B sequences, each after `depth` tokens of its own, decode
  // tg tokens in lock-step, one forward of B tokens (one per sequence) per step, as a server
  // batches its concurrent requests. The weights are read once per step for all B.
  // Each value of the --batch list over 1 in turn.
  struct batch_run {
    int batch;
    stats tgb;
  };
  std::vector<batch_run> batches;
  for (const int nb : c.batch) {
    if (nb <= 1) continue;
    stats& tgb = batches.emplace_back(batch_run{nb, {}}).tgb;
    for (int r = 0; r < c.reps; ++r) {
      cache->clear();
      if (p.depth > 0) {
        for (int s = 0; s < nb; ++s) {
          if (auto st = prefill(s, 0, p.depth); !st.ok()) return uma::cli::fail(cmd, st.message());
        }
      }
      batch_logits.resize(static_cast<size_t>(nb * n_vocab));
      const auto t0 = clock_type::now();
      for (int i = 0; i < p.tg; ++i) {
        b.clear();
        for (int s = 0; s < nb; ++s) b.add(tok(rng), p.depth + i, s, true);
        if (auto st = m.forward(b, *cache, batch_logits.data()); !st.ok())
          return uma::cli::fail(cmd, st.message());
      }
      tgb.v.push_back(double(nb) * p.tg / seconds_since(t0));
    }
  }
  // Per repetition: tok/s over (mean bandwidth around it / bytes per token).
  stats tg_bracketed;
  for (size_t r = 0; r + 1 < bw_around.size() && r < tg.v.size(); ++r) {
    const double bw_r = 0.5 * (bw_around[r] + bw_around[r + 1]);
    if (bw_r > 0) tg_bracketed.v.push_back(tg.v[r] / (bw_r * 1e9 / bytes_per_token));
  }

  // Per prefill repetition: tok/s over (mean int8 peak around it / 2 x params).
  stats pp_bracketed;
  for (size_t r = 0; r + 1 < peak_around.size() && r < pp.v.size(); ++r) {
    const double peak_r = 0.5 * (peak_around[r] + peak_around[r + 1]);
    if (peak_r > 0) pp_bracketed.v.push_back(pp.v[r] / (peak_r * 1e9 / (2.0 * double(params))));
  }

  // The rooflines take the best bandwidth read in the run, the start-up probe's or one around
  // the decode repetitions: on the dev VM a start-up probe could read half of what the probes
  // around decode read minutes later in the same process (~25 against ~50 GB/s, every pass of
  // it), which set decode at 140-190 % of its roofline (docs/performance.md 2026-12-06 22:38).
  double bw_best = bw.best;
  for (double b2 : bw_around) bw_best = std::max(bw_best, b2);
  const double roofline_tps = bw_best > 0 ? bw_best * 1e9 / bytes_per_token : 0;
  const double pp_peak_tps = peak.best > 0 ? peak.best * 1e9 / (2.0 * double(params)) : 0;
  const double tg_ratio = roofline_tps > 0 ? tg.median() / roofline_tps : 0;
  // The median token: the engine's speed apart from the stalls that the mean tok/s includes.
  const double token_median_ms = token_ms.median();
  const double token_median_tps = token_median_ms > 0 ? 1e3 / token_median_ms : 0;
  const double token_median_ratio = roofline_tps > 0 ? token_median_tps / roofline_tps : 0;
  int n_stalled = 0;
  const double stalled_share = stall_share(token_ms, &n_stalled);
  // Times the pool left a late worker out of a job (thread_pool::run_shared): another process
  // or the host had its core.
  const uint64_t left_out = m.pool() != nullptr ? m.pool()->workers_left_out() : 0;
  const double pp_ratio = pp_peak_tps > 0 ? pp.median() / pp_peak_tps : 0;
  // The same ratios against the FLOPs done (pp_flops_per_token).
  const double done_scale = params > 0 ? pp_flops_per_token / (2.0 * double(params)) : 0;
  const double pp_done_ratio = pp_ratio * done_scale;
  const double pp_done_bracketed =
      pp_bracketed.v.empty() ? 0.0 : pp_bracketed.median() * done_scale;
  // Batched decode's ceiling: each step reads the weights once and each sequence's KV cache, and
  // computes 2 x params per token; whichever bound is lower (bandwidth or the int8 peak).
  struct batch_figures {
    double bytes, roofline_tps, ratio, speedup;
  };
  const auto figures_of = [&](const batch_run& br) {
    batch_figures f;
    f.bytes = double(weight_bytes) + double(br.batch) * kv_bytes;
    const double bw_tps = bw_best > 0 ? br.batch * bw_best * 1e9 / f.bytes : 0;
    f.roofline_tps = pp_peak_tps > 0 && bw_tps > 0 ? std::min(bw_tps, pp_peak_tps) : bw_tps;
    f.ratio = f.roofline_tps > 0 ? br.tgb.median() / f.roofline_tps : 0;
    f.speedup = tg.median() > 0 ? br.tgb.median() / tg.median() : 0;
    return f;
  };
  // The tile engine's own peak (AMX), when the CPU has one: prefill on the amx backend is
  // compute-bound against this, not against the SIMD dot-product peak; against the bf16 tiles'
  // where its prefill products take them (from big_gemm_bf16_min_n rows), else the int8 tiles'.
  const auto& be = uma::kernels::best_backend();
  const bool bf16_tiles = be.big_gemm_bf16_min_n > 0 && p.pp >= be.big_gemm_bf16_min_n;
  const double tile_peak = bf16_tiles && amx_bf16.best > 0 ? amx_bf16.best : amx.best;
  const double pp_tile_tps = tile_peak > 0 ? tile_peak * 1e9 / (2.0 * double(params)) : 0;
  const double pp_tile_ratio = pp_tile_tps > 0 ? pp.median() / pp_tile_tps : 0;
  e.peak_rss_before = std::max(e.peak_rss_before, peak_rss_before);
  const auto [peak_rss, rss_anon, rss_file, huge_mib, kv_mib, kv_faulted_mib, repacked_mib] =
      memory_now(e);

  if (c.json) {
    nlohmann::json j;
    j["model"] = e.path;
    j["arch"] = std::string(m.file().architecture());
    j["weight_bytes"] = weight_bytes;
    j["matmul_params"] = params;
    j["backend"] = uma::kernels::matmul_backend_name();
    j["cpu"] = uma::cpu().describe();
    j["cpu_name"] = uma::cpu().name;
    j["cpu_uarch"] = uma::cpu().uarch;
    j["cpu_id"] = uma::cpu().id;
    j["threads"] = threads;
    j["reps"] = c.reps;
    j["pp"] = p.pp;
    j["tg"] = p.tg;
    j["depth"] = p.depth;
    j["ubatch"] = c.ubatch;
    j["attn_part_keys"] = c.attn_part_keys;
    j["kv_type"] = uma::kernels::kv_format_name(cache->format());
    j["attn_bf16"] = e.attn_bf16;
    j["kv_bytes_per_token"] = kv_bytes;
    j["bytes_per_token"] = bytes_per_token;
    j["bandwidth_gbs"] = bw_best;
    j["bandwidth_startup_gbs"] = bw.best;
    j["bandwidth_gbs_median"] = bw.median;
    j["bandwidth_samples"] = bw.samples;
    j["int8_tops"] = peak.best / 1000.0;
    j["int8_tops_median"] = peak.median / 1000.0;
    j["int8_method"] = peak.method;
    j["tile_int8_tops"] = amx.best / 1000.0;
    j["tile_int8_method"] = amx.method;
    j["tile_bf16_tflops"] = amx_bf16.best / 1000.0;
    j["pp_tile_engine"] = amx.best > 0 ? (bf16_tiles ? "amx-bf16" : "amx-int8") : "none";
    j["barrier_us"] = e.barrier_us;
    // name = the median, name_min / _max / _spread, and the repetitions under `samples`.
    const auto put_stats = [&](const std::string& name, const char* samples, const stats& st) {
      j[name] = st.median();
      j[name + "_min"] = st.min();
      j[name + "_max"] = st.max();
      j[name + "_spread"] = st.spread();
      j[samples] = st.v;
    };
    put_stats("pp_tps", "pp_samples", pp);
    put_stats("tg_tps", "tg_samples", tg);
    j["roofline_tps"] = roofline_tps;
    j["tg_roofline_ratio"] = tg_ratio;
    j["bandwidth_around_tg_gbs"] = bw_around;
    j["tg_roofline_ratio_bracketed"] = tg_bracketed.v.empty() ? 0.0 : tg_bracketed.median();
    j["tg_roofline_ratio_bracketed_samples"] = tg_bracketed.v;
    j["tg_token_ms_median"] = token_median_ms;
    j["tg_token_ms_p90"] = token_ms.quantile(0.9);
    j["tg_token_ms_max"] = token_ms.max();
    j["tg_token_ms_samples"] = token_ms.v;
    j["tg_tps_token_median"] = token_median_tps;
    j["tg_roofline_ratio_token_median"] = token_median_ratio;
    j["tg_stalled_tokens"] = n_stalled;
    j["tg_stalled_time_share"] = stalled_share;
    j["pool_workers_left_out"] = left_out;
    j["tg_attention_part_tasks_per_token"] = parts_per_token;
    if (c.batch.size() == 1)
      j["batch"] = c.batch[0];
    else
      j["batch"] = c.batch;
    if (c.timeline) {
      nlohmann::json us, share;
      const double sum = timeline.sum();
      for (int o = 0; o < uma::model::op_timeline::n_ops; ++o) {
        us[uma::model::op_timeline::names[o]] = timeline.ns[o] / 1e3 / p.tg;
        share[uma::model::op_timeline::names[o]] = sum > 0 ? timeline.ns[o] / sum : 0.0;
      }
      j["decode_timeline_us_per_token"] = us;
      j["decode_timeline_share"] = share;
      j["decode_timeline_tps"] = timeline_seconds > 0 ? p.tg / timeline_seconds : 0.0;
    }
    // One batch size over 1: its fields in the object; several: one object each in batch_runs.
    nlohmann::json batch_runs = nlohmann::json::array();
    for (const batch_run& br : batches) {
      const batch_figures f = figures_of(br);
      nlohmann::json& o = c.batch.size() == 1 ? j : batch_runs.emplace_back();
      if (&o != &j) o["batch"] = br.batch;
      o["batch_tg_tps"] = br.tgb.median();
      o["batch_tg_tps_min"] = br.tgb.min();
      o["batch_tg_tps_max"] = br.tgb.max();
      o["batch_tg_tps_spread"] = br.tgb.spread();
      o["batch_tg_samples"] = br.tgb.v;
      o["batch_bytes_per_step"] = f.bytes;
      o["batch_roofline_tps"] = f.roofline_tps;
      o["batch_roofline_ratio"] = f.ratio;
      o["batch_speedup"] = f.speedup;
    }
    if (c.batch.size() > 1) j["batch_runs"] = batch_runs;
    j["pp_peak_tps"] = pp_peak_tps;
    j["pp_peak_ratio"] = pp_ratio;
    j["int8_peak_around_pp_gops"] = peak_around;
    j["pp_peak_ratio_bracketed"] = pp_bracketed.v.empty() ? 0.0 : pp_bracketed.median();
    j["pp_peak_ratio_bracketed_samples"] = pp_bracketed.v;
    j["pp_flops_per_token"] = pp_flops_per_token;
    j["pp_attention_flops_per_token"] = pp_attn_flops;
    j["pp_done_peak_ratio"] = pp_done_ratio;
    j["pp_done_peak_ratio_bracketed"] = pp_done_bracketed;
    j["pp_tile_peak_tps"] = pp_tile_tps;
    j["pp_tile_peak_ratio"] = pp_tile_ratio;
    j["load_s"] = e.load_s;
    j["first_token_s"] = e.first_token_s;
    j["peak_rss_mb"] = peak_rss;
    j["rss_after_first_token_mb"] = e.rss_after_first_mib;
    j["rss_file_mb"] = rss_file;
    j["rss_anon_mb"] = rss_anon;
    j["kv_cache_reserved_mb"] = kv_mib;
    j["kv_cache_faulted_mb"] = kv_faulted_mib;
    j["repack"] = c.repack.empty() ? "none" : c.repack;
    j["repacked_weights_mb"] = repacked_mib;
    j["weights_huge_pages_mb"] = huge_mib;
    j["rss_beyond_weights_mb"] = std::max(0.0, rss_anon - repacked_mib);
    runs.push_back(std::move(j));
    return 0;
  }
  std::printf("\n%-8s %12s %12s %14s %8s\n", "test", "tok/s", "spread", "roofline tok/s", "ratio");
  std::printf(
      "%-8s %12.1f %11.1f%% %14.1f %7.1f%%   (int8 peak / 2*params)\n",
      (p.depth > 0 ? fmt::format("pp{}@d{}", p.pp, p.depth) : fmt::format("pp{}", p.pp)).c_str(),
      pp.median(), 100 * pp.spread(), pp_peak_tps, 100 * pp_ratio);
  if (!pp_bracketed.v.empty()) {
    const auto [lo, hi] = std::minmax_element(peak_around.begin(), peak_around.end());
    std::printf(
        "%-8s %12s %12s %14s %7.1f%%   (int8 peak read around each repetition: %.0f-%.0f GOPS)\n",
        "", "", "", "", 100 * pp_bracketed.median(), *lo, *hi);
  }
  if (pp_done_ratio > 0)
    std::printf(
        "%-8s %12s %12s %14.1f %7.1f%%   (int8 peak / FLOPs done: the output matrix for "
        "the last token only)\n",
        "", "", "", pp_peak_tps / done_scale, 100 * pp_done_ratio);
  if (pp_done_bracketed > 0)
    std::printf("%-8s %12s %12s %14s %7.1f%%   (the same, int8 peak read around each repetition)\n",
                "", "", "", "", 100 * pp_done_bracketed);
  if (pp_tile_tps > 0)
    std::printf("%-8s %12s %12s %14.1f %7.1f%%   (%s tile peak / 2*params)\n", "", "", "",
                pp_tile_tps, 100 * pp_tile_ratio, bf16_tiles ? "bf16" : "int8");
  std::printf(
      "%-8s %12.1f %11.1f%% %14.1f %7.1f%%   (best bandwidth read in the run / bytes per "
      "token)\n",
      (p.depth > 0 ? fmt::format("tg{}@d{}", p.tg, p.depth) : fmt::format("tg{}", p.tg)).c_str(),
      tg.median(), 100 * tg.spread(), roofline_tps, 100 * tg_ratio);
  if (!tg_bracketed.v.empty()) {
    const auto [lo, hi] = std::minmax_element(bw_around.begin(), bw_around.end());
    std::printf(
        "%-8s %12s %12s %14s %7.1f%%   (bandwidth read around each repetition: %.1f-%.1f GB/s)\n",
        "", "", "", "", 100 * tg_bracketed.median(), *lo, *hi);
  }
  if (token_median_ms > 0)
    std::printf(
        "%-8s %12.1f %12s %14s %7.1f%%   (the median token, %.2f ms; p90 %.2f ms; %d of %zu "
        "tokens over %.1fx the median took %.1f %% of the decode time beyond it)\n",
        "", token_median_tps, "", "", 100 * token_median_ratio, token_median_ms,
        token_ms.quantile(0.9), n_stalled, token_ms.v.size(), stall_factor, 100 * stalled_share);
  if (left_out > 0)
    std::printf(
        "%-8s the pool left a late worker out of its jobs %llu times (another process or the "
        "host had its core; see thread_pool::run_shared)\n",
        "", static_cast<unsigned long long>(left_out));
  if (parts_per_token > 0)
    std::printf(
        "%-8s attention ran %.1f part tasks a token (its few long tasks split over the threads)\n",
        "", parts_per_token);
  for (const batch_run& br : batches) {
    const batch_figures f = figures_of(br);
    std::printf(
        "%-8s %12.1f %11.1f%% %14.1f %7.1f%%   (min(bandwidth / bytes per step, int8 peak); "
        "%.2fx batch 1)\n",
        fmt::format("tg{}x{}", p.tg, br.batch).c_str(), br.tgb.median(), 100 * br.tgb.spread(),
        f.roofline_tps, 100 * f.ratio, f.speedup);
  }
  if (c.timeline) {
    const double sum = timeline.sum();
    std::printf(
        "\ndecode timeline (one more pass of %d tokens, %.1f tok/s; the calling thread's "
        "time per token):\n",
        p.tg, timeline_seconds > 0 ? p.tg / timeline_seconds : 0.0);
    for (int o = 0; o < uma::model::op_timeline::n_ops; ++o)
      std::printf("  %-11s %9.1f us %6.1f%%\n", uma::model::op_timeline::names[o],
                  timeline.ns[o] / 1e3 / p.tg, sum > 0 ? 100 * timeline.ns[o] / sum : 0.0);
  }
  return 0;
}

// The lines after the table: the backend, what --repack would copy, memory, huge pages.
void print_footer(const bench_env& e, int max_pp, int max_depth, int max_batch_seen) {
  const bench_cli& c = e.c;
  const uma::model::model& m = e.m;
  const int threads = e.threads;
  const bool attn_bf16 = e.attn_bf16;
  const auto [peak_rss, rss_anon, rss_file, huge_mib, kv_mib, kv_faulted_mib, repacked_mib] =
      memory_now(e);
  std::printf("\nbackend %s, %d thread%s, %d reps (median; spread = (max-min)/median)%s%s\n",
              uma::kernels::matmul_backend_name(), threads, threads == 1 ? "" : "s", c.reps,
              attn_bf16 ? "; BF16 products in prompt attention" : "",
              c.ubatch > 0 && std::max(max_pp, max_depth) > c.ubatch
                  ? fmt::format("; prefill in forwards of {} tokens", c.ubatch).c_str()
                  : "");
  if (c.repack.empty()) {
    // What --repack would copy (the types whose decode this backend measured faster so).
    const auto& w = m.bound();
    const double faster_mib = double(uma::model::repack_bytes(w, false)) / (1 << 20);
    if (faster_mib > 0)
      std::printf(
          "(--repack copies the %.0f MiB of these weights whose decode ran faster from an "
          "interleaved copy on this CPU: on the dev VMs Q4_K 1-1.1x on Zen 5, Q3_K / Q2_K "
          "1.1-1.2x on Zen 4, every type 1.1-1.3x on Intel; see docs/performance.md)\n",
          faster_mib);
    else if (uma::kernels::interleave_supported(w.output.view()))
      std::printf(
          "(--repack=all copies these weights to the interleaved layout: qwen3-0.6b Q4_0 "
          "decode of one sequence 7-20 %% slower on the Zen 5 dev VM, even on Zen 4%s; see "
          "docs/performance.md)\n",
          max_batch_seen > 1 ? "; of 2-16 sequences 1.15-1.5x faster" : "");
  }
  std::printf(
      "memory: peak RSS %.1f MiB; mapped weights resident %.1f MiB; interleaved weight copies "
      "%.1f MiB; beyond weights %.1f MiB (KV cache reserved %.1f MiB, %.1f MiB of it faulted in: "
      "what was used and a little ahead)\n",
      peak_rss, rss_file, repacked_mib, std::max(0.0, rss_anon - repacked_mib), kv_mib,
      kv_faulted_mib);
  const double file_mib = static_cast<double>(m.file().bytes().size()) / (1 << 20);
  std::printf("weights on 2 MiB pages: %.1f of %.1f MiB mapped%s\n", huge_mib, file_mib,
              huge_mib >= 0.5 * file_mib ? ""
              : c.reread ? " (this kernel or file system keeps the file in 4 KiB pages)"
                         : " (the page cache holds the file in 4 KiB pages, as after a copy or a "
                           "download in small writes: --reread reads it back once, in 2 MiB pages "
                           "where the file system allows; decode +3-10 % on the dev VM)");
}

int run_bench(const bench_cli& c) {
  const char* cmd = "bench";
  plan pl;
  if (int code = make_plan(c, &pl); code != 0) return code;
  const int threads = pl.threads;
  const int max_pp = pl.max_pp, max_tg = pl.max_tg, max_depth = pl.max_depth,
            max_seqs = pl.max_seqs;
  auto say = [&](const std::string& s) {
    if (!c.json) std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  };

  // 1. The model: given, or synthesized once into the cache directory.
  std::string path = c.model;
  if (path.empty()) {
    const std::string dir = cache_dir();
    path = fmt::format("{}/synth-{}-{}.gguf", dir, c.preset, c.type);
    if (!fs::exists(path)) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return uma::cli::fail(cmd, fmt::format("cannot create {}: {}", dir, ec.message()));
      say(fmt::format("synthesizing {} {} into {} (once) ...", c.preset, c.type, path));
      uma::synth::synth_options o;
      o.preset = c.preset;
      o.type = c.type;
      o.output = path;
      o.seed = 1;
      o.threads = threads;
      if (auto st = uma::synth::synthesize(o); !st.ok()) return uma::cli::fail(cmd, st.message());
    }
  } else if (!fs::exists(path)) {
    return uma::cli::fail(cmd, fmt::format("model file not found: {}", path));
  }

  // 2. Machine probes (their pool and buffer are gone before the model loads).
  say(fmt::format("cpu: {}; {}; {} threads", uma::cpu().identity(), uma::cpu().describe(),
                  threads));
  uma::kernels::probe_result bw, peak, amx, amx_bf16;
  double barrier_us = 0;
  if (!c.no_probe) {
    uma::thread_pool probe_pool(threads);
    // The best of at least 8 passes (~20 ms each at 50 GB/s): on the dev VM the first passes of
    // a process could read 30-45 GB/s where the later ones read 50-57. Some start-up probes read
    // ~25 in every pass; the rooflines therefore also take the probes around decode (below;
    // docs/performance.md 2026-12-06 22:38).
    bw = uma::kernels::measure_read_bandwidth(&probe_pool, size_t(c.bw_mib) << 20,
                                              std::max(c.reps + 2, 8));
    if (bw.samples.empty())
      return uma::cli::fail(cmd, fmt::format("cannot map the {} MiB bandwidth probe buffer "
                                             "(--bw-mib sets a smaller one)",
                                             c.bw_mib));
    // A peak is a ceiling: the best of at least 5 short runs (on a shared host a run can lose
    // half its cycles to a neighbour; 1 run read 0.97-1.80 TOPS on the 2-core VM).
    const int peak_reps = std::max(c.reps, 5);
    peak = uma::kernels::measure_int8_peak(&probe_pool, 0.15, peak_reps);
    amx = uma::kernels::measure_amx_peak(&probe_pool, 0.15, peak_reps);
    amx_bf16 = uma::kernels::measure_amx_bf16_peak(&probe_pool, 0.15, peak_reps);
    barrier_us = uma::kernels::measure_barrier_us(&probe_pool, 2000);
    say(
        fmt::format("machine: read bandwidth {:.1f} GB/s (best of {}, median "
                    "{:.1f}); int8 peak {:.0f} GOPS ({}){}; barrier {:.2f} us",
                    bw.best, bw.samples.size(), bw.median, peak.best, peak.method,
                    amx.best > 0 ? fmt::format("; tile peak {:.0f} GOPS ({}), bf16 {:.0f} GFLOPS",
                                               amx.best, amx.method, amx_bf16.best)
                                 : std::string(),
                    barrier_us));
  }

  // 3. Per load: the model loaded (and timed to its first token: load + a one-token forward),
  // every point run on it, then (in the table) its footer. Each load's model and cache are gone
  // before the next loads, and its peak RSS mark starts afresh.
  nlohmann::json runs = nlohmann::json::array();
  const auto& loads = pl.loads;
  for (size_t li = 0; li < loads.size(); ++li) {
    const bench_load& l = loads[li];
    if (loads.size() > 1)
      say(fmt::format(
          "{}== load {} of {}: {} thread{}, {} KV cache, {} products in prompt "
          "attention",
          li > 0 ? "\n" : "", li + 1, loads.size(), l.threads, l.threads == 1 ? "" : "s",
          uma::kernels::kv_format_name(l.kv), l.attn_bf16 ? "BF16" : "f32"));
    reset_peak_rss();
    const auto t_load = clock_type::now();
    auto loaded = uma::model::load_model(
        path, {.n_threads = l.threads,
               .max_context = int64_t(max_depth) + std::max(max_pp, max_tg) + 8,
               .max_sequences = max_seqs,
               .repack = uma::cli::repack_mode_of(c.repack),
               .reread_huge = c.reread,
               .kv_format = l.kv,
               .attn_part_keys = c.attn_part_keys,
               .attn_bf16 = l.attn_bf16});
    // (load_model refuses a KV cache, reserved up front for --batch sequences, larger than the
    // machine's memory.)
    if (!loaded.ok()) return uma::cli::fail(cmd, loaded.message());
    auto& m = *loaded.value();
    const double load_s = seconds_since(t_load);
    const int64_t n_ctx = m.config().n_ctx_train;
    // Prefill and decode both start after the --depth tokens.
    const int64_t ctx_needed = int64_t(max_depth) + std::max(max_pp, max_tg);
    if (n_ctx > 0 && ctx_needed > n_ctx)
      return uma::cli::fail(
          cmd, fmt::format("--depth plus the longer of --pp and --tg ({} tokens) exceed the "
                           "model's context length ({})",
                           ctx_needed, n_ctx));
    auto cache = m.make_cache();
    {
      std::vector<float> logits(static_cast<size_t>(m.config().n_vocab));
      uma::model::batch b;
      b.add(static_cast<int32_t>(std::min<int64_t>(3, m.config().n_vocab - 1)), 0, 0, true);
      if (auto st = m.forward(b, *cache, logits.data()); !st.ok())
        return uma::cli::fail(cmd, st.message());
    }
    const double first_token_s = seconds_since(t_load);
    const double rss_after_first_mib = proc_status_mib("VmRSS");

    bench_env e{c,
                l.threads,
                path,
                m,
                *cache,
                bw,
                peak,
                amx,
                amx_bf16,
                barrier_us,
                load_s,
                first_token_s,
                rss_after_first_mib,
                l.attn_bf16};
    for (const bench_point& p : pl.points) {
      if (int code = run_point(e, p, runs); code != 0) return code;
    }
    if (!c.json) print_footer(e, max_pp, max_depth, max_seqs);
  }
  if (c.json) std::printf("%s\n", (runs.size() == 1 ? runs[0] : runs).dump(2).c_str());
  return 0;
}
}  // namespace

UMA_COMMAND(bench,
            "measure prefill/decode tok/s against the machine's bandwidth and int8 rooflines",
            [](CLI::App& app) -> uma::cli::runner {
              auto c = std::make_shared<bench_cli>();
              app.add_option("-m,--model", c->model,
                             "GGUF model (default: a synthesized qwen3-0.6b-shaped Q4_0 model)");
              app.add_option("--preset", c->preset, "synth preset when no model is given");
              app.add_option("--type", c->type, "synth weight type when no model is given");
              // Lists: "--depth 0,4096" runs every combination with one model load.
              const auto list = [&](const char* name, std::vector<int>* v, const char* what) {
                app.add_option(name, *v, what)->delimiter(',')->allow_extra_args(false);
              };
              const auto list_str = [&](const char* name, std::vector<std::string>* v,
                                        const char* what) {
                return app.add_option(name, *v, what)->delimiter(',')->allow_extra_args(false);
              };
              list("--pp", &c->pp, "prompt tokens for the prefill test (default 512)");
              list("--tg", &c->tg, "generated tokens for the decode test (default 128)");
              list("--depth", &c->depth,
                   "tokens already in the cache when prefill and decode start (prefilled "
                   "untimed, as llama-bench's -d; default 0)");
              list("--batch", &c->batch,
                   "also decode this many sequences at once, one token each per step "
                   "(aggregate tok/s and the ratio to batch 1; default 1: off)");
              app.add_option("--ubatch", c->ubatch,
                             "tokens per forward when prefilling (--pp and --depth), as the "
                             "engine's sessions do (default 512; 0: the whole prompt at once)");
              app.add_option("--attn-part-keys", c->attn_part_keys,
                             "keys per attention part: decode's few long attention tasks split "
                             "into parts of this many over the threads (default 512; a tuning "
                             "knob, see docs/model.md)");
              app.add_option("--reps", c->reps, "repetitions (median and spread reported)");
              list("--threads", &c->threads,
                   "threads (0: one per physical core); a list (1,2) loads the model once each");
              app.add_option("--bw-mib", c->bw_mib, "bandwidth probe buffer in MiB (default 1024)");
              app.add_flag("--no-probe", c->no_probe, "skip the bandwidth / int8 probes");
              uma::cli::add_weight_flags(app, &c->repack, &c->reread);
              list_str("--kv-type", &c->kv_type,
                       "KV cache element type: f16 (default) or q8_0 (half the cache memory and "
                       "the bytes attention reads per key); a list (f16,q8_0) loads the model "
                       "once each")
                  ->check(CLI::IsMember({"f16", "q8_0"}));
              app.add_option("--attn-bf16", c->attn_bf16,
                             "BF16 products in prompt attention where the CPU has them "
                             "(AVX512_BF16); alone: on; 0,1: a load each, f32 and BF16")
                  ->expected(0, 1)
                  ->default_str("1");
              app.add_flag("--json", c->json,
                           "print one JSON object (with lists: an array of one object a "
                           "combination)");
              app.add_flag("--timeline", c->timeline,
                           "one more decode pass with the time per token split by operation "
                           "(Q/K/V, attention, O, gate/up, down, layer glue, output, other)");
              return [c] { return run_bench(*c); };
            });
