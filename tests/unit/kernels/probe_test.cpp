// The machine probes behind `uma bench`: each ISA's streaming reader returns the exact sum of the
// buffer's 64-bit words (so it really read every byte), each MAC loop reports the MACs it ran, and
// the measured bandwidth / int8 peak are positive with the method named where a loop exists.
// No timing asserts: only that the probes run and count what they claim.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/probe.h"
#include "util/cpu_features.h"
#include "util/thread_pool.h"

namespace uma::kernels {
namespace {

uint64_t word_sum(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    s += w;
  }
  return s;
}

// A 64-byte aligned buffer of random bytes, n a multiple of 256.
std::vector<uint64_t> random_words(size_t n_bytes, uint32_t seed) {
  std::vector<uint64_t> v(n_bytes / 8 + 8);
  std::mt19937_64 rng(seed);
  for (auto& w : v) w = rng();
  return v;
}

const uint8_t* aligned64(const std::vector<uint64_t>& v) {
  auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<const uint8_t*>((p + 63) / 64 * 64);
}

using reader_fn = uint64_t (*)(const uint8_t*, size_t);

std::vector<std::pair<std::string, reader_fn>> readers() {
  std::vector<std::pair<std::string, reader_fn>> r;
#if defined(__x86_64__)
  if (cpu().avx2) r.emplace_back("avx2", probe_read_sum_avx2);
#elif defined(__aarch64__)
  if (cpu().neon_dotprod) r.emplace_back("neon", probe_read_sum_neon);
#endif
  return r;
}

TEST(Probe, ReadersSumEveryWord) {
  const auto rs = readers();
  if (rs.empty()) GTEST_SKIP() << "no SIMD reader on this CPU";
  for (size_t n : {size_t{256}, size_t{512}, size_t{256} * 37, size_t{1} << 16}) {
    const auto buf = random_words(n, static_cast<uint32_t>(n));
    const uint8_t* p = aligned64(buf);
    for (const auto& [name, f] : rs) EXPECT_EQ(f(p, n), word_sum(p, n)) << name << " n=" << n;
  }
}

TEST(Probe, MacLoopsCountTheirWork) {
  std::vector<std::pair<std::string, uint64_t (*)(int64_t)>> loops;
#if defined(__x86_64__)
  if (cpu().avx2) loops.emplace_back("avx2", probe_int8_loop_avx2);
  if (cpu().avx_vnni) loops.emplace_back("avx-vnni", probe_int8_loop_avxvnni);
  if (cpu().avx512_vnni) loops.emplace_back("avx512", probe_int8_loop_avx512);
#elif defined(__aarch64__)
  if (cpu().neon_dotprod) loops.emplace_back("neon", probe_int8_loop_neon);
  if (cpu().neon_dotprod && cpu().neon_i8mm) loops.emplace_back("i8mm", probe_int8_loop_i8mm);
#endif
  if (loops.empty()) GTEST_SKIP() << "no SIMD MAC loop on this CPU";
  for (const auto& [name, f] : loops) {
    const uint64_t per = f(1);
    EXPECT_GT(per, 0u) << name;
    EXPECT_EQ(f(1000), 1000 * per) << name;
  }
}

TEST(Probe, MeasuresArePositiveAndNamed) {
  thread_pool pool(2);
  const probe_result bw = measure_read_bandwidth(&pool, size_t{8} << 20, 2);
  ASSERT_EQ(bw.samples.size(), 2u);
  EXPECT_GT(bw.best, 0.0);
  EXPECT_GE(bw.best, bw.median);
  EXPECT_FALSE(std::string(bw.method).empty());
  const probe_result peak = measure_int8_peak(&pool, 0.01, 2);
  if (std::string(peak.method) == "none") {
    EXPECT_TRUE(peak.samples.empty());
  } else {
    ASSERT_EQ(peak.samples.size(), 2u);
    EXPECT_GT(peak.best, 0.0);
  }
#if defined(__aarch64__)
  if (cpu().neon_dotprod) {  // smmla where the kernels use it (neon-i8mm / neon-sme)
    const bool smmla = &best_backend() != find_backend(backend_id::neon) && cpu().neon_i8mm;
    EXPECT_EQ(std::string(peak.method), smmla ? "neon smmla" : "neon sdot");
  }
#elif defined(__x86_64__)
  if (cpu().avx2) {
    EXPECT_NE(std::string(peak.method), "none");
  }
#endif
}

}  // namespace
}  // namespace uma::kernels
