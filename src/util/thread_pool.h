// One persistent pool of worker threads (DESIGN.md "Threads"): no per-op thread creation.
// parallel_for splits [0, n) into contiguous chunks, one per thread, and the caller thread works
// too. Hand-off is a generation counter: idle workers spin on it briefly (a decode step issues a
// job every few microseconds) and then sleep on it (futex via std::atomic::wait), so a round trip
// costs about a microsecond while busy and nothing while idle.
//
// A round trip is a chain of cache lines passing between cores (~250 ns each way on the 2-vCPU
// dev VM): the job is published in each worker's own line, counter and job together, and each
// worker reports done in a line of its own, so a job costs the worker one line to start and the
// caller one to finish, plus the data the job reads. A job can leave a worker out (run_shared):
// that worker's line is not touched and it never sees the job. (With a std::function published by
// pointer from another line and a shared pending count a round trip took ~4200 TSC ticks against
// ~1850 now, bench/bench_pool and docs/performance.md 2026-12-05 21:50.) Jobs are published by one
// thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace uma {

// A non-owning reference to a callable (what the pool's jobs take): two words, no allocation.
// The callable must outlive the call it is passed to, as a lambda argument does.
template <class Sig>
class fn_ref;
template <class R, class... A>
class fn_ref<R(A...)> {
 public:
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, fn_ref> &&
           std::is_invocable_r_v<R, const F&, A...>)
      fn_ref(const F& f)  // NOLINT(google-explicit-constructor): lambdas convert at the call
      : obj_(&f),
        call_([](const void* o, A... a) -> R { return (*static_cast<const F*>(o))(a...); }) {}
  fn_ref() = default;  // refers to nothing: not to be called
  R operator()(A... a) const { return call_(obj_, a...); }

 private:
  const void* obj_ = nullptr;
  R (*call_)(const void*, A...) = nullptr;
};

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
  void parallel_for(int64_t n, int64_t grain, fn_ref<void(int, int64_t, int64_t)> fn);
  // Runs fn(thread_index, n_threads) once on every thread.
  void run_on_all(fn_ref<void(int, int)> fn);
  // Runs fn(thread_index, n_threads) on the caller and on every worker that has not lately kept
  // the caller waiting, for a job whose work any thread can do: each thread takes its parts from
  // shared counters or stealing runs until none is left, so the threads that run it (the caller
  // at least) finish it whoever is left out. A worker the caller waited on, after its own part,
  // for longer than late_policy::wait and than half that part (its core taken by another process
  // or by the host) is left out of these jobs for late_policy::out, twice as long each time it is
  // late again within that long of coming back (up to late_policy::out_max); for a worker that was
  // asleep when the job came (idle for a while) the wait counts from when it woke. Decode's
  // matmuls and attention run so: with one core of the 2-core dev VM busy with another process,
  // waiting on the worker each job made decode 3x slower than on idle cores and 1.7x slower than
  // one thread alone.
  void run_shared(fn_ref<void(int, int)> fn);
  struct late_policy {
    std::chrono::microseconds wait{1000}, out{10000}, out_max{1000000};
  };
  void set_late_policy(const late_policy& p) { late_policy_ = p; }
  // How many times a worker has been left out of run_shared jobs so far.
  uint64_t workers_left_out() const { return left_out_; }

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
  void warm(const std::atomic<uint32_t>& generation, uint32_t seen);
  void stop_workers();
  void run(fn_ref<void(int, int)> fn, bool shared);
  int n_threads_;
  std::vector<std::thread> workers_;
  // Worker i's job and its counter share one line, which only the caller writes: a worker that
  // sees the count change has the job in the same transfer. One line per worker, so that a job
  // can leave a worker out without it ever seeing the job.
  struct alignas(64) go_line {
    std::atomic<uint32_t> generation{0};  // bumped once per job of this worker (and at stop)
    bool stop = false;
    fn_ref<void(int, int)> job;
  };
  // Worker i's last finished generation, when it finished it and when it last woke from
  // sleeping on its go line (steady_clock ticks), in a line only it writes.
  struct alignas(64) done_line {
    std::atomic<uint32_t> generation{0};
    std::atomic<int64_t> finished{0}, woke{0};
  };

  // The caller's record of worker i's lateness (run_shared).
  struct lateness {
    std::chrono::steady_clock::time_point out_until{}, back_at{};
    std::chrono::microseconds out{0};
  };
  std::unique_ptr<go_line[]> go_;
  std::unique_ptr<done_line[]> done_;
  std::vector<lateness> late_;
  std::vector<uint8_t> in_job_;  // the caller's: which workers the current job includes
  late_policy late_policy_;
  uint64_t left_out_ = 0;
  alignas(64) std::atomic<uint64_t> warmed_{0};
};

}  // namespace uma
