// Does a core overlap its DRAM stream with the compute on the data it streams? (Google Benchmark)
// A decode matvec is a stream of weight lines with some integer work per line; if the core
// overlapped the two, a kernel whose in-cache speed is above the stream's would run at the
// stream's speed. This reads a buffer once per iteration, one 64-byte line at a time, with W
// independent int8 dot products (vpdpbusd on AVX-512 VNNI, else a multiply-add on the line's
// words) per line, and reports GB/s (counter GBps):
//   overlap/mem/W:w   buffer of UMA_BENCH_OVERLAP_MIB (default 512 MiB, far beyond L3);
//   overlap/cache/W:w the same work on a 256 KiB buffer that stays in L2 (compute alone).
// Perfect overlap gives mem = min(mem W:0, cache W:w); no overlap gives the harmonic sum
// 1 / (1 / mem W:0 + 1 / cache W:w). "pf" variants add a software prefetch 2 KiB ahead.
// Run: build/<dir>/bench/bench_overlap; UMA_BENCH_THREADS (default all cores) splits the buffer.
// Figures and what they mean for decode: docs/performance.md (2026-12-03 05:20).
#include <benchmark/benchmark.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_common.h"
#include "util/cpu_features.h"

namespace {

using namespace uma;

constexpr size_t line = 64;

// Portable work: W multiply-adds over the line's eight words per line.
template <int W, bool Prefetch>
uint64_t stream_generic(const uint8_t* p, size_t n) {
  uint64_t acc[8] = {};
  for (size_t i = 0; i < n; i += line) {
    if constexpr (Prefetch) __builtin_prefetch(p + i + 2048);
    uint64_t x[8];
    std::memcpy(x, p + i, line);
    for (int w = 0; w < W; ++w)
      for (int k = 0; k < 8; ++k) acc[k] = acc[k] * 0x9E3779B97F4A7C15ull + x[k];
    if constexpr (W == 0)
      for (int k = 0; k < 8; ++k) acc[k] += x[k];
  }
  uint64_t s = 0;
  for (uint64_t a : acc) s ^= a;
  return s;
}

#if defined(__x86_64__)
// The decode kernels' own work: W vpdpbusd per 64-byte line into eight accumulators.
template <int W, bool Prefetch>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) uint64_t stream_vnni(const uint8_t* p,
                                                                            size_t n) {
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  const __m512i ones = _mm512_set1_epi8(1);
  for (size_t i = 0; i < n; i += 4 * line) {
    if constexpr (Prefetch)
      for (int l = 0; l < 4; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048 + l * line), _MM_HINT_T0);
    for (int l = 0; l < 4; ++l) {
      const __m512i x = _mm512_load_si512(p + i + l * line);
      for (int w = 0; w < W; ++w) {
        __m512i& a = acc[(l * W + w) % 8];
        a = _mm512_dpbusd_epi32(a, x, ones);
      }
      if constexpr (W == 0) acc[l] = _mm512_add_epi32(acc[l], x);
    }
  }
  __m512i t = acc[0];
  for (int k = 1; k < 8; ++k) t = _mm512_add_epi32(t, acc[k]);
  alignas(64) uint32_t out[16];
  _mm512_store_si512(out, t);
  uint64_t s = 0;
  for (uint32_t v : out) s += v;
  return s;
}
#endif

using stream_fn = uint64_t (*)(const uint8_t*, size_t);

template <int W, bool Prefetch>
stream_fn pick() {
#if defined(__x86_64__)
  if (cpu().avx512_vnni) return stream_vnni<W, Prefetch>;
#endif
  return stream_generic<W, Prefetch>;
}

// A buffer of `bytes` (whole 4 KiB pages, 64-byte aligned), first touched by the threads that
// read it, with 4 KiB of slack past the end for the prefetches.
struct buffer {
  uint8_t* p = nullptr;
  size_t bytes = 0, mapped = 0;
  explicit buffer(size_t b) : bytes(b / 4096 * 4096), mapped(bytes + 4096) {
    void* m = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      bytes = mapped = 0;
      return;
    }
    p = static_cast<uint8_t*>(m);
    bench::pool().run_on_all([&](int t, int nt) {
      const size_t per = mapped / static_cast<size_t>(nt) / 4096 * 4096;
      const size_t end = t + 1 == nt ? mapped : per * static_cast<size_t>(t + 1);
      std::memset(p + per * static_cast<size_t>(t), t + 1, end - per * static_cast<size_t>(t));
    });
  }
  ~buffer() {
    if (p != nullptr) munmap(p, mapped);
  }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
};

size_t mem_bytes() {
  const char* env = std::getenv("UMA_BENCH_OVERLAP_MIB");
  return (env != nullptr ? static_cast<size_t>(std::atoll(env)) : size_t{512}) << 20;
}

void run(benchmark::State& state, stream_fn fn, bool in_cache) {
  static buffer big(mem_bytes());
  static buffer small(size_t{256} << 10);
  buffer& b = in_cache ? small : big;
  if (b.p == nullptr) {
    state.SkipWithError("mmap failed");
    return;
  }
  thread_pool& pool = bench::pool();
  // In L2 every thread reads its own copy of the small buffer's span (one core's L2 each).
  const size_t per =
      in_cache ? b.bytes / line * line : b.bytes / static_cast<size_t>(pool.size()) / 4096 * 4096;
  std::atomic<uint64_t> sink{0};
  const int passes = in_cache ? 64 : 1;
  for (auto _ : state) {
    pool.run_on_all([&](int t, int) {
      const uint8_t* p = in_cache ? b.p : b.p + per * static_cast<size_t>(t);
      uint64_t s = 0;
      for (int k = 0; k < passes; ++k) s += fn(p, per);
      sink.fetch_add(s, std::memory_order_relaxed);
    });
  }
  benchmark::DoNotOptimize(sink.load());
  const double bytes = static_cast<double>(per) * passes * pool.size();
  state.counters["GBps"] =
      benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

template <int W, bool Prefetch>
void register_w() {
  const std::string suffix = std::string(Prefetch ? "/pf" : "") + "/W:" + std::to_string(W);
  benchmark::RegisterBenchmark(("overlap/mem" + suffix).c_str(),
                               [](benchmark::State& s) { run(s, pick<W, Prefetch>(), false); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark(("overlap/cache" + suffix).c_str(),
                               [](benchmark::State& s) { run(s, pick<W, Prefetch>(), true); })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  register_w<0, false>();
  register_w<1, false>();
  register_w<2, false>();
  register_w<4, false>();
  register_w<8, false>();
  register_w<2, true>();
  register_w<4, true>();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
