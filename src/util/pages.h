// Page-level memory hints for buffers that are reserved large and written as they fill (the KV
// cache): fault a range in before its first write, in one system call.
#pragma once

#include <cstddef>

namespace uma {

// Makes the pages covering [p, p + bytes) present and writable without changing their contents
// (Linux MADV_POPULATE_WRITE, 5.14+; the range is widened to whole pages, which must belong to
// mappings the process owns). One call over many pages costs a fraction of the page faults the
// first writes would take (on the dev VM ~0.6-0.8 against ~11.6 us a 4 KiB page; the first access
// after it still costs ~6 us there, on the hypervisor's side: docs/performance.md).
// Returns false where the system has no such call (nothing is done then; the pages fault in on
// first write as before).
bool prefault_for_write(void* p, std::size_t bytes);

// The 2 MiB boundary huge pages need: `span`, a mapping of size + 2 MiB bytes, loses what lies
// before its first 2 MiB boundary and after `size` bytes (rounded up to whole pages) from it;
// returns that boundary, where `size` bytes of the mapping remain (reserved_memory; the model
// file's mapping in mapped_file).
void* keep_huge_aligned(void* span, std::size_t size);
constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

// Anonymous memory of `bytes` (rounded up to whole pages), reserved and not touched, starting
// on a 2 MiB boundary and, on Linux, marked for transparent huge pages (MADV_HUGEPAGE), so that
// once written it is mapped by 2 MiB pages where the system has them free: the KV cache, which
// attention streams every token. On the dev VM its 4 KiB pages made decode attention take 1.4-2.7x
// the time of the same bytes on huge pages (docs/performance.md). Throws std::bad_alloc where
// the system refuses the reservation.
class reserved_memory {
 public:
  reserved_memory() = default;
  explicit reserved_memory(std::size_t bytes);
  reserved_memory(reserved_memory&& o) noexcept : p_(o.p_), bytes_(o.bytes_) {
    o.p_ = nullptr, o.bytes_ = 0;
  }
  reserved_memory& operator=(reserved_memory&& o) noexcept;
  reserved_memory(const reserved_memory&) = delete;
  reserved_memory& operator=(const reserved_memory&) = delete;
  ~reserved_memory();
  void* data() const { return p_; }
  std::size_t size() const { return bytes_; }

 private:
  void release() noexcept;
  void* p_ = nullptr;
  std::size_t bytes_ = 0;
};

// The machine's physical memory in bytes (0 where the system does not say): what a buffer
// reserved up front (the KV cache, a probe) is checked against before it is allocated.
double physical_memory_bytes();

}  // namespace uma
