// Read-only memory mapping of a whole file: model weights are views into this mapping and are
// never copied (DESIGN.md "Weights are never copied").
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "util/status.h"

namespace uma {

class mapped_file {
 public:
  mapped_file() = default;
  ~mapped_file();
  mapped_file(mapped_file&& o) noexcept;
  mapped_file& operator=(mapped_file&& o) noexcept;
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  // Maps `path` read-only. An empty file maps to an empty span.
  static result<mapped_file> open(const std::string& path);

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hint the kernel that the whole file will be read soon (asynchronous readahead).
  void advise_willneed() const;
  // Bytes of the mapping the kernel maps with 2 MiB page-table entries (FilePmdMapped in
  // /proc/self/smaps): where the page cache holds the file in 2 MiB folios. 0 where it has none
  // or the system does not say.
  size_t huge_mapped_bytes() const;
  // Drops the page cache's copy of `path` (the clean pages no process maps) and reads the file
  // back through a 2 MiB-aligned MADV_HUGEPAGE mapping, so that on file systems with large folios
  // the cache then holds it in 2 MiB pages, as it does for a file first read that way. A file
  // written in small pieces (cp, a download's 16 KiB writes) sits in the cache in 4 KiB pages,
  // and decode streamed those 3-10 % slower on the dev VM (docs/performance.md). Costs one read of
  // the file from storage; the contents are unchanged. Returns huge_mapped_bytes() of the read-back
  // mapping.
  static result<size_t> reread_huge(const std::string& path);
  // Drop this process's pages of [p, p + n) (whole pages inside the range, inside the mapping):
  // for data copied elsewhere, such as interleaved weights. The page cache keeps the file; a later
  // read of the range faults it back in.
  void release(const void* p, size_t n) const;

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace uma
