// libFuzzer harness for the GGUF reader (DESIGN.md "Testing layers": fuzz).
// fuzz-sources: src/gguf/gguf.cpp src/gguf/value.cpp src/gguf/writer.cpp
// fuzz-sources: src/tensor/dtype.cpp src/util/mapped_file.cpp src/util/pages.cpp
//
// Any input must either be rejected with a one-line error or parse into a file whose every view
// lies inside the input; a parsed file must survive a round trip through the writer (re-encoded,
// it parses again to the same metadata and tensors). Violations abort, ASan/UBSan catch the rest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace {

using uma::gguf::value;
using uma::gguf::value_type;

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::span<const std::byte> part, std::span<const std::byte> whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

bool inside(std::string_view s, std::span<const std::byte> whole) {
  return inside(std::as_bytes(std::span(s.data(), s.size())), whole);
}

// Reads every element so ASan sees any view that leaks outside the input. Returns a checksum so
// the reads are not optimized away.
uint64_t touch(const value& v, std::span<const std::byte> whole) {
  uint64_t sum = v.u + static_cast<uint64_t>(v.i) + v.str.size();
  check(inside(v.str, whole));
  if (!v.is_array()) {
    sum += v.as_int().value_or(0) + v.as_uint().value_or(0);
    sum += static_cast<uint64_t>(v.as_double().value_or(0) != 0);
    return sum;
  }
  check(inside(v.raw, whole));
  if (v.elem_type == value_type::string) {
    check(v.strs.size() == v.count);
    for (auto s : v.strs) {
      check(inside(s, whole));
      if (!s.empty()) sum += static_cast<unsigned char>(s.back());
    }
  } else if (v.elem_type == value_type::array) {
    check(v.items.size() == v.count);
    for (const auto& item : v.items) sum += touch(item, whole);
  } else {
    check(v.raw.size() == v.count * v.scalar_elem_size());
    for (uint64_t k = 0; k < v.count; ++k) sum += static_cast<uint64_t>(v.array_int(k));
    if (v.count > 0) sum += static_cast<uint64_t>(v.array_double(v.count - 1) != 0);
    sum += v.array_floats().size() + v.array_i32s().size();
  }
  return sum;
}

bool same_value(const value& a, const value& b) {
  if (a.type != b.type) return false;
  if (!a.is_array())
    return a.u == b.u && a.i == b.i && a.str == b.str &&
           std::memcmp(&a.f, &b.f, sizeof(double)) == 0;
  if (a.elem_type != b.elem_type || a.count != b.count || a.strs != b.strs) return false;
  if (!std::equal(a.raw.begin(), a.raw.end(), b.raw.begin(), b.raw.end())) return false;
  if (a.items.size() != b.items.size()) return false;
  for (size_t k = 0; k < a.items.size(); ++k)
    if (!same_value(a.items[k], b.items[k])) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto f = uma::gguf::file::parse(in);
  if (!f.ok()) {
    check(!f.message().empty() && f.message().find('\n') == std::string::npos);
    return 0;
  }
  volatile uint64_t sink = 0;
  check(f->data_offset() % f->alignment() == 0);
  for (const auto& [k, v] : f->metadata()) {
    check(inside(k, in) && !k.empty());
    check(f->find(k) == &v);
    sink = sink + touch(v, in);
  }
  for (const auto& t : f->tensors()) {
    check(inside(t.name, in) && f->find_tensor(t.name) == &t);
    check(t.data.size() == t.n_bytes && inside(t.data, in));
    check(t.offset % f->alignment() == 0);
    if (!t.data.empty()) sink = sink + static_cast<uint64_t>(t.data.front() ^ t.data.back());
    sink = sink + t.row_bytes();
  }

  // Round trip: re-encode and parse again. Skipped for huge alignments (valid, but the re-encoded
  // file would be mostly padding: general.alignment = 2^27 means a 128 MiB buffer).
  if (f->alignment() > 4096) return 0;
  uma::gguf::writer w;
  for (const auto& [k, v] : f->metadata()) w.set_value(k, v);
  for (const auto& t : f->tensors())
    check(w.add_tensor_bytes(t.name, t.type, std::span(t.ne, t.n_dims), t.data).ok());
  auto bytes = w.write_to_memory();
  check(bytes.ok());
  auto g = uma::gguf::file::parse(*bytes);
  check(g.ok());
  check(g->metadata().size() == f->metadata().size());
  for (size_t k = 0; k < f->metadata().size(); ++k) {
    check(g->metadata()[k].first == f->metadata()[k].first);
    check(same_value(g->metadata()[k].second, f->metadata()[k].second));
  }
  check(g->tensors().size() == f->tensors().size());
  for (size_t k = 0; k < f->tensors().size(); ++k) {
    const auto& a = f->tensors()[k];
    const auto& b = g->tensors()[k];
    check(a.name == b.name && a.type == b.type && a.n_dims == b.n_dims);
    check(std::memcmp(a.ne, b.ne, sizeof(a.ne)) == 0);
    check(std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end()));
  }
  return 0;
}
