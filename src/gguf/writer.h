// GGUF v3 writer: metadata and tensors with correct alignment. Tensor bytes can be produced lazily
// by a callback so multi-GB files (uma synth, uma quantize) are streamed, never held in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"
#include "util/status.h"

namespace uma::gguf {

class writer {
 public:
  // Scalars. Setting a key twice replaces the earlier value (keys stay unique).
  void set_u8(std::string_view key, uint8_t v);
  void set_i8(std::string_view key, int8_t v);
  void set_u16(std::string_view key, uint16_t v);
  void set_i16(std::string_view key, int16_t v);
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_i64(std::string_view key, int64_t v);
  void set_f32(std::string_view key, float v);
  void set_f64(std::string_view key, double v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  // Arrays.
  void set_array_string(std::string_view key, const std::vector<std::string>& v);
  void set_array_string(std::string_view key, std::span<const std::string_view> v);
  void set_array_f32(std::string_view key, std::span<const float> v);
  void set_array_i32(std::string_view key, std::span<const int32_t> v);
  void set_array_u32(std::string_view key, std::span<const uint32_t> v);
  void set_array_u8(std::string_view key, std::span<const uint8_t> v);
  // Any value (incl. nested arrays), e.g. copied from a file being converted.
  void set_value(std::string_view key, const value& v);
  void set_alignment(uint32_t alignment);  // also writes general.alignment
  // (set_u32 / set_value of "general.alignment" also set the alignment; write() rejects one that is
  // not a power of two.)

  // Tensors: shape in ggml order (ne[0] = row length). `fill` writes exactly the tensor's byte size
  // into the span it is given; it is called once, in add order, during write().
  using fill_fn = std::function<status(std::span<std::byte>)>;
  status add_tensor(std::string_view name, dtype type, std::span<const int64_t> ne, fill_fn fill);
  // Convenience: copy bytes the caller keeps alive until write().
  status add_tensor_bytes(std::string_view name, dtype type, std::span<const int64_t> ne,
                          std::span<const std::byte> bytes);

  // Writes the file (to `path`.tmp, then renamed), streaming tensor data.
  status write(const std::string& path) const;
  // Writes to memory (tests, fuzz seeds).
  result<std::vector<std::byte>> write_to_memory() const;

 private:
  struct layout_info {
    std::vector<std::byte> header;  // everything before the data section
    uint64_t data_offset = 0;       // header size rounded up to the alignment
    std::vector<uint64_t> offsets;  // per tensor, relative to the data section
    uint64_t total = 0;             // file size
  };
  result<layout_info> plan() const;
  std::vector<std::pair<std::string, std::vector<std::byte>>> kv_;  // key -> encoded type+value
  struct pending_tensor {
    std::string name;
    dtype type;
    std::vector<int64_t> ne;
    uint64_t n_bytes;
    fill_fn fill;
  };
  std::vector<pending_tensor> tensors_;
  uint32_t alignment_ = default_alignment;
  void put(std::string_view key, std::vector<std::byte> encoded);
};

}  // namespace uma::gguf
