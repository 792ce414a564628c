// Work split for memory-streaming task lists (decode's matvec pieces): each thread owns one
// contiguous run of task indices and takes it from the front, so it reads one long stream; a
// thread whose run is empty takes from the back of the fullest other run, so a core the host took
// away is covered. Lock-free: a run's [front, back) sits in one 64-bit word, claimed by compare
// and swap; every index is handed out exactly once.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

namespace uma {

class stealing_runs {
 public:
  stealing_runs() = default;
  // Run t is [starts[t], starts[t + 1]); starts is non-decreasing, indices below 2^31.
  explicit stealing_runs(std::span<const int64_t> starts) { reset(starts); }

  // New runs over the same storage (grown when there are more of them): a decode step sets up
  // one set per matmul call, so a thread keeps one of these rather than allocate each time.
  void reset(std::span<const int64_t> starts) {
    n_ = starts.empty() ? 0 : starts.size() - 1;
    if (n_ > cap_) {
      runs_ = std::make_unique<run[]>(n_);
      cap_ = n_;
    }
    for (size_t t = 0; t < n_; ++t)
      runs_[t].span.store(pack(starts[t], starts[t + 1]), std::memory_order_relaxed);
  }

  size_t size() const { return n_; }

  // Claims tasks [*lo, *hi) for the owner of run t: half of what is left of its own run (at least
  // one task), else half of what is left of the fullest other run, from its back. False when
  // every run is empty.
  bool claim(size_t t, int64_t* lo, int64_t* hi) {
    if (t < n_ && take(runs_[t], true, lo, hi)) return true;
    for (;;) {
      size_t victim = n_;
      int64_t most = 0;
      for (size_t v = 0; v < n_; ++v) {
        const uint64_t s = runs_[v].span.load(std::memory_order_relaxed);
        if (const int64_t left = back(s) - front(s); left > most) {
          most = left;
          victim = v;
        }
      }
      if (victim == n_) return false;
      if (take(runs_[victim], false, lo, hi)) return true;
    }
  }

 private:
  struct alignas(64) run {
    std::atomic<uint64_t> span{0};
  };
  static uint64_t pack(int64_t f, int64_t b) {
    return static_cast<uint64_t>(f) << 32 | static_cast<uint64_t>(b);
  }
  static int64_t front(uint64_t s) { return static_cast<int64_t>(s >> 32); }
  static int64_t back(uint64_t s) { return static_cast<int64_t>(s & 0xffffffffu); }
  static bool take(run& r, bool from_front, int64_t* lo, int64_t* hi) {
    uint64_t s = r.span.load(std::memory_order_relaxed);
    for (;;) {
      const int64_t f = front(s), b = back(s);
      if (f >= b) return false;
      const int64_t k = std::max<int64_t>(1, (b - f) / 2);
      const uint64_t next = from_front ? pack(f + k, b) : pack(f, b - k);
      if (r.span.compare_exchange_weak(s, next, std::memory_order_relaxed)) {
        *lo = from_front ? f : b - k;
        *hi = from_front ? f + k : b;
        return true;
      }
    }
  }
  std::unique_ptr<run[]> runs_;
  size_t n_ = 0, cap_ = 0;
};

}  // namespace uma
