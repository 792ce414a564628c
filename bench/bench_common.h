// What the microbenchmarks share: the pool they run on (UMA_BENCH_THREADS sets its size, default
// one thread per core) and this machine's read bandwidth, measured once on that pool, to report
// GB/s as a ratio.
#pragma once

#include <cstddef>
#include <cstdlib>

#include "kernels/probe.h"
#include "util/thread_pool.h"

namespace uma::bench {

inline thread_pool& pool() {
  static thread_pool p([] {
    const char* env = std::getenv("UMA_BENCH_THREADS");
    return env != nullptr ? std::atoi(env) : 0;
  }());
  return p;
}

inline double machine_bandwidth() {
  static const double bw = kernels::measure_read_bandwidth(&pool(), size_t{1024} << 20, 5).best;
  return bw;
}

}  // namespace uma::bench
