// What one job on the thread pool costs (Google Benchmark). Decode hands the pool a job per
// matmul and per attention (five a layer), each a few tens of microseconds of work, so the hand-off
// itself is a share of every token. Benchmarks, each reporting ns per job (real time) and the ratio
// to a bare cache-line round trip between two threads (counter per_ping_pong):
//   pool/ping_pong       one line passed to another thread and back (the floor: two transfers);
//   pool/round_trip      run_on_all with a job that does nothing;
//   pool/round_trip_4k   the caller writes 4 KB, the job reads them on every thread (a decode
//                        job's activation row comes over the same way);
//   pool/worker_start    TSC ticks from the hand-off until a worker enters the job (counter
//                        start_ticks, median of the run), with round_trip's ticks beside it.
// Run: build/<dir>/bench/bench_pool; UMA_BENCH_THREADS (default all cores). Figures:
// docs/performance.md (2026-12-05 21:50).
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "bench_common.h"

namespace {

using namespace uma;

inline void relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Nanoseconds of one line's round trip between this thread and another, measured once.
double ping_pong_ns() {
  static const double ns = [] {
    alignas(64) static std::atomic<int> flag{0};
    constexpr int n = 100000;
    flag.store(0);
    std::thread other([] {
      for (int i = 0; i < n; ++i) {
        while (flag.load(std::memory_order_acquire) != 2 * i + 1) relax();
        flag.store(2 * i + 2, std::memory_order_release);
      }
    });
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      flag.store(2 * i + 1, std::memory_order_release);
      while (flag.load(std::memory_order_acquire) != 2 * i + 2) relax();
    }
    const auto t1 = std::chrono::steady_clock::now();
    other.join();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
  }();
  return ns;
}

void report(benchmark::State& state, double seconds) {
  const double per_job_ns = seconds * 1e9 / static_cast<double>(state.iterations());
  state.counters["per_ping_pong"] = per_job_ns / ping_pong_ns();
}

void BM_ping_pong(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ping_pong_ns());
  state.counters["ns"] = ping_pong_ns();
}

void BM_round_trip(benchmark::State& state) {
  thread_pool& pool = bench::pool();
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) pool.run_on_all([](int, int) {});
  report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void BM_round_trip_4k(benchmark::State& state) {
  thread_pool& pool = bench::pool();
  std::vector<uint64_t> data(512);
  std::vector<uint64_t> sums(static_cast<size_t>(pool.size()) * 8);
  uint64_t k = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (auto& d : data) d = ++k;
    pool.run_on_all([&](int t, int) {
      uint64_t s = 0;
      for (uint64_t d : data) s += d;
      sums[static_cast<size_t>(t) * 8] = s;
    });
  }
  report(state, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  benchmark::DoNotOptimize(sums.data());
}

#if defined(__x86_64__)
void BM_worker_start(benchmark::State& state) {
  thread_pool& pool = bench::pool();
  if (pool.size() < 2) {
    state.SkipWithError("needs two threads");
    return;
  }
  std::vector<uint64_t> start, total;
  for (auto _ : state) {
    uint64_t entered = 0;
    const uint64_t t0 = __rdtsc();
    pool.run_on_all([&](int t, int) {
      if (t == 1) entered = __rdtsc();
    });
    const uint64_t t1 = __rdtsc();
    start.push_back(entered - t0);
    total.push_back(t1 - t0);
  }
  const auto median = [](std::vector<uint64_t>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(v.size() / 2), v.end());
    return static_cast<double>(v[v.size() / 2]);
  };
  state.counters["start_ticks"] = median(start);
  state.counters["round_trip_ticks"] = median(total);
}
BENCHMARK(BM_worker_start)->Name("pool/worker_start");
#endif

BENCHMARK(BM_ping_pong)->Name("pool/ping_pong")->Iterations(1);
BENCHMARK(BM_round_trip)->Name("pool/round_trip");
BENCHMARK(BM_round_trip_4k)->Name("pool/round_trip_4k");

}  // namespace

BENCHMARK_MAIN();
