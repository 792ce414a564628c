// Tests for util: result/status, checked arithmetic, mapped_file, thread_pool, aligned_vector,
// prefault_for_write, stealing_runs, numeric environment settings.
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <limits>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "test_util.h"
#include "util/aligned.h"
#include "util/checked.h"
#include "util/cpu_features.h"
#include "util/env.h"
#include "util/mapped_file.h"
#include "util/pages.h"
#include "util/status.h"
#include "util/stealing_runs.h"
#include "util/thread_pool.h"

namespace uma {
namespace {

result<int> parse_positive(int v) {
  if (v <= 0) return make_error("not positive: {}", v);
  return v;
}

status twice(int v, int* out) {
  UMA_ASSIGN(int x, parse_positive(v));
  *out = 2 * x;
  return {};
}

TEST(Status, ResultCarriesValueOrError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "not positive: -1");
  int out = 0;
  EXPECT_TRUE(twice(4, &out).ok());
  EXPECT_EQ(out, 8);
  auto st = twice(0, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "not positive: 0");
}

// Sizes on both sides of malloc's mmap threshold (128 KiB), where plain vectors land 16 bytes into
// a page; growth keeps the alignment and the values.
TEST(AlignedVector, DataIsCacheLineAlignedAtEverySize) {
  for (size_t n : {size_t{1}, size_t{3}, size_t{17}, size_t{1000}, size_t{40000}, size_t{300000}}) {
    aligned_vector<float> v(n, 1.5f);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % 64, 0u) << n;
    v.resize(2 * n + 5, 2.f);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % 64, 0u) << n;
    EXPECT_EQ(v[n - 1], 1.5f);
    EXPECT_EQ(v[2 * n + 4], 2.f);
  }
}

TEST(AlignedArray, IsCacheLineAlignedAndRejectsOverflowingSizes) {
  for (size_t n : {size_t{1}, size_t{100}, size_t{1} << 20}) {
    auto a = make_aligned_array<uint16_t>(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.get()) % 64, 0u) << n;
    a[n - 1] = 7;
    EXPECT_EQ(a[n - 1], 7);
  }
  EXPECT_THROW(make_aligned_array<uint16_t>(std::numeric_limits<size_t>::max() / 2 + 1),
               std::bad_array_new_length);
}

TEST(PrefaultForWrite, KeepsContentsAcrossAnUnalignedRange) {
  std::vector<uint32_t> v(100000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint32_t>(i * 2654435761u);
  // From a few bytes into the array to a few bytes before its end: whole pages either side.
  prefault_for_write(reinterpret_cast<char*>(v.data()) + 6, v.size() * 4 - 13);
  for (size_t i = 0; i < v.size(); ++i)
    ASSERT_EQ(v[i], static_cast<uint32_t>(i * 2654435761u)) << i;
  EXPECT_TRUE(prefault_for_write(v.data(), 0));
}

#if defined(__linux__)
TEST(PrefaultForWrite, MakesFreshAnonymousPagesResident) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t n = 64 * page;
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  const auto resident = [&] {
    std::vector<unsigned char> in(n / page);
    EXPECT_EQ(mincore(p, n, in.data()), 0);
    size_t c = 0;
    for (unsigned char b : in) c += b & 1;
    return c;
  };
  EXPECT_EQ(resident(), 0u);
  // Pages 8..23 only: the range ends mid-page 23.
  // Where the kernel lacks MADV_POPULATE_WRITE (before 5.14) the call reports it and does nothing.
  const bool ok = prefault_for_write(static_cast<char*>(p) + 8 * page, 15 * page + 100);
  EXPECT_EQ(resident(), ok ? 16u : 0u);
  EXPECT_EQ(static_cast<unsigned char*>(p)[8 * page + 5], 0);  // anonymous pages read as zeros
  munmap(p, n);
}
#endif

