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

void thread_pool::warm(const std::atomic<uint32_t>& generation, uint32_t seen) {
  constexpr size_t step = 4096;  // how often it looks for the next job
  size_t done = 0;
  for (int i = 0; i < warm_count; ++i) {
    const warm_range r = warm_list[i];
    for (size_t at = 0; at < r.bytes; at += step) {
      if (generation.load(std::memory_order_relaxed) != seen) {
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
  go_ = std::make_unique<go_line[]>(static_cast<size_t>(n_threads_));
  done_ = std::make_unique<done_line[]>(static_cast<size_t>(n_threads_));
  late_.resize(static_cast<size_t>(n_threads_));
  in_job_.resize(static_cast<size_t>(n_threads_));
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
  for (size_t i = 1; i <= workers_.size(); ++i) {
    go_[i].stop = true;
    go_[i].generation.fetch_add(1, std::memory_order_seq_cst);
    go_[i].generation.notify_all();
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void thread_pool::worker(int idx) {
  is_worker = true;
  go_line& go = go_[static_cast<size_t>(idx)];
  done_line& mine = done_[static_cast<size_t>(idx)];
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = go.generation.load(std::memory_order_acquire);
    if (g == seen) {
      if (!spin_until([&] { return go.generation.load(std::memory_order_acquire) != seen; })) {
        while ((g = go.generation.load(std::memory_order_acquire)) == seen)
          go.generation.wait(seen, std::memory_order_acquire);
        // Woken: when, for the caller (run()), which does not count the time a sleeping worker
        // takes to wake as lateness (published by the done store below).
        mine.woke.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_relaxed);
      }
      g = go.generation.load(std::memory_order_acquire);
    }
    seen = g;
    if (go.stop) return;
    go.job(idx, n_threads_);
    mine.finished.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                        std::memory_order_relaxed);
    mine.generation.store(seen, std::memory_order_release);
    mine.generation.notify_one();  // no system call unless the caller sleeps on it
    if (warm_count != 0) warm(go.generation, seen);
  }
}

void thread_pool::run_on_all(fn_ref<void(int, int)> fn) {
  run(fn, false);
}

void thread_pool::run_shared(fn_ref<void(int, int)> fn) {
  run(fn, true);
}

void thread_pool::run(fn_ref<void(int, int)> fn, bool shared) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  using clock = std::chrono::steady_clock;
  const clock::time_point now = shared ? clock::now() : clock::time_point{};
  for (int i = 1; i < n_threads_; ++i) {
    const auto u = static_cast<size_t>(i);
    in_job_[u] = !shared || now >= late_[u].out_until;
    if (!in_job_[u]) continue;
    go_line& go = go_[u];
    go.job = fn;
    // Only this thread writes the counter.
    go.generation.store(go.generation.load(std::memory_order_relaxed) + 1,
                        std::memory_order_release);
    go.generation.notify_all();  // a no-op syscall-free check when the worker is spinning
  }
  fn(0, n_threads_);
  // A wait counts as late past the policy's wait and half the caller's own part: a long job
  // (prefill's row blocks on a slow machine) may end a block apart on healthy threads.
  const clock::duration late_after =
      shared ? std::max<clock::duration>(late_policy_.wait, (clock::now() - now) / 2)
             : clock::duration{};
  for (int i = 1; i < n_threads_; ++i) {
    const auto u = static_cast<size_t>(i);
    if (!in_job_[u]) continue;
    const uint32_t g = go_[u].generation.load(std::memory_order_relaxed);
    std::atomic<uint32_t>& done = done_[u].generation;
    if (done.load(std::memory_order_acquire) == g) continue;
    const clock::time_point t0 = shared ? clock::now() : clock::time_point{};
    if (!spin_until([&] { return done.load(std::memory_order_acquire) == g; })) {
      uint32_t d;
      while ((d = done.load(std::memory_order_acquire)) != g)
        done.wait(d, std::memory_order_acquire);
    }
    if (!shared) continue;
    // How long the worker went on after the caller began to wait, or after it woke if it was
    // asleep when the job came (waking is not lateness, being slow once awake is), by the
    // worker's own clock readings: the caller's own delay in seeing the done (a yield the host
    // answered late) is not the worker's.
    const clock::time_point finished{
        clock::duration(done_[u].finished.load(std::memory_order_relaxed))};
    const clock::time_point woke{clock::duration(done_[u].woke.load(std::memory_order_relaxed))};
    if (finished - std::max(t0, woke) <= late_after) continue;
    const clock::time_point t1 = clock::now();
    // Late: left out for a while; twice as long again if late soon after coming back.
    lateness& l = late_[u];
    const bool again = l.out.count() > 0 && t1 - l.back_at < 2 * l.out;
    l.out = again ? std::min(2 * l.out, late_policy_.out_max) : late_policy_.out;
    l.out_until = l.back_at = t1 + l.out;
    ++left_out_;
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
