// Software prefetch that the compiler keeps. GCC treats __builtin_prefetch as free of side
// effects, so a loop of nothing but prefetches may be deleted as dead code (GCC 12 -O3 did, twice
// in model/blocks.cpp: docs/performance.md 2026-12-05 21:50 and 2026-12-06); an asm volatile
// statement stays where it is written.
#pragma once

#include <cstddef>

namespace uma {

// Requests the cache line holding p towards the core's L1 (a hint: nothing else changes).
inline void prefetch_line(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#elif defined(__aarch64__)
  asm volatile("prfm pldl1keep, %0" : : "Q"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 0, 3);
#endif
}

// Requests the line for a write (where the target has such a request: arm64; x86-64 without
// PRFCHW, the baseline uma builds for, requests it as prefetch_line does).
inline void prefetch_line_for_write(const void* p) {
#if defined(__aarch64__)
  asm volatile("prfm pstl1keep, %0" : : "Q"(*static_cast<const char*>(p)));
#else
  prefetch_line(p);
#endif
}

// Requests every line of [p, p + bytes), for reading or for a write.
inline void prefetch_range(const void* p, size_t bytes, bool for_write = false) {
  const auto* c = static_cast<const char*>(p);
  for (size_t off = 0; off < bytes; off += 64) {
    if (for_write)
      prefetch_line_for_write(c + off);
    else
      prefetch_line(c + off);
  }
}

}  // namespace uma