// The KV cache's storage: 2 MiB aligned, whole pages, untouched (reads as zeros) until written,
// movable, and a size the system cannot reserve is std::bad_alloc rather than a crash.
TEST(ReservedMemory, IsHugePageAlignedWholePagesAndMovable) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  reserved_memory m(page + 5);
  ASSERT_NE(m.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data()) % (size_t{2} << 20), 0u);
  EXPECT_EQ(m.size(), 2 * page);
  auto* b = static_cast<unsigned char*>(m.data());
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[m.size() - 1], 0);
  b[m.size() - 1] = 7;
  reserved_memory moved(std::move(m));
  EXPECT_EQ(m.data(), nullptr);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(static_cast<unsigned char*>(moved.data())[moved.size() - 1], 7);
  reserved_memory other(3 * page);
  other = std::move(moved);
  EXPECT_EQ(static_cast<unsigned char*>(other.data())[other.size() - 1], 7);
  EXPECT_EQ(reserved_memory(0).data(), nullptr);
  EXPECT_THROW(reserved_memory(std::numeric_limits<size_t>::max() - 4096), std::bad_alloc);
  EXPECT_THROW(reserved_memory(size_t{1} << 62), std::bad_alloc);  // more than any address space
}

TEST(Checked, OverflowDetected) {
  EXPECT_EQ(checked_mul(1ull << 32, 1ull << 31), 1ull << 63);
  EXPECT_FALSE(checked_mul(1ull << 32, 1ull << 32).has_value());
  EXPECT_FALSE(checked_add(~0ull, 1).has_value());
  EXPECT_EQ(align_up(33, 32), 64u);
  EXPECT_TRUE(is_pow2(64));
  EXPECT_FALSE(is_pow2(0));
  EXPECT_FALSE(is_pow2(96));
}

TEST(Env, CountsParseWholeNumbersOnly) {
  EXPECT_EQ(parse_count("16", 100), 16);
  EXPECT_EQ(parse_count("0", 100), 0);
  EXPECT_EQ(parse_count("100", 100), 100);
  for (const char* bad : {"", "-1", "+3", " 8", "8 ", "8x", "0x10", "101", "99999999999999999999"})
    EXPECT_FALSE(parse_count(bad, 100).has_value()) << "'" << bad << "'";
}

TEST(Env, MalformedSettingsFallBack) {
  const char* name = "UMA_TEST_ENV_COUNT";
  ::unsetenv(name);
  EXPECT_EQ(env_count(name, 7, 100), 7);
  ::setenv(name, "", 1);
  EXPECT_EQ(env_count(name, 7, 100), 7);
  ::setenv(name, "12", 1);
  EXPECT_EQ(env_count(name, 7, 100), 12);
  for (const char* bad : {"abc", "-4", "3.5", "1000"}) {
    ::setenv(name, bad, 1);
    EXPECT_EQ(env_count(name, 7, 100), 7) << bad;
  }
  ::unsetenv(name);
}

TEST(MappedFile, MapsContentsAndReportsMissing) {
  std::string p = test::temp_dir() + "/f.bin";
  std::ofstream(p, std::ios::binary) << "hello";
  auto m = mapped_file::open(p);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_EQ(m->size(), 5u);
  EXPECT_EQ(static_cast<char>(m->bytes()[4]), 'o');
  auto missing = mapped_file::open(p + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("cannot open"), std::string::npos);
  auto dir = mapped_file::open(test::temp_dir());
  EXPECT_FALSE(dir.ok());
}

// Files of 2 MiB or more map at a 2 MiB-aligned address (so the page cache's 2 MiB folios can map
// as huge pages) with every byte in place, including a partial last page; moving and destroying
// the mapping is clean.
TEST(MappedFile, LargeFilesMapAlignedToHugePages) {
  const std::string p = test::temp_dir() + "/big.bin";
  const size_t n = (size_t{5} << 20) + 123;
  {
    std::ofstream f(p, std::ios::binary);
    for (size_t i = 0; i < n; ++i) f.put(static_cast<char>((i * 131 + 7) % 251));
  }
  auto m = mapped_file::open(p);
  ASSERT_TRUE(m.ok()) << m.message();
  ASSERT_EQ(m->size(), n);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data()) % (size_t{2} << 20), 0u);
  for (size_t i = 0; i < n; i += 4093)
    ASSERT_EQ(static_cast<unsigned char>(m->bytes()[i]), (i * 131 + 7) % 251) << i;
  EXPECT_EQ(static_cast<unsigned char>(m->bytes()[n - 1]), ((n - 1) * 131 + 7) % 251);
  mapped_file moved = std::move(*m);
  EXPECT_EQ(moved.size(), n);
  EXPECT_EQ(static_cast<unsigned char>(moved.bytes()[n / 2]), ((n / 2) * 131 + 7) % 251);
}

