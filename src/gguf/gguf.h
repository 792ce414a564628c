// GGUF (v2, v3) reader: validates the whole header before allocating anything sized by the file,
// then exposes metadata and zero-copy tensor views into the read-only mapping.
//
// Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tensor/dtype.h"
#include "util/mapped_file.h"
#include "util/status.h"

namespace uma::gguf {

inline constexpr uint32_t magic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t default_alignment = 32;
inline constexpr int max_dims = 4;
inline constexpr int max_array_nesting = 8;  // deeper nested arrays are rejected

enum class value_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

const char* value_type_name(value_type t);

// One metadata value. Strings and arrays of numbers are views into the mapping; arrays of strings
// hold a vector of views; arrays of arrays hold child values.
struct value {
  value_type type = value_type::u8;
  // scalars
  uint64_t u = 0;        // u8/u16/u32/u64, and bool (0/1)
  int64_t i = 0;         // i8/i16/i32/i64
  double f = 0;          // f32/f64
  std::string_view str;  // string
  // arrays
  value_type elem_type = value_type::u8;
  uint64_t count = 0;                  // number of elements
  std::span<const std::byte> raw;      // numeric/bool elements, little-endian, packed
  std::vector<std::string_view> strs;  // string elements
  std::vector<value> items;            // array elements (nested arrays)

  bool is_array() const { return type == value_type::array; }
  bool is_integer() const;  // any integer scalar type (not bool)
  bool is_float() const { return type == value_type::f32 || type == value_type::f64; }

  // Checked conversions for scalars: nullopt if the type does not fit.
  std::optional<int64_t> as_int() const;    // any integer scalar whose value fits int64
  std::optional<uint64_t> as_uint() const;  // any non-negative integer scalar
  std::optional<double> as_double() const;  // floats and integers
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Numeric array element access (elem_type must be numeric/bool): element i as double / int64.
  double array_double(uint64_t idx) const;
  int64_t array_int(uint64_t idx) const;
  // Copies of a whole numeric/bool array converted to float / int32 (empty for string or nested
  // arrays). Handy for token scores and token types; the raw span may be unaligned.
  std::vector<float> array_floats() const;
  std::vector<int32_t> array_i32s() const;
  // Bytes per element of a numeric/bool array (0 for strings and nested arrays).
  size_t scalar_elem_size() const;
};

// `s` made safe for a one-line error message: printable ASCII kept, other bytes as \xNN, long
// strings cut. Keys and tensor names come from untrusted files.
std::string printable(std::string_view s);

struct tensor_info {
  std::string_view name;
  dtype type = dtype::f32;
  int n_dims = 0;
  int64_t ne[max_dims] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension, as in ggml
  uint64_t offset = 0;                  // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  std::span<const std::byte> data;  // view into the mapping

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  size_t row_bytes() const;  // bytes of one ne[0] row
};

class file {
 public:
  // Maps and parses `path`. Errors name the problem and the key or tensor involved.
  static result<file> open(const std::string& path);
  // Parses a buffer the caller keeps alive (used by tests and the fuzzer).
  static result<file> parse(std::span<const std::byte> bytes);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  std::span<const std::byte> bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

  // Metadata, in file order.
  const std::vector<std::pair<std::string_view, value>>& metadata() const { return kv_; }
  const value* find(std::string_view key) const;  // nullptr if absent
  // Typed lookups with defaults; `get_*` return nullopt when absent or of an incompatible type.
  std::optional<std::string_view> get_string(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<double> get_double(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // `general.architecture`, or "" when absent.
  std::string_view architecture() const;

  const std::vector<tensor_info>& tensors() const { return tensors_; }
  const tensor_info* find_tensor(std::string_view name) const;  // nullptr if absent

  // Advise the OS that the tensor data will be read soon.
  void prefetch() const;
  // Drop the process's pages of this range of the mapping (no-op for a caller's buffer).
  void release(std::span<const std::byte> range) const;
  // Bytes of the mapping on 2 MiB pages (mapped_file::huge_mapped_bytes; 0 for a caller's buffer).
  size_t huge_mapped_bytes() const;

 private:
  std::shared_ptr<mapped_file> map_;  // null when parsing a caller's buffer
  std::span<const std::byte> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = default_alignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, value>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<tensor_info> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
  friend class parser;
};

}  // namespace uma::gguf
