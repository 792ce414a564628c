// 64-byte aligned heap arrays: a cache line and one AVX-512 register. malloc aligns to 16 bytes
// (large blocks sit 16 bytes into a mapped page), so a plain std::vector<float> can put every
// 512-bit load of a kernel across two cache lines; attention over such buffers ran 10-30 %
// slower (docs/performance.md, 2026-12-03 16:58).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace uma {

template <class T>
struct cache_aligned_allocator {
  using value_type = T;
  static constexpr std::align_val_t alignment{64};
  cache_aligned_allocator() = default;
  template <class U>
  explicit cache_aligned_allocator(const cache_aligned_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, alignment); }
  template <class U>
  bool operator==(const cache_aligned_allocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using aligned_vector = std::vector<T, cache_aligned_allocator<T>>;

}  // namespace uma