// FilePmdMapped of the whole process (/proc/self/smaps_rollup), in bytes.
size_t process_pmd_mapped_bytes() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("FilePmdMapped:", 0) == 0) return std::stoull(line.substr(14)) << 10;
  return 0;
}

// huge_mapped_bytes reads the mapping's own FilePmdMapped: whole 2 MiB pages, never more than
// the file or the process's total. reread_huge drops the cached file and reads it back with
// every byte in place (2 MiB pages where the file system and kernel give them: ext4 on Linux 6.18
// does, a tmpfs without huge pages does not), and names a missing file.
TEST(MappedFile, RereadsIntoHugePagesKeepingTheBytes) {
  EXPECT_EQ(mapped_file().huge_mapped_bytes(), 0u);
  const std::string p = test::temp_dir() + "/reread.bin";
  const size_t n = (size_t{8} << 20) + 4097, huge = size_t{2} << 20;
  {
    std::ofstream f(p, std::ios::binary);
    for (size_t i = 0; i < n; ++i) f.put(static_cast<char>((i * 17 + 3) % 253));
  }
  auto again = mapped_file::reread_huge(p);
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ(*again % huge, 0u);
  EXPECT_LE(*again, n);
  auto m = mapped_file::open(p);
  ASSERT_TRUE(m.ok()) << m.message();
  size_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto b = static_cast<unsigned char>(m->bytes()[i]);
    sum += b;
    if (i % 4099 == 0) {
      ASSERT_EQ(b, (i * 17 + 3) % 253) << i;
    }
  }
  size_t want = 0;
  for (size_t i = 0; i < n; ++i) want += (i * 17 + 3) % 253;
  EXPECT_EQ(sum, want);
  const size_t mine = m->huge_mapped_bytes();
  EXPECT_EQ(mine % huge, 0u);
  EXPECT_LE(mine, n);
  EXPECT_LE(mine, process_pmd_mapped_bytes());
  auto missing = mapped_file::reread_huge(p + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("reread.bin.nope"), std::string::npos);
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 5}) {
    thread_pool pool(threads);
    for (int64_t n : {0, 1, 7, 64, 1001}) {
      for (int64_t grain : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.parallel_for(n, grain, [&](int, int64_t b, int64_t e) {
          EXPECT_EQ(b % grain, 0);
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (auto& h : hits) EXPECT_EQ(h.load(), 1);
      }
    }
  }
}

TEST(ThreadPool, RunOnAllVisitsEveryThread) {
  thread_pool pool(4);
  std::vector<std::atomic<int>> seen(4);
  for (int rep = 0; rep < 100; ++rep)
    pool.run_on_all([&](int t, int n) {
      EXPECT_EQ(n, 4);
      seen[static_cast<size_t>(t)]++;
    });
  for (auto& s : seen) EXPECT_EQ(s.load(), 100);
}

// A lateness policy: late past `wait`, left out for `out` (and never longer).
thread_pool::late_policy late_policy(std::chrono::microseconds wait,
                                     std::chrono::microseconds out) {
  return {.wait = wait, .out = out, .out_max = out};
}

// A job of `n` tasks taken from a counter, as decode's are (any thread can do any of them): each
// task counted where it ran; `on_enter(t)` when thread t enters the job.
template <class Enter>
void counted_tasks(thread_pool& pool, std::vector<std::atomic<int>>& done, const Enter& on_enter) {
  std::atomic<size_t> next{0};
  pool.run_shared([&](int t, int) {
    on_enter(t);
    for (size_t i = next++; i < done.size(); i = next++) done[i]++;
  });
}

// run_shared leaves out a worker the caller waited on for longer than the policy's wait, for the
// policy's time; the other threads still do every task, once; run_on_all still takes it. (Under
// load another worker may be left out too: the test asserts only what load cannot change.)
TEST(ThreadPool, RunSharedLeavesOutALateWorkerAndStillDoesEveryTask) {
  thread_pool pool(3);
  pool.set_late_policy(late_policy(std::chrono::microseconds(1000), std::chrono::hours(1)));
  std::vector<std::atomic<int>> done(500);
  // Worker 1 enters the job and sleeps 200 ms: the caller waits that long for it.
  counted_tasks(pool, done, [](int t) {
    if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  });
  for (auto& d : done) EXPECT_EQ(d.exchange(0), 1);
  const uint64_t left_out = pool.workers_left_out();
  EXPECT_GE(left_out, 1u);
  // Left out for the hour: the next shared jobs run without it, every task still once.
  for (int rep = 0; rep < 20; ++rep) {
    std::vector<std::atomic<int>> entered(3);
    counted_tasks(pool, done, [&](int t) { entered[static_cast<size_t>(t)]++; });
    EXPECT_EQ(entered[0].load(), 1);
    EXPECT_EQ(entered[1].load(), 0);
    EXPECT_LE(entered[2].load(), 1);
    for (auto& d : done) EXPECT_EQ(d.exchange(0), 1);
  }
  std::vector<std::atomic<int>> seen(3);
  const uint64_t before = pool.workers_left_out();
  pool.run_on_all([&](int t, int) { seen[static_cast<size_t>(t)]++; });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_EQ(pool.workers_left_out(), before);  // run_on_all leaves no one out
}

// With no time out (the policy's out 0) a late worker is back for the next job.
TEST(ThreadPool, RunSharedTakesALateWorkerBackAfterItsTimeOut) {
  thread_pool pool(2);
  pool.set_late_policy(late_policy(std::chrono::microseconds(1000), std::chrono::microseconds(0)));
  std::vector<std::atomic<int>> done(64);
  counted_tasks(pool, done, [](int t) {
    if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  });
  EXPECT_EQ(pool.workers_left_out(), 1u);
  std::atomic<int> worker_in{0};
  counted_tasks(pool, done, [&](int t) { worker_in += t == 1; });
  EXPECT_EQ(worker_in.load(), 1);
  for (auto& d : done) EXPECT_EQ(d.load(), 2);
}

// In a long job a worker that ends a little after the caller is not late: the wait must also pass
// half the caller's own part (the caller's part 300 ms, the worker's 320). 450 ms behind the
// caller's 50 ms it is late.
TEST(ThreadPool, RunSharedMeasuresLatenessAgainstTheCallersPart) {
  thread_pool pool(2);
  pool.set_late_policy(late_policy(std::chrono::microseconds(1000), std::chrono::microseconds(0)));
  pool.run_shared([](int t, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(t == 0 ? 300 : 320));
  });
  EXPECT_EQ(pool.workers_left_out(), 0u);
  pool.run_shared([](int t, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(t == 0 ? 50 : 500));
  });
  EXPECT_EQ(pool.workers_left_out(), 1u);
}

