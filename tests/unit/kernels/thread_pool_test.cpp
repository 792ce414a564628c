// thread_pool: every index covered exactly once for any size / grain / pool size, run_on_all
// reaches every thread, repeated jobs (the per-layer pattern) see each other's writes.
#include <gtest/gtest.h>

#include <atomic>
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
