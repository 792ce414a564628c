// mmap(2)-backed implementation of mapped_file.
#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
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

size_t mapped_file::huge_mapped_bytes() const {
  if (data_ == nullptr || size_ == 0) return 0;
  const auto lo = reinterpret_cast<uintptr_t>(data_), hi = lo + size_;
  std::ifstream in("/proc/self/smaps");
  std::string line;
  bool inside = false;  // the current VMA lies in this mapping
  size_t kib = 0;
  while (std::getline(in, line)) {
    char* end = nullptr;
    const uintptr_t start = std::strtoull(line.c_str(), &end, 16);
    if (end != line.c_str() && *end == '-') {  // a VMA's header "start-end perms ..."
      inside = start >= lo && start < hi;
      continue;
    }
    if (inside && line.rfind("FilePmdMapped:", 0) == 0)
      kib += std::strtoull(line.c_str() + 14, nullptr, 10);
  }
  return kib << 10;
}

result<size_t> mapped_file::reread_huge(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error("cannot open '{}': {}", path, std::strerror(errno));
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);  // a hint: pages others map stay
  ::close(fd);
  UMA_ASSIGN(mapped_file f, open(path));
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const auto* p = reinterpret_cast<const volatile char*>(f.data_);
  for (size_t at = 0; at < f.size_; at += page) (void)p[at];  // fault it in, large folios first
  return f.huge_mapped_bytes();
}

void mapped_file::advise_willneed() const {
  if (data_ != nullptr && size_ > 0) madvise(const_cast<std::byte*>(data_), size_, MADV_WILLNEED);
}

}  // namespace uma
