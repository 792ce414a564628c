// prefault_for_write, reserved_memory, physical_memory_bytes (see pages.h).
#include "util/pages.h"

#include <cstdint>
#include <new>

#if defined(__linux__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace uma {

bool prefault_for_write(void* p, std::size_t bytes) {
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // linux/mman.h since 5.14; older headers lack it
#endif
  if (bytes == 0) return true;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t lo = a / page * page, hi = (a + bytes + page - 1) / page * page;
  return madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE) == 0;
#else
  (void)p, (void)bytes;
  return false;
#endif
}

void* keep_huge_aligned(void* span, std::size_t size) {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto lo = reinterpret_cast<std::uintptr_t>(span);
  const std::uintptr_t start = (lo + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  const std::uintptr_t end = start + (size + page - 1) / page * page;
  if (start > lo) munmap(span, start - lo);
  if (lo + size + huge_page_bytes > end)
    munmap(reinterpret_cast<void*>(end), lo + size + huge_page_bytes - end);
  return reinterpret_cast<void*>(start);
}

reserved_memory::reserved_memory(std::size_t bytes) {
  if (bytes == 0) return;
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  if (bytes > SIZE_MAX - huge_page_bytes - page) throw std::bad_alloc();
  const std::size_t size = (bytes + page - 1) / page * page;
  void* span = mmap(nullptr, size + huge_page_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (span == MAP_FAILED) throw std::bad_alloc();
  p_ = keep_huge_aligned(span, size);
  bytes_ = size;
#if defined(__linux__)
  madvise(p_, bytes_, MADV_HUGEPAGE);  // a hint: without THP the pages stay 4 KiB
#endif
}

reserved_memory& reserved_memory::operator=(reserved_memory&& o) noexcept {
  if (this != &o) {
    release();
    p_ = o.p_, bytes_ = o.bytes_;
    o.p_ = nullptr, o.bytes_ = 0;
  }
  return *this;
}

reserved_memory::~reserved_memory() {
  release();
}

void reserved_memory::release() noexcept {
  if (p_ == nullptr) return;
  munmap(p_, bytes_);
  p_ = nullptr, bytes_ = 0;
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? double(pages) * double(size) : 0.0;
}

}  // namespace uma
