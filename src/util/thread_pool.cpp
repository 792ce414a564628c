// Persistent worker pool. Workers spin on a generation counter for a short while after each job,
// then sleep on it (std::atomic::wait, a futex on Linux); the caller spins/sleeps the same way on
// each worker's done line. See thread_pool.h.
#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace uma {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// How long an idle thread spins before sleeping: longer than the gap between the jobs of one
// forward pass (single-threaded glue between matmuls), far shorter than a human-visible delay.
constexpr auto spin_budget = std::chrono::microseconds(200);

// Spins until pred() or the budget is spent; returns pred(). After a short pure spin it yields
// on every turn, so that when threads outnumber free cores (other processes, or a pool larger
// than the machine) the thread that has the work gets the core instead of waiting a time slice.
template <class P>
bool spin_until(const P& pred) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0;; ++i) {
    if (pred()) return true;
    if (i < 1024) {
      cpu_relax();
      continue;
    }
    std::this_thread::yield();
    if ((i & 15) == 15 && std::chrono::steady_clock::now() - t0 > spin_budget) return pred();
  }
}

struct warm_range {
  const char* p;
  size_t bytes;
};
constexpr int max_warm = 4;
thread_local warm_range warm_list[max_warm];
thread_local int warm_count = 0;
thread_local bool is_worker = false;

}  // namespace

void thread_pool::warm_after_job(const void* p, size_t bytes) {
  if (!is_worker || warm_count >= max_warm || bytes == 0) return;
  warm_list[warm_count++] = {static_cast<const char*>(p), bytes};
}

void thread_pool::warm(uint32_t seen) {
  constexpr size_t step = 4096;  // how often it looks for the next job
  size_t done = 0;
  for (int i = 0; i < warm_count; ++i) {
    const warm_range r = warm_list[i];
    for (size_t at = 0; at < r.bytes; at += step) {
      if (go_.generation.load(std::memory_order_relaxed) != seen) {
        i = warm_count;
        break;
      }
      const size_t end = std::min(r.bytes, at + step);
      for (size_t b = at; b < end; b += 64) __builtin_prefetch(r.p + b, 0, 2);
      done += end - at;
    }
  }
  warm_count = 0;
  warmed_.fetch_add(done, std::memory_order_relaxed);
}

int thread_pool::physical_cores() {
  // Count distinct (physical id, core id) pairs; fall back to hardware_concurrency.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string val = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") phys = val;
    if (key == "core id") cores.insert({phys, val});
  }
  int n = static_cast<int>(cores.size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

thread_pool::thread_pool(int n_threads) {
  n_threads_ = n_threads > 0 ? n_threads : physical_cores();
  if (n_threads_ > max_threads)
    throw std::runtime_error("thread pool of " + std::to_string(n_threads_) + " threads: at most " +
                             std::to_string(max_threads));
  done_ = std::make_unique<done_line[]>(static_cast<size_t>(n_threads_));
  try {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
  } catch (const std::system_error& e) {
    const size_t started = workers_.size();
    stop_workers();
    throw std::runtime_error("cannot start " + std::to_string(n_threads_) + " threads (" +
                             std::to_string(started + 1) + " running): " + e.what());
  }
}

thread_pool::~thread_pool() {
  stop_workers();
}

void thread_pool::stop_workers() {
  go_.stop = true;
  go_.generation.fetch_add(1, std::memory_order_release);
  go_.generation.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void thread_pool::worker(int idx) {
  is_worker = true;
  std::atomic<uint32_t>& done = done_[static_cast<size_t>(idx)].generation;
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = go_.generation.load(std::memory_order_acquire);
    if (g == seen) {
      spin_until([&] { return go_.generation.load(std::memory_order_acquire) != seen; });
      while ((g = go_.generation.load(std::memory_order_acquire)) == seen)
        go_.generation.wait(seen, std::memory_order_acquire);
    }
    seen = g;
    if (go_.stop) return;
    go_.job(idx, n_threads_);
    done.store(seen, std::memory_order_release);
    done.notify_one();  // no system call unless the caller sleeps on it
    if (warm_count != 0) warm(seen);
  }
}

void thread_pool::run_on_all(fn_ref<void(int, int)> fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  go_.job = fn;
  const uint32_t g = go_.generation.load(std::memory_order_relaxed) + 1;
  go_.generation.store(g, std::memory_order_release);  // only this thread writes it
  go_.generation.notify_all();  // a no-op syscall-free check when every worker is spinning
  fn(0, n_threads_);
  for (int i = 1; i < n_threads_; ++i) {
    std::atomic<uint32_t>& done = done_[static_cast<size_t>(i)].generation;
    if (!spin_until([&] { return done.load(std::memory_order_acquire) == g; })) {
      uint32_t d;
      while ((d = done.load(std::memory_order_acquire)) != g)
        done.wait(d, std::memory_order_acquire);
    }
  }
}

void thread_pool::parallel_for(int64_t n, int64_t grain, fn_ref<void(int, int64_t, int64_t)> fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t n_chunks = (n + grain - 1) / grain;
  const int nt = static_cast<int>(std::min<int64_t>(n_threads_, n_chunks));
  if (nt <= 1) {
    fn(0, 0, n);
    return;
  }
  run_on_all([&, fn](int t, int) {
    if (t >= nt) return;
    const int64_t per = n_chunks / nt, extra = n_chunks % nt;
    const int64_t c0 = t * per + std::min<int64_t>(t, extra);
    const int64_t c1 = c0 + per + (t < extra ? 1 : 0);
    const int64_t b = c0 * grain, e = std::min(n, c1 * grain);
    if (b < e) fn(t, b, e);
  });
}

}  // namespace uma
