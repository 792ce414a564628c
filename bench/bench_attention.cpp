// Microbenchmark of decode attention (kernels::attn_block with one token's GQA group as the
// query rows) over a paged F16 or Q8_0 model::kv_cache (its chunked layout, blocks of 16 tokens x
// 128 values, one sequence's blocks in id order), walked the way model::attention_block walks it:
// one task per KV head on the pool, up to four blocks (64 keys) that follow one another in memory
// per kernel call, the next span passed for prefetching. Shape: qwen3-0.6b (28 layers, 8 KV heads
// of 128, 2 query rows per KV head); the context is the benchmark's argument, the K/V format the
// name's last part (f16: 256 bytes a row, q8_0: 136). Reports GB/s of K/V read
// per decoded token and its ratio to the measured read bandwidth (the KV cache is far larger than
// the L3 at these contexts). Run: build/<dir>/bench/bench_attention [--benchmark_filter=avx512]
// Environment: UMA_BENCH_THREADS (pool size, default all cores), UMA_BENCH_CHUNK (the cache's
// chunks: see bm_decode_attention).
// prefill_attention: one KV head's causal prefill on one thread (see bm_prefill_attention), its
// buffers 64-byte aligned, or that plus UMA_BENCH_MISALIGN floats; UMA_BENCH_RUN tokens a task.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "kernels/ops.h"
#include "kernels/ops_backend.h"
#include "kernels/probe.h"
#include "model/kv_cache.h"
#include "tensor/half.h"
#include "util/thread_pool.h"

