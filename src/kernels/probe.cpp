// Bandwidth, int8 peak and barrier probes (see probe.h).
#include "kernels/probe.h"

#include "kernels/backend.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>

#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace uma::kernels {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void finish(probe_result& r) {
  if (r.samples.empty()) return;
  auto s = r.samples;
  std::sort(s.begin(), s.end());
  r.best = s.back();
  r.median = s[s.size() / 2];
}

uint64_t read_sum_scalar(const uint8_t* p, size_t n) {
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < n; i += 16) {
    uint64_t x, y;
    std::memcpy(&x, p + i, 8);
    std::memcpy(&y, p + i + 8, 8);
    a += x;
    b += y;
  }
  return a + b;
}

template <class F>
void on_all(thread_pool* pool, const F& f) {
  if (pool == nullptr) {
    f(0, 1);
  } else {
    pool->run_on_all([&](int t, int n) { f(t, n); });
  }
}

}  // namespace

probe_result measure_read_bandwidth(thread_pool* pool, size_t bytes, int reps) {
  probe_result r;
  bytes = std::max<size_t>(bytes / 4096 * 4096, 1 << 20);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return r;
  madvise(mem, bytes, MADV_HUGEPAGE);
  auto* buf = static_cast<uint8_t*>(mem);
  const int nt = pool != nullptr ? pool->size() : 1;
  const size_t per = bytes / nt / 256 * 256;
  // First touch by the thread that will read it.
  on_all(pool, [&](int t, int) { std::memset(buf + t * per, t + 1, per); });
  uint64_t (*reader)(const uint8_t*, size_t) = read_sum_scalar;
  r.method = "scalar 64-bit loads";
#if defined(__x86_64__)
  if (cpu().avx2) {
    reader = probe_read_sum_avx2;
    r.method = "avx2 256-bit loads";
  }
#elif defined(__aarch64__)
  if (cpu().neon_dotprod) {  // the probe file is compiled for armv8.2-a+dotprod, like the kernels
    reader = probe_read_sum_neon;
    r.method = "neon 128-bit loads";
  }
#endif
  std::atomic<uint64_t> sink{0};
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto t0 = clock_type::now();
    on_all(pool, [&](int t, int) { sink += reader(buf + t * per, per); });
    const double s = seconds_since(t0);
    r.samples.push_back(static_cast<double>(per * nt) / s / 1e9);
  }
  munmap(mem, bytes);
  finish(r);
  return r;
}

namespace {
probe_result measure_mac_loop(thread_pool* pool, double seconds, int reps,
                              uint64_t (*loop)(int64_t), const char* method);
}

probe_result measure_int8_peak(thread_pool* pool, double seconds, int reps) {
  uint64_t (*loop)(int64_t) = nullptr;
  const char* method = "none";
#if defined(__x86_64__)
  // The forced AVX2 backend (UMA_BACKEND=avx2) is set against its own peak, as on a CPU without
  // AVX-512: against the VNNI peak its prefill read 3-4x low.
  // Likewise the 256-bit VNNI backend (best on an AVX-VNNI CPU without AVX-512, or forced).
  const bool avx2_forced = &best_backend() == find_backend(backend_id::avx2);
  const bool avx2_vnni = &best_backend() == find_backend(backend_id::avx2_vnni);
  if (cpu().avx512_vnni && !avx2_forced && !avx2_vnni) {
    loop = probe_int8_loop_avx512;
    method = "avx512 vpdpbusd zmm";
  } else if (avx2_vnni) {
    loop = probe_int8_loop_avxvnni;
    method = "avx-vnni vpdpbusd ymm";
  } else if (cpu().avx2) {
    loop = probe_int8_loop_avx2;
    method = "avx2 vpmaddubsw+vpmaddwd";
  }
#elif defined(__aarch64__)
  // The smmla peak where the kernels multiply by smmla (neon-i8mm, neon-sme), unless the sdot
  // backend is forced (UMA_BACKEND=neon): prefill is set against the instruction it runs.
  const bool sdot_forced = &best_backend() == find_backend(backend_id::neon);
  if (cpu().neon_dotprod && cpu().neon_i8mm && !sdot_forced) {
    loop = probe_int8_loop_i8mm;
    method = "neon smmla";
  } else if (cpu().neon_dotprod) {
    loop = probe_int8_loop_neon;
    method = "neon sdot";
  }
#endif
  return measure_mac_loop(pool, seconds, reps, loop, method);
}

probe_result measure_amx_peak(thread_pool* pool, double seconds, int reps) {
#if defined(__x86_64__)
  if (find_backend(backend_id::amx) != nullptr)
    return measure_mac_loop(pool, seconds, reps, probe_int8_loop_amx, "amx tdpbusd 16x16x64");
#endif
  return measure_mac_loop(pool, seconds, reps, nullptr, "none");
}

probe_result measure_amx_bf16_peak(thread_pool* pool, double seconds, int reps) {
#if defined(__x86_64__)
  if (find_backend(backend_id::amx) != nullptr && cpu().amx_bf16)
    return measure_mac_loop(pool, seconds, reps, probe_bf16_loop_amx, "amx tdpbf16ps 16x16x32");
#endif
  return measure_mac_loop(pool, seconds, reps, nullptr, "none");
}

namespace {
probe_result measure_mac_loop(thread_pool* pool, double seconds, int reps,
                              uint64_t (*loop)(int64_t), const char* method) {
  probe_result r;
  r.method = method;
  if (loop == nullptr) {
    r.method = "none";
    return r;
  }
  // Calibrate iterations to ~`seconds` on one thread.
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = clock_type::now();
    loop(iters);
    const double s = seconds_since(t0);
    if (s > seconds / 4 || iters > (int64_t{1} << 34)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(s, 1e-6));
      break;
    }
    iters *= 4;
  }
  const int nt = pool != nullptr ? pool->size() : 1;
  for (int i = 0; i < std::max(1, reps); ++i) {
    std::atomic<uint64_t> macs{0};
    const auto t0 = clock_type::now();
    on_all(pool, [&](int, int) { macs += loop(iters); });
    const double s = seconds_since(t0);
    r.samples.push_back(2.0 * static_cast<double>(macs.load()) / s / 1e9);
  }
  (void)nt;
  finish(r);
  return r;
}
}  // namespace

double measure_barrier_us(thread_pool* pool, int rounds) {
  if (pool == nullptr || pool->size() <= 1) return 0;
  std::vector<double> t;
  t.reserve(rounds);
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = clock_type::now();
    pool->run_on_all([](int, int) {});
    t.push_back(seconds_since(t0) * 1e6);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace uma::kernels