// A worker asleep when the job comes (the pool idle for far longer than its spin) takes a while
// to wake: not lateness, even against a policy wait shorter than a wake-up (tens of microseconds
// to milliseconds on the dev VM); the wait counts from when it woke.
TEST(ThreadPool, RunSharedDoesNotCountAWakeUpAsLate) {
  thread_pool pool(2);
  pool.set_late_policy(late_policy(std::chrono::microseconds(20), std::chrono::hours(1)));
  std::vector<std::atomic<int>> done(8);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the worker goes to sleep
    counted_tasks(pool, done, [](int) {});
  }
  for (auto& d : done) EXPECT_EQ(d.load(), 5);
  EXPECT_EQ(pool.workers_left_out(), 0u);
}

// fn_ref calls the callable it was made from, with its captures, and passes results back.
TEST(FnRef, CallsTheReferencedCallable) {
  int calls = 0;
  const auto add = [&](int a, int b) {
    ++calls;
    return a + b;
  };
  const fn_ref<int(int, int)> f = add;
  EXPECT_EQ(f(2, 3), 5);
  EXPECT_EQ(f(-4, 1), -3);
  EXPECT_EQ(calls, 2);
  const std::function<int(int, int)> g = [](int a, int b) { return a * b; };
  const fn_ref<int(int, int)> h = g;
  EXPECT_EQ(h(6, 7), 42);
}

