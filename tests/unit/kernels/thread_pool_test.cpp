// thread_pool: every index covered exactly once for any size / grain / pool size, run_on_all
// reaches every thread, repeated jobs (the per-layer pattern) see each other's writes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/thread_pool.h"

namespace uma {
namespace {

TEST(thread_pool, parallel_for_covers_each_index_once) {
  for (int nt : {1, 2, 3, 5}) {
    thread_pool pool(nt);
    EXPECT_EQ(pool.size(), nt);
    for (int64_t n : {0, 1, 2, 7, 64, 1000}) {
      for (int64_t grain : {1, 3, 16}) {
        std::vector<std::atomic<int>> hits(n);
        pool.parallel_for(n, grain, [&](int t, int64_t b, int64_t e) {
          EXPECT_GE(t, 0);
          EXPECT_LT(t, nt);
          EXPECT_TRUE(b % grain == 0);
          for (int64_t i = b; i < e; ++i) hits[i]++;
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << nt << " " << n;
      }
    }
  }
}

TEST(thread_pool, run_on_all_reaches_every_thread_and_orders_memory) {
  thread_pool pool(3);
  std::vector<int64_t> data(3, 0);
  std::atomic<int> bad{0};
  for (int64_t round = 1; round <= 500; ++round) {
    pool.run_on_all([&](int t, int n) {
      if (n != 3) bad++;
      data[t] = round;
    });
    // The next job on every thread must see all writes of the previous job (barrier semantics).
    pool.run_on_all([&](int, int) {
      int64_t sum = 0;
      for (int64_t v : data) sum += v;
      if (sum != 3 * round) bad++;
    });
  }
  EXPECT_EQ(bad.load(), 0);
}

// A worker warms the ranges its job registered once it has reported the job done (up to 4 per
// job; the calling thread's are ignored), and the next job runs as usual.
TEST(thread_pool, warms_what_a_job_registered) {
  thread_pool pool(2);
  std::vector<char> buf(1 << 20, 1);
  pool.run_on_all([&](int t, int) {
    if (t == 0) {
      pool.warm_after_job(buf.data(), buf.size());  // the caller: ignored
      return;
    }
    for (int i = 0; i < 5; ++i)  // the fifth is dropped
      pool.warm_after_job(buf.data() + i * 100000, 100000);
    pool.warm_after_job(buf.data(), 0);  // empty: ignored
  });
  // Nothing publishes a job now, so the worker finishes all four ranges; wait for it (no timing
  // is asserted: the bound only keeps a broken pool from hanging the suite).
  for (int i = 0; i < 10000 && pool.warmed_bytes() < 400000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(pool.warmed_bytes(), 400000u);
  std::atomic<int> c{0};
  pool.run_on_all([&](int, int) { c++; });
  EXPECT_EQ(c.load(), 2);
  EXPECT_EQ(pool.warmed_bytes(), 400000u);  // the list was cleared
  // A job published while a worker warms a long range still runs on every thread.
  std::vector<char> big(64 << 20, 1);
  for (int round = 0; round < 20; ++round) {
    pool.run_on_all([&](int t, int) {
      if (t != 0) pool.warm_after_job(big.data(), big.size());
    });
    pool.run_on_all([&](int, int) { c++; });
  }
  EXPECT_EQ(c.load(), 42);
}

// A count past the limit is refused with an exception (the CLIs check it first and say so);
// nothing is left running.
TEST(thread_pool, refuses_more_than_max_threads) {
  EXPECT_THROW(thread_pool(thread_pool::max_threads + 1), std::runtime_error);
  thread_pool ok(3);
  EXPECT_EQ(ok.size(), 3);
}

TEST(thread_pool, survives_idle_periods_and_destruction) {
  for (int k = 0; k < 20; ++k) {
    thread_pool pool(2);
    std::atomic<int> c{0};
    pool.run_on_all([&](int, int) { c++; });
    EXPECT_EQ(c.load(), 2);
  }
}

}  // namespace
}  // namespace uma
