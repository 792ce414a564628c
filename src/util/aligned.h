// 64-byte aligned heap arrays: a cache line and one AVX-512 register. malloc aligns to 16 bytes
// (large blocks sit 16 bytes into a mapped page), so a plain std::vector<float> can put every
// 512-bit load of a kernel across two cache lines; attention over such buffers ran 10-30 %
// slower (docs/performance.md, 2026-12-03 16:58).
#pragma once

#include <cstddef>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
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

// An uninitialised 64-byte aligned array of a trivial type, its pages untouched until written
// (as new T[n] leaves them); freed with the matching aligned delete.
struct cache_aligned_delete {
  void operator()(void* p) const noexcept { ::operator delete (p, std::align_val_t{64}); }
};
template <class T>
using aligned_array = std::unique_ptr<T[], cache_aligned_delete>;

template <class T>
aligned_array<T> make_aligned_array(std::size_t n) {
  static_assert(std::is_trivially_default_constructible_v<T>);
  if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
  return aligned_array<T>(static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64})));
}

}  // namespace uma