TEST(StealingRuns, OwnerTakesItsRunFrontToBackThenStealsFromTheBack) {
  const int64_t starts[] = {0, 8, 8, 20};  // runs [0, 8), [8, 8) (empty), [8, 20)
  stealing_runs runs(starts);
  ASSERT_EQ(runs.size(), 3u);
  int64_t lo = -1, hi = -1;
  // Its own run first, in halves from the front: [0, 4), [4, 6), [6, 7), [7, 8).
  const int64_t own[][2] = {{0, 4}, {4, 6}, {6, 7}, {7, 8}};
  for (const auto& want : own) {
    ASSERT_TRUE(runs.claim(0, &lo, &hi));
    EXPECT_EQ(lo, want[0]);
    EXPECT_EQ(hi, want[1]);
  }
  // Then half of the fullest other run, from its back: [14, 20), [11, 14), [10, 11), ...
  ASSERT_TRUE(runs.claim(0, &lo, &hi));
  EXPECT_EQ(lo, 14);
  EXPECT_EQ(hi, 20);
  // The owner of the empty run steals too, and run 2's owner still takes its front.
  ASSERT_TRUE(runs.claim(1, &lo, &hi));
  EXPECT_EQ(lo, 11);
  EXPECT_EQ(hi, 14);
  ASSERT_TRUE(runs.claim(2, &lo, &hi));
  EXPECT_EQ(lo, 8);
  EXPECT_EQ(hi, 9);
  int64_t left = 0;
  while (runs.claim(1, &lo, &hi)) left += hi - lo;
  EXPECT_EQ(left, 2);  // [9, 11)
  EXPECT_FALSE(runs.claim(2, &lo, &hi));
  EXPECT_FALSE(runs.claim(7, &lo, &hi));  // an index past the runs only steals
}

TEST(StealingRuns, ResetReusesTheObjectForMoreOrFewerRuns) {
  stealing_runs runs;
  int64_t lo = 0, hi = 0;
  EXPECT_FALSE(runs.claim(0, &lo, &hi));  // no runs yet
  for (const std::vector<int64_t>& starts :
       {std::vector<int64_t>{0, 3}, {0, 2, 5, 9, 10}, {4, 6, 6}}) {
    runs.reset(starts);
    ASSERT_EQ(runs.size(), starts.size() - 1);
    std::vector<int> hits(static_cast<size_t>(starts.back()), 0);
    while (runs.claim(0, &lo, &hi))
      for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
    for (int64_t i = 0; i < starts.back(); ++i)
      EXPECT_EQ(hits[static_cast<size_t>(i)], i >= starts.front() ? 1 : 0) << i;
  }
}

TEST(StealingRuns, ThreadsClaimEveryIndexExactlyOnce) {
  for (int threads : {2, 3, 5}) {
    thread_pool pool(threads);
    for (int64_t n : {1, 2, 13, 1000}) {
      std::vector<int64_t> starts(static_cast<size_t>(threads) + 1);
      for (int t = 0; t <= threads; ++t) starts[static_cast<size_t>(t)] = n * t / threads;
      for (int rep = 0; rep < 20; ++rep) {
        stealing_runs runs(starts);
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        pool.run_on_all([&](int t, int) {
          int64_t lo = 0, hi = 0;
          // Thread 0 starts late, so the others steal from its run.
          if (t == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
          while (runs.claim(static_cast<size_t>(t), &lo, &hi)) {
            EXPECT_LT(lo, hi);
            for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
          }
        });
        for (auto& h : hits) ASSERT_EQ(h.load(), 1);
      }
    }
  }
}

}  // namespace
}  // namespace uma

