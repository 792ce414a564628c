// GGUF v3 writer. Metadata is encoded as it is set; tensor data is produced at write time by each
// tensor's fill callback, straight into a mapping of its range of the output file, so a multi-GB
// file never sits in memory. Space is reserved up front (posix_fallocate) so a full disk is an
// error, not a SIGBUS while writing through the mapping.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>

#include "gguf/writer.h"
#include "util/checked.h"
#include "util/pages.h"

namespace uma::gguf {

namespace {

using bytes = std::vector<std::byte>;

// Appends n bytes (resize + memcpy: GCC 12 misreports vector::insert of small sizes as overflow).
void put_bytes(bytes& out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

template <class T>
void put_raw(bytes& out, T v) {
  put_bytes(out, &v, sizeof(T));
}

void put_type(bytes& out, value_type t) {
  put_raw<uint32_t>(out, static_cast<uint32_t>(t));
}

void put_string(bytes& out, std::string_view s) {
  put_raw<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

template <class T>
bytes scalar(value_type t, T v) {
  bytes out;
  put_type(out, t);
  put_raw<T>(out, v);
  return out;
}

template <class T>
bytes numeric_array(value_type elem, std::span<const T> v) {
  bytes out;
  put_type(out, value_type::array);
  put_type(out, elem);
  put_raw<uint64_t>(out, v.size());
  put_bytes(out, v.data(), v.size_bytes());
  return out;
}

size_t elem_size(value_type t) {
  value probe;
  probe.elem_type = t;
  return probe.scalar_elem_size();
}

// Element type, count and elements of an array value (no leading type tag: nested array items
// are written this way too). The count is taken from the contents so it cannot disagree.
void put_array_payload(bytes& out, const value& v) {
  put_type(out, v.elem_type);
  if (v.elem_type == value_type::string) {
    put_raw<uint64_t>(out, v.strs.size());
    for (auto s : v.strs) put_string(out, s);
  } else if (v.elem_type == value_type::array) {
    put_raw<uint64_t>(out, v.items.size());
    for (const auto& item : v.items) put_array_payload(out, item);
  } else {
    const size_t size = elem_size(v.elem_type);
    const uint64_t n = size == 0 ? 0 : v.raw.size() / size;
    put_raw<uint64_t>(out, n);
    put_bytes(out, v.raw.data(), n * size);
  }
}

void put_value(bytes& out, const value& v) {
  put_type(out, v.type);
  switch (v.type) {
    case value_type::u8:
      put_raw<uint8_t>(out, static_cast<uint8_t>(v.u));
      break;
    case value_type::i8:
      put_raw<int8_t>(out, static_cast<int8_t>(v.i));
      break;
    case value_type::u16:
      put_raw<uint16_t>(out, static_cast<uint16_t>(v.u));
      break;
    case value_type::i16:
      put_raw<int16_t>(out, static_cast<int16_t>(v.i));
      break;
    case value_type::u32:
      put_raw<uint32_t>(out, static_cast<uint32_t>(v.u));
      break;
    case value_type::i32:
      put_raw<int32_t>(out, static_cast<int32_t>(v.i));
      break;
    case value_type::u64:
      put_raw<uint64_t>(out, v.u);
      break;
    case value_type::i64:
      put_raw<int64_t>(out, v.i);
      break;
    case value_type::f32:
      put_raw<float>(out, static_cast<float>(v.f));
      break;
    case value_type::f64:
      put_raw<double>(out, v.f);
      break;
    case value_type::boolean:
      put_raw<uint8_t>(out, v.u != 0 ? 1 : 0);
      break;
    case value_type::string:
      put_string(out, v.str);
      break;
    case value_type::array:
      put_array_payload(out, v);
      break;
  }
}

status write_all(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return make_error("write failed: {}", std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

}  // namespace

void writer::put(std::string_view key, std::vector<std::byte> encoded) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(encoded);
      return;
    }
  }
  kv_.emplace_back(std::string(key), std::move(encoded));
}

void writer::set_u8(std::string_view key, uint8_t v) {
  put(key, scalar(value_type::u8, v));
}
void writer::set_i8(std::string_view key, int8_t v) {
  put(key, scalar(value_type::i8, v));
}
void writer::set_u16(std::string_view key, uint16_t v) {
  put(key, scalar(value_type::u16, v));
}
void writer::set_i16(std::string_view key, int16_t v) {
  put(key, scalar(value_type::i16, v));
}
void writer::set_u32(std::string_view key, uint32_t v) {
  if (key == "general.alignment") alignment_ = v;
  put(key, scalar(value_type::u32, v));
}
void writer::set_i32(std::string_view key, int32_t v) {
  put(key, scalar(value_type::i32, v));
}
void writer::set_u64(std::string_view key, uint64_t v) {
  put(key, scalar(value_type::u64, v));
}
void writer::set_i64(std::string_view key, int64_t v) {
  put(key, scalar(value_type::i64, v));
}
void writer::set_f32(std::string_view key, float v) {
  put(key, scalar(value_type::f32, v));
}
void writer::set_f64(std::string_view key, double v) {
  put(key, scalar(value_type::f64, v));
}
void writer::set_bool(std::string_view key, bool v) {
  put(key, scalar<uint8_t>(value_type::boolean, v ? 1 : 0));
}
void writer::set_string(std::string_view key, std::string_view v) {
  bytes out;
  put_type(out, value_type::string);
  put_string(out, v);
  put(key, std::move(out));
}

void writer::set_array_string(std::string_view key, const std::vector<std::string>& v) {
  bytes out;
  put_type(out, value_type::array);
  put_type(out, value_type::string);
  put_raw<uint64_t>(out, v.size());
  for (const auto& s : v) put_string(out, s);
  put(key, std::move(out));
}
void writer::set_array_string(std::string_view key, std::span<const std::string_view> v) {
  bytes out;
  put_type(out, value_type::array);
  put_type(out, value_type::string);
  put_raw<uint64_t>(out, v.size());
  for (auto s : v) put_string(out, s);
  put(key, std::move(out));
}
void writer::set_array_f32(std::string_view key, std::span<const float> v) {
  put(key, numeric_array(value_type::f32, v));
}
void writer::set_array_i32(std::string_view key, std::span<const int32_t> v) {
  put(key, numeric_array(value_type::i32, v));
}
void writer::set_array_u32(std::string_view key, std::span<const uint32_t> v) {
  put(key, numeric_array(value_type::u32, v));
}
void writer::set_array_u8(std::string_view key, std::span<const uint8_t> v) {
  put(key, numeric_array(value_type::u8, v));
}

void writer::set_value(std::string_view key, const value& v) {
  if (key == "general.alignment" && v.type == value_type::u32)
    alignment_ = static_cast<uint32_t>(v.u);
  bytes out;
  put_value(out, v);
  put(key, std::move(out));
}

void writer::set_alignment(uint32_t alignment) {
  set_u32("general.alignment", alignment);
}

status writer::add_tensor(std::string_view name, dtype type, std::span<const int64_t> ne,
                          fill_fn fill) {
  if (name.empty()) return make_error("gguf writer: empty tensor name");
  for (const auto& t : tensors_)
    if (t.name == name) return make_error("gguf writer: duplicate tensor name '{}'", name);
  if (ne.empty() || ne.size() > static_cast<size_t>(max_dims))
    return make_error("gguf writer: tensor '{}' has {} dimensions (1..{})", name, ne.size(),
                      max_dims);
  uint64_t n = 1;
  for (int64_t d : ne) {
    if (d < 0) return make_error("gguf writer: tensor '{}' has a negative dimension", name);
    auto m = checked_mul(n, static_cast<uint64_t>(d));
    if (!m || *m > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return make_error("gguf writer: tensor '{}' element count overflows", name);
    n = *m;
  }
  const auto& tr = traits(type);
  if (static_cast<uint64_t>(ne[0]) % tr.block_elems != 0)
    return make_error("gguf writer: tensor '{}' row length {} is not a multiple of {} ({})", name,
                      ne[0], tr.block_elems, tr.name);
  auto nb = bytes_for(type, n);
  if (!nb) return make_error("gguf writer: tensor '{}' byte count overflows", name);
  if (!fill) return make_error("gguf writer: tensor '{}' has no fill callback", name);
  tensors_.push_back(
      {std::string(name), type, std::vector<int64_t>(ne.begin(), ne.end()), *nb, std::move(fill)});
  return {};
}

status writer::add_tensor_bytes(std::string_view name, dtype type, std::span<const int64_t> ne,
                                std::span<const std::byte> src) {
  std::string owned(name);
  auto fill = [src, owned](std::span<std::byte> dst) -> status {
    if (dst.size() != src.size())
      return make_error("tensor '{}': {} bytes given, {} needed", owned, src.size(), dst.size());
    if (!src.empty()) std::memcpy(dst.data(), src.data(), src.size());
    return {};
  };
  UMA_TRY(add_tensor(name, type, ne, std::move(fill)));
  if (tensors_.back().n_bytes != src.size()) {
    const uint64_t need = tensors_.back().n_bytes;
    tensors_.pop_back();
    return make_error("gguf writer: tensor '{}' needs {} bytes, {} given", name, need, src.size());
  }
  return {};
}

result<writer::layout_info> writer::plan() const {
  if (!is_pow2(alignment_))
    return make_error("gguf writer: alignment {} is not a power of two", alignment_);
  layout_info l;
  bytes& h = l.header;
  put_raw<uint32_t>(h, magic);
  put_raw<uint32_t>(h, 3);
  put_raw<uint64_t>(h, tensors_.size());
  put_raw<uint64_t>(h, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_string(h, k);
    put_bytes(h, v.data(), v.size());
  }
  uint64_t off = 0;
  for (const auto& t : tensors_) {
    put_string(h, t.name);
    put_raw<uint32_t>(h, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put_raw<uint64_t>(h, static_cast<uint64_t>(d));
    put_raw<uint32_t>(h, static_cast<uint32_t>(t.type));
    put_raw<uint64_t>(h, off);
    l.offsets.push_back(off);
    auto end = checked_add(off, t.n_bytes);
    if (!end) return make_error("gguf writer: total size overflows");
    off = align_up(*end, alignment_);
  }
  l.data_offset = align_up(h.size(), alignment_);
  auto total = checked_add(l.data_offset, off);
  if (!total) return make_error("gguf writer: total size overflows");
  l.total = *total;
  return l;
}

result<std::vector<std::byte>> writer::write_to_memory() const {
  UMA_ASSIGN(layout_info l, plan());
  bytes out(l.total);
  std::memcpy(out.data(), l.header.data(), l.header.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    std::span<std::byte> dst(out.data() + l.data_offset + l.offsets[i], t.n_bytes);
    status st = t.fill(dst);
    if (!st.ok()) return make_error("gguf writer: tensor '{}': {}", t.name, st.message());
  }
  return out;
}

status writer::write(const std::string& path) const {
  UMA_ASSIGN(layout_info l, plan());
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error("cannot create '{}': {}", tmp, std::strerror(errno));
  auto fail = [&](error e) -> status {
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (l.total > 0) {
    if (int e = posix_fallocate(fd, 0, static_cast<off_t>(l.total)); e != 0)
      return fail(
          make_error("cannot reserve {} bytes for '{}': {}", l.total, tmp, std::strerror(e)));
  }
  if (status st = write_all(fd, l.header.data(), l.header.size()); !st.ok())
    return fail(make_error("'{}': {}", tmp, st.message()));
  if (l.total > l.data_offset) {
    // The whole file in one shared mapping at a 2 MiB boundary with MADV_HUGEPAGE, so that the
    // page cache allocates the tensor data in 2 MiB folios, which uma's read mapping then maps
    // as huge pages (per-tensor mappings at arbitrary addresses left ~17 % of a model in 4 KiB
    // folios, and a model in 4 KiB folios decodes 3-10 % slower: docs/performance.md).
    const auto total = static_cast<size_t>(l.total);
    void* p = MAP_FAILED;
    if (void* span =
            mmap(nullptr, total + huge_page_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        span != MAP_FAILED) {
      void* at = keep_huge_aligned(span, total);
      p = mmap(at, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
      if (p == MAP_FAILED)
        munmap(at, total);
      else
        madvise(p, total, MADV_HUGEPAGE);  // a hint: without THP the folios stay 4 KiB
    }
    if (p == MAP_FAILED) p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail(make_error("cannot map '{}': {}", tmp, std::strerror(errno)));
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const auto& t = tensors_[i];
      if (t.n_bytes == 0) continue;
      std::span<std::byte> dst(static_cast<std::byte*>(p) + l.data_offset + l.offsets[i],
                               t.n_bytes);
      status st = t.fill(dst);
      if (!st.ok()) {
        munmap(p, total);
        return fail(make_error("gguf writer: tensor '{}': {}", t.name, st.message()));
      }
    }
    munmap(p, total);
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return make_error("cannot close '{}': {}", tmp, std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return make_error("cannot rename '{}' to '{}': {}", tmp, path, std::strerror(e));
  }
  return {};
}

}  // namespace uma::gguf