namespace {

using namespace uma;
using namespace uma::kernels;

using bench::machine_bandwidth;
using bench::pool;

constexpr int64_t n_layer = 28, n_head_kv = 8, group = 2, d = 128, tpb = 16;
constexpr int64_t span = attn_vector_keys / tpb;  // blocks per kernel call, as attention_block

void bm_decode_attention(benchmark::State& st, backend_id id, kv_format f) {
  const ops_backend* be = find_ops(id);
  if (be == nullptr) {
    st.SkipWithError("backend not available on this CPU");
    return;
  }
  const int64_t ctx = st.range(0), n_blocks = (ctx + tpb - 1) / tpb;
  const int64_t row = kv_row_bytes(f, d);
  // The model's cache itself (its chunked layout, on 2 MiB pages where the system has them);
  // UMA_BENCH_CHUNK: "first[,longest]" blocks a chunk (model::kv_cache's chunk_blocks and
  // max_chunk_blocks), 0 for one chunk of all blocks; unset, the model's default.
  int64_t first = 0, longest = 0;
  if (const char* env = std::getenv("UMA_BENCH_CHUNK"); env != nullptr) {
    first = std::atoi(env);
    if (const char* comma = std::strchr(env, ','); comma != nullptr) longest = std::atoi(comma + 1);
    if (first <= 0) first = longest = n_blocks;
  }
  model::kv_cache cache(n_layer, n_head_kv, n_head_kv * d, n_head_kv * d, tpb, n_blocks, 1, ctx,
                        first, longest, f);
  if (!cache.reserve(0, ctx).ok()) {
    st.SkipWithError("KV cache reservation failed");
    return;
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  {  // random rows (also faults the arrays in before the timed loop)
    std::vector<float> x(static_cast<size_t>(d));
    for (int64_t il = 0; il < n_layer; ++il)
      for (int64_t pos = 0; pos < ctx; ++pos)
        for (int64_t h = 0; h < n_head_kv; ++h) {
          for (auto& e : x) e = nd(rng);
          const model::kv_cache::key_slot ks = cache.k_at(il, 0, pos, h);
          f32_to_kv_key(f, x.data(), d, ks.tile, ks.slot);
          for (auto& e : x) e = nd(rng);
          f32_to_kv_row(f, x.data(), cache.v_at(il, 0, pos, h), d);
        }
  }
  std::vector<float> q(static_cast<size_t>(n_head_kv * group * d));
  for (auto& x : q) x = 0.09f * nd(rng);
  // For a Q8_0 cache the queries quantized, as attention_block does once per task.
  std::vector<uint8_t> q8(static_cast<size_t>(n_head_kv * group * attn_q8_row_bytes(d)));
  attn_quantize_queries(q.data(), n_head_kv * group, d, d, q8.data());
  // Spans of up to `span` blocks that follow one another in memory, as attention_block's.
  const auto span_end = [&](int64_t b) {
    int64_t e = b + 1;
    while (e < n_blocks && e % span != 0 && cache.follows_in_memory(0, int32_t(e - 1), int32_t(e)))
      ++e;
    return e;
  };
  const auto keys = [&](int64_t b0, int64_t b1) {
    return std::min((b1 - b0) * tpb, ctx - b0 * tpb);
  };
  for (auto _ : st) {
    for (int64_t il = 0; il < n_layer; ++il) {
      std::atomic<int64_t> next{0};
      pool().run_on_all([&](int, int) {
        thread_local std::vector<float> o, mx, sum, scratch;
        thread_local std::vector<int32_t> lo, hi;
        o.assign(group * d, 0.f), mx.assign(group, -INFINITY), sum.assign(group, 0.f);
        scratch.resize(static_cast<size_t>(span * tpb * 2 * d));
        lo.resize(group), hi.resize(group);
        for (int64_t h = next.fetch_add(1); h < n_head_kv; h = next.fetch_add(1)) {
          attn_block_args a;
          a.q = q.data() + h * group * d, a.m = group, a.ldq = d, a.d = d, a.dv = d, a.kv = f;
          a.ldk = d, a.ldv = d, a.lo = lo.data(), a.hi = hi.data();
          a.row_max = mx.data(), a.row_sum = sum.data(), a.o = o.data(), a.ldo = d;
          a.scratch = scratch.data();
          if (f == kv_format::q8_0) a.q8 = q8.data() + h * group * attn_q8_row_bytes(d);
          for (int64_t b = 0, e = span_end(0); b < n_blocks;) {
            const int64_t e2 = e < n_blocks ? span_end(e) : e;
            a.k = cache.k_head(il, int32_t(b), h), a.v = cache.v_head(il, int32_t(b), h);
            a.nk = keys(b, e);
            a.k_next = e < n_blocks ? cache.k_head(il, int32_t(e), h) : nullptr;
            a.v_next = e < n_blocks ? cache.v_head(il, int32_t(e), h) : nullptr;
            a.nk_next = e < n_blocks ? keys(e, e2) : 0;
            for (int64_t i = 0; i < group; ++i) lo[i] = 0, hi[i] = static_cast<int32_t>(a.nk);
            be->attn_block(a);
            b = e, e = e2;
          }
        }
        benchmark::DoNotOptimize(o.data());
      });
    }
  }
  const double bytes = static_cast<double>(ctx) * n_layer * n_head_kv * row * 2;
  st.counters["GBps"] =
      benchmark::Counter(bytes * 1e-9 * st.iterations(), benchmark::Counter::kIsRate);
  st.counters["bw_GBps"] = machine_bandwidth();
  st.counters["bw_ratio"] = benchmark::Counter(bytes * 1e-9 * st.iterations() / machine_bandwidth(),
                                               benchmark::Counter::kIsRate);
}

// Decode attention's arithmetic rate: one thread, one KV head's 2 query rows against `ctx` keys
// (Arg; 1024 F16 keys are 512 KB, within the L2) held in one contiguous run of tiles and rows,
// walked span by span (64 keys a call, the next span passed for prefetching) over and over, so
// the data comes from the cache and the figure is what the kernel computes at most: GB/s of
// K/V, to set beside decode_attention's DRAM rate per thread.
void bm_decode_attention_hot(benchmark::State& st, backend_id id, kv_format f) {
  const ops_backend* be = find_ops(id);
  if (be == nullptr) {
    st.SkipWithError("backend not available on this CPU");
    return;
  }
  const int64_t ctx = st.range(0), keys = attn_vector_keys;
  const int64_t row = kv_row_bytes(f, d), tile = kv_tile_bytes(f, d);
  const int64_t tiles = (ctx + kv_key_tile - 1) / kv_key_tile;
  std::vector<uint8_t> k(static_cast<size_t>(tiles * tile)), v(static_cast<size_t>(ctx * row));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(d));
  for (int64_t j = 0; j < ctx; ++j) {
    for (auto& e : x) e = nd(rng);
    f32_to_kv_key(f, x.data(), d, k.data() + j / kv_key_tile * tile, j % kv_key_tile);
    for (auto& e : x) e = nd(rng);
    f32_to_kv_row(f, x.data(), v.data() + j * row, d);
  }
  std::vector<float> q(static_cast<size_t>(group * d)), o(static_cast<size_t>(group * d));
  for (auto& e : q) e = 0.09f * nd(rng);
  std::vector<uint8_t> q8(static_cast<size_t>(group * attn_q8_row_bytes(d)));
  attn_quantize_queries(q.data(), group, d, d, q8.data());
  std::vector<float> mx(group), sum(group), scratch(static_cast<size_t>(keys * 2 * d));
  std::vector<int32_t> lo(group, 0), hi(group);
  const int64_t span_k = keys / kv_key_tile * tile, span_v = keys * row;  // a full span's bytes
  for (auto _ : st) {
    std::fill(o.begin(), o.end(), 0.f);
    std::fill(mx.begin(), mx.end(), -INFINITY);
    std::fill(sum.begin(), sum.end(), 0.f);
    for (int64_t j0 = 0, s = 0; j0 < ctx; j0 += keys, ++s) {
      attn_block_args a;
      a.q = q.data(), a.m = group, a.ldq = d, a.d = d, a.dv = d, a.kv = f, a.ldk = d, a.ldv = d;
      a.lo = lo.data(), a.hi = hi.data(), a.row_max = mx.data(), a.row_sum = sum.data();
      a.o = o.data(), a.ldo = d, a.scratch = scratch.data();
      if (f == kv_format::q8_0) a.q8 = q8.data();
      a.k = k.data() + s * span_k, a.v = v.data() + s * span_v;
      a.nk = std::min(keys, ctx - j0);
      const bool more = j0 + keys < ctx;
      a.k_next = more ? k.data() + (s + 1) * span_k : nullptr;
      a.v_next = more ? v.data() + (s + 1) * span_v : nullptr;
      a.nk_next = more ? std::min(keys, ctx - j0 - keys) : 0;
      for (int64_t i = 0; i < group; ++i) hi[static_cast<size_t>(i)] = static_cast<int32_t>(a.nk);
      be->attn_block(a);
    }
    benchmark::DoNotOptimize(o.data());
  }
  const double bytes = static_cast<double>(ctx) * row * 2;
  st.counters["GBps"] =
      benchmark::Counter(bytes * 1e-9 * st.iterations(), benchmark::Counter::kIsRate);
}

// Prefill attention of one KV head over a prompt of `ctx` tokens, on one thread, as
// model::attention_block runs it: tasks of UMA_BENCH_RUN (default 64, the model's length for long
// prompts) consecutive tokens x the 2 query heads of the KV head, each walking the causal keys in
// calls of 64. Reports the useful GFLOPS (4 x d per visible query-key pair: the scores and the
// value sums; the causal mask's skipped keys not counted).
void bm_prefill_attention(benchmark::State& st, backend_id id, kv_format f) {
  const ops_backend* be = find_ops(id);
  if (be == nullptr) {
    st.SkipWithError("backend not available on this CPU");
    return;
  }
  const char* run_env = std::getenv("UMA_BENCH_RUN");
  const int64_t run = run_env != nullptr ? std::max(1, std::atoi(run_env)) : 64;
  const int64_t m = run * group, keys = attn_vector_keys;
  const int64_t ctx = st.range(0);
  const int64_t row = kv_row_bytes(f, d);
  const int64_t tiles = (ctx + kv_key_tile - 1) / kv_key_tile;  // keys in whole tiles
  std::vector<uint8_t> k(static_cast<size_t>(tiles * kv_tile_bytes(f, d)));
  std::vector<uint8_t> v(static_cast<size_t>(ctx * row));
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  {
    std::vector<float> x(static_cast<size_t>(d));
    for (int64_t j = 0; j < ctx; ++j) {
      for (auto& e : x) e = nd(rng);
      f32_to_kv_key(f, x.data(), d, k.data() + j / kv_key_tile * kv_tile_bytes(f, d),
                    j % kv_key_tile);
      for (auto& e : x) e = nd(rng);
      f32_to_kv_row(f, x.data(), v.data() + j * row, d);
    }
  }
  const char* mis = std::getenv("UMA_BENCH_MISALIGN");
  const int64_t off = mis != nullptr ? std::atoi(mis) : 0;
  std::vector<float> qbuf(static_cast<size_t>(m * d + 32)), obuf(static_cast<size_t>(m * d + 32));
  const auto al = [off](std::vector<float>& v) {
    return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t{63}) +
           off;
  };
  float* qp = al(qbuf);
  float* op = al(obuf);
  for (int64_t i = 0; i < m * d; ++i) qp[i] = 0.09f * nd(rng);
  std::vector<float> mx(m), sum(m), sbuf(static_cast<size_t>(keys * 2 * d + 32));
  float* sp = al(sbuf);
  std::vector<int32_t> lo(m), hi(m);
  std::vector<uint8_t> q8(static_cast<size_t>(m * attn_q8_row_bytes(d)));
  if (f == kv_format::q8_0) attn_quantize_queries(qp, m, d, d, q8.data());
  for (auto _ : st) {
    for (int64_t t0 = 0; t0 < ctx; t0 += run) {
      std::fill(op, op + m * d, 0.f);
      std::fill(mx.begin(), mx.end(), -INFINITY);
      std::fill(sum.begin(), sum.end(), 0.f);
      const int64_t last = std::min(t0 + run, ctx) - 1;
      for (int64_t j0 = 0; j0 <= last; j0 += keys) {
        attn_block_args a;
        a.q = qp, a.m = (std::min(t0 + run, ctx) - t0) * group, a.ldq = d, a.d = d;
        a.dv = d, a.ldk = d, a.ldv = d, a.kv = f, a.lo = lo.data(), a.hi = hi.data();
        a.row_max = mx.data(), a.row_sum = sum.data(), a.o = op, a.ldo = d;
        a.scratch = sp;
        if (f == kv_format::q8_0) a.q8 = q8.data();
        a.k = k.data() + j0 * row, a.v = v.data() + j0 * row;
        a.nk = std::min(keys, last + 1 - j0);
        const int64_t j1 = j0 + keys;
        a.k_next = j1 <= last ? k.data() + j1 * row : nullptr;
        a.v_next = j1 <= last ? v.data() + j1 * row : nullptr;
        a.nk_next = j1 <= last ? std::min(keys, last + 1 - j1) : 0;
        for (int64_t i = 0; i < a.m; ++i) {
          lo[static_cast<size_t>(i)] = 0;
          hi[static_cast<size_t>(i)] =
              static_cast<int32_t>(std::clamp<int64_t>(t0 + i / group + 1 - j0, 0, a.nk));
        }
        be->attn_block(a);
      }
      benchmark::DoNotOptimize(op);
    }
  }
  const double pairs = static_cast<double>(ctx) * static_cast<double>(ctx + 1) / 2 * group;
  st.counters["GFLOPS"] = benchmark::Counter(
      pairs * 4 * d * 1e-9 * static_cast<double>(st.iterations()), benchmark::Counter::kIsRate);
}

int register_all() {
  for (int b = 0; b < backend_count; ++b) {
    const auto id = static_cast<backend_id>(b);
    const ops_backend* be = find_ops(id);
    if (be == nullptr || id == backend_id::amx_emulated) continue;  // avx512's ops again
    for (const kv_format f : {kv_format::f16, kv_format::q8_0}) {
      const std::string suffix = std::string(be->name) + "/" + kv_format_name(f);
      benchmark::RegisterBenchmark(("decode_attention/" + suffix).c_str(), bm_decode_attention, id,
                                   f)
          ->Arg(64)
          ->Arg(512)
          ->Arg(2048)
          ->Arg(8192)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("decode_attention_hot/" + suffix).c_str(),
                                   bm_decode_attention_hot, id, f)
          ->Arg(64)
          ->Arg(1024)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("prefill_attention/" + suffix).c_str(), bm_prefill_attention,
                                   id, f)
          ->Arg(512)
          ->Arg(2048)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
