// mmap(2)-backed implementation of mapped_file.
#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "util/pages.h"

namespace uma {

mapped_file::~mapped_file() {
  if (data_ != nullptr && size_ > 0) munmap(const_cast<std::byte*>(data_), size_);
}

mapped_file::mapped_file(mapped_file&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      path_(std::move(o.path_)) {}

mapped_file& mapped_file::operator=(mapped_file&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr && size_ > 0) munmap(const_cast<std::byte*>(data_), size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    path_ = std::move(o.path_);
  }
  return *this;
}

namespace {

// Maps the file at a 2 MiB-aligned address and asks for transparent huge pages, so that where the
// page cache holds the file in 2 MiB folios (ext4 and others with large folios read them in at
// fault time when the file is not cached yet) they map with one TLB entry each.
void* map_aligned(int fd, size_t size) {
  if (size < huge_page_bytes) return mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  // A placeholder trimmed to the boundary, then the file over it.
  void* span = mmap(nullptr, size + huge_page_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (span == MAP_FAILED) return mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  void* at = keep_huge_aligned(span, size);
  void* p = mmap(at, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  if (p == MAP_FAILED) {
    munmap(at, size);
    return mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  }
  madvise(p, size, MADV_HUGEPAGE);
  return p;
}

}  // namespace

result<mapped_file> mapped_file::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open '{}': {}", path, std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return make_error("cannot stat '{}': {}", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("'{}' is not a regular file", path);
  }
  mapped_file f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ > 0) {
    void* p = map_aligned(fd, f.size_);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      f.size_ = 0;
      return make_error("cannot map '{}': {}", path, std::strerror(e));
    }
    f.data_ = static_cast<const std::byte*>(p);
  }
  ::close(fd);
  return f;
}

void mapped_file::release(const void* p, size_t n) const {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto lo = std::max(reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(data_));
  const auto hi =
      std::min(reinterpret_cast<uintptr_t>(p) + n, reinterpret_cast<uintptr_t>(data_) + size_);
  const uintptr_t a = (lo + page - 1) / page * page, e = hi / page * page;
  if (data_ != nullptr && a < e) madvise(reinterpret_cast<void*>(a), e - a, MADV_DONTNEED);
}

void mapped_file::advise_willneed() const {
  if (data_ != nullptr && size_ > 0) madvise(const_cast<std::byte*>(data_), size_, MADV_WILLNEED);
}

}  // namespace uma