namespace uma {
namespace {

// The vendor flag agrees with the kernel's own reading of cpuid (/proc/cpuinfo's vendor_id).
TEST(cpu_features, amd_follows_the_vendor_id) {
  std::ifstream in("/proc/cpuinfo");
  std::string line, vendor;
  while (vendor.empty() && std::getline(in, line))
    if (line.rfind("vendor_id", 0) == 0) vendor = line.substr(line.find(':') + 2);
  EXPECT_EQ(cpu().amd, vendor == "AuthenticAMD") << vendor;  // no vendor_id (Arm): false
}

// cpuid leaf 1 signatures of real parts (the vendors' published family / model / stepping).
TEST(cpu_features, decodes_x86_signatures) {
  const auto expect = [](uint32_t eax, int family, int model, int stepping) {
    const x86_signature s = decode_x86_signature(eax);
    EXPECT_EQ(s.family, family) << std::hex << eax;
    EXPECT_EQ(s.model, model) << std::hex << eax;
    EXPECT_EQ(s.stepping, stepping) << std::hex << eax;
  };
  expect(0x00A10F11u, 25, 0x11, 1);  // EPYC 9004 (Genoa): base family 15 + extended 10
  expect(0x00B00F21u, 26, 0x02, 1);  // EPYC 9005 (Turin)
  expect(0x000C06F2u, 6, 0xCF, 2);   // Xeon 5th gen (Emerald Rapids): extended model for family 6
  expect(0x000806F8u, 6, 0x8F, 8);   // Xeon 4th gen (Sapphire Rapids)
  expect(0x00010543u, 5, 0x4, 3);    // family 5: the extended model field is not added
}

TEST(cpu_features, names_x86_microarchitectures) {
  EXPECT_EQ(x86_uarch(true, false, 25, 0x11), "zen4");
  EXPECT_EQ(x86_uarch(true, false, 25, 0x61), "zen4");  // Ryzen 7000
  EXPECT_EQ(x86_uarch(true, false, 25, 0x01), "zen3");
  EXPECT_EQ(x86_uarch(true, false, 26, 0x02), "zen5");
  EXPECT_EQ(x86_uarch(true, false, 26, 0x44), "zen5");  // Ryzen 9000
  EXPECT_EQ(x86_uarch(true, false, 23, 0x31), "zen2");
  EXPECT_EQ(x86_uarch(false, true, 6, 0xCF), "emerald-rapids");
  EXPECT_EQ(x86_uarch(false, true, 6, 0x8F), "sapphire-rapids");
  EXPECT_EQ(x86_uarch(false, true, 6, 0x97), "alder-lake");
  // Unknown stays empty rather than guessed.
  EXPECT_EQ(x86_uarch(true, false, 26, 0x50), "");
  EXPECT_EQ(x86_uarch(false, true, 6, 0x01), "");
  EXPECT_EQ(x86_uarch(false, true, 15, 0x06), "");
  EXPECT_EQ(x86_uarch(false, false, 6, 0x8F), "");  // neither vendor
  EXPECT_EQ(x86_uarch(true, true, 6, 0x8F), "");    // AMD's tables for an AMD flag
}

TEST(cpu_features, names_arm_cores_from_cpuinfo) {
  const std::string grace =
      "processor\t: 0\nBogoMIPS\t: 2000.00\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
      "CPU variant\t: 0x0\nCPU part\t: 0xd4f\nCPU revision\t: 0\n\nprocessor\t: 1\n"
      "CPU implementer\t: 0x41\nCPU part\t: 0xd40\n";
  std::string id;
  EXPECT_EQ(arm_uarch(grace, &id), "neoverse-v2");  // the first core's fields
  EXPECT_EQ(id, "arm implementer 0x41 part 0xd4f");
  EXPECT_EQ(arm_uarch("CPU implementer : 0x61\nCPU part : 0x39\n"), "apple");
  id.clear();
  EXPECT_EQ(arm_uarch("CPU implementer : 0x41\nCPU part : 0xfff\n", &id), "");
  EXPECT_EQ(id, "arm implementer 0x41 part 0xfff");  // unknown part: still identified
  EXPECT_EQ(arm_uarch("CPU implementer : zz\nCPU part : 0xd4f\n"), "");  // malformed: no throw
  EXPECT_EQ(arm_uarch("CPU part : 0xd4f\n"), "");
  EXPECT_EQ(arm_uarch(""), "");
}

// On x86 Linux the signature and the brand agree with the kernel's own reading of cpuid.
TEST(cpu_features, identity_agrees_with_proc_cpuinfo) {
#if defined(__x86_64__) && defined(__linux__)
  std::ifstream in("/proc/cpuinfo");
  std::string line, family, model, stepping, name;
  const auto value = [&] { return line.substr(line.find(':') + 2); };
  while (std::getline(in, line) && !line.empty()) {
    if (line.rfind("cpu family", 0) == 0) family = value();
    if (line.rfind("model name", 0) == 0)
      name = value();
    else if (line.rfind("model", 0) == 0)
      model = value();
    if (line.rfind("stepping", 0) == 0) stepping = value();
  }
  EXPECT_EQ(cpu().id, "x86 family " + family + " model " + model + " stepping " + stepping);
  while (!name.empty() && name.back() == ' ') name.pop_back();
  EXPECT_EQ(cpu().name, name);
  EXPECT_NE(
      cpu().identity().find("(" + (cpu().uarch.empty() ? "" : cpu().uarch + "; ") + cpu().id + ")"),
      std::string::npos)
      << cpu().identity();
#else
  // Elsewhere the identity is at least the name (or "unknown CPU") it reports.
  EXPECT_EQ(cpu().identity().rfind(cpu().name.empty() ? "unknown CPU" : cpu().name, 0), 0u);
#endif
}

}  // namespace
}  // namespace uma
