// Byte-level GGUF builder for tests and fuzz seeds: writes exactly the fields it is told to, in
// order, so a test can produce any malformed file (wrong counts, bad lengths, odd types) that the
// real writer refuses to make.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace uma::gguf::test {

struct gguf_bytes {
  std::vector<std::byte> b;

  template <class T>
  gguf_bytes& raw(T v) {
    const size_t at = b.size();
    b.resize(at + sizeof(T));
    std::memcpy(b.data() + at, &v, sizeof(T));
    return *this;
  }
  gguf_bytes& u8(uint8_t v) { return raw(v); }
  gguf_bytes& u32(uint32_t v) { return raw(v); }
  gguf_bytes& u64(uint64_t v) { return raw(v); }
  gguf_bytes& type(value_type t) { return u32(static_cast<uint32_t>(t)); }
  gguf_bytes& str(std::string_view s) {
    u64(s.size());
    const size_t at = b.size();
    b.resize(at + s.size());
    if (!s.empty()) std::memcpy(b.data() + at, s.data(), s.size());
    return *this;
  }
  gguf_bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(magic).u32(version).u64(n_tensors).u64(n_kv);
  }
  gguf_bytes& kv_u32(std::string_view key, uint32_t v) {
    return str(key).type(value_type::u32).u32(v);
  }
  gguf_bytes& kv_string(std::string_view key, std::string_view v) {
    return str(key).type(value_type::string).str(v);
  }
  gguf_bytes& tensor(std::string_view name, std::initializer_list<uint64_t> ne, uint32_t type_id,
                     uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) u64(d);
    return u32(type_id).u64(offset);
  }
  gguf_bytes& pad_to(uint64_t alignment) {
    while (b.size() % alignment != 0) b.push_back(std::byte{0});
    return *this;
  }
  gguf_bytes& zeros(size_t n) {
    b.resize(b.size() + n);
    return *this;
  }
  std::span<const std::byte> span() const { return b; }
};

// "OK" when `bytes` parses, else the error message. The bytes are copied into an exactly sized
// heap buffer so that a read past the end is caught by AddressSanitizer builds.
inline std::string parse_result(std::span<const std::byte> bytes) {
  std::vector<std::byte> copy(bytes.begin(), bytes.end());
  auto f = file::parse(copy);
  return f.ok() ? std::string("OK") : f.message();
}

}  // namespace uma::gguf::test
