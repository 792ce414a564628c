// One persistent pool of worker threads (DESIGN.md "Threads"): no per-op thread creation.
// parallel_for splits [0, n) into contiguous chunks, one per thread, and the caller thread works
// too. Hand-off is a generation counter: idle workers spin on it briefly (a decode step issues a
// job every few microseconds) and then sleep on it (futex via std::atomic::wait), so a round trip
// costs about a microsecond while busy and nothing while idle.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace uma {

class thread_pool {
 public:
  // n_threads counts the calling thread; 0 means one per physical core. More than max_threads,
  // or a thread the system refuses to start, throws std::runtime_error (with the workers already
  // started stopped and joined: before, a refused thread ended the process in std::terminate).
  static constexpr int max_threads = 1024;
  explicit thread_pool(int n_threads = 0);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, begin, end) on disjoint chunks covering [0, n), each chunk a multiple of
  // `grain` (except the last). Returns when all are done.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int, int64_t, int64_t)>& fn);
  // Runs fn(thread_index, n_threads) once on every thread.
  void run_on_all(const std::function<void(int, int)>& fn);

  // Called by a worker thread inside a job: once the worker has reported the job done, it reads
  // [p, p + bytes) towards its cache (software prefetch, 4 KB at a time) while the caller goes on
  // alone, and stops as soon as the next job is published. Decode uses it to keep the memory busy
  // while the caller runs the single-threaded glue between two matmuls: each worker warms the
  // start of its share of the next one. Up to 4 ranges per job; ignored on the calling thread.
  void warm_after_job(const void* p, size_t bytes);
  // Bytes the workers have warmed so far (for tests and benchmarks).
  uint64_t warmed_bytes() const { return warmed_.load(std::memory_order_relaxed); }

  static int physical_cores();

 private:
  void worker(int idx);
  void warm(uint32_t seen);
  void stop_workers();
  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;  // published by generation_ (release)
  alignas(64) std::atomic<uint32_t> generation_{0};     // bumped once per job (and at stop)
  alignas(64) std::atomic<int> pending_{0};             // workers still running the job
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> warmed_{0};
};

}  // namespace uma
