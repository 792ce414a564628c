// Typed access to GGUF metadata values: checked scalar conversions (a u64 that does not fit int64
// is not silently wrapped) and element reads from packed little-endian numeric arrays, which may be
// unaligned inside the mapping and so are read with memcpy.
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace uma::gguf {

namespace {

template <class T>
T load_at(std::span<const std::byte> raw, uint64_t idx) {
  T v;
  assert((idx + 1) * sizeof(T) <= raw.size());
  std::memcpy(&v, raw.data() + idx * sizeof(T), sizeof(T));
  return v;
}

bool is_unsigned(value_type t) {
  return t == value_type::u8 || t == value_type::u16 || t == value_type::u32 ||
         t == value_type::u64;
}
bool is_signed(value_type t) {
  return t == value_type::i8 || t == value_type::i16 || t == value_type::i32 ||
         t == value_type::i64;
}

// Float to int64 without undefined behaviour: NaN -> 0, out of range -> the nearest limit.
int64_t saturate(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

}  // namespace

bool value::is_integer() const {
  return is_unsigned(type) || is_signed(type);
}

std::optional<int64_t> value::as_int() const {
  if (is_signed(type)) return i;
  if (is_unsigned(type) && u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(u);
  return std::nullopt;
}

std::optional<uint64_t> value::as_uint() const {
  if (is_unsigned(type)) return u;
  if (is_signed(type) && i >= 0) return static_cast<uint64_t>(i);
  return std::nullopt;
}

std::optional<double> value::as_double() const {
  if (is_float()) return f;
  if (is_signed(type)) return static_cast<double>(i);
  if (is_unsigned(type)) return static_cast<double>(u);
  return std::nullopt;
}

std::optional<bool> value::as_bool() const {
  if (type == value_type::boolean) return u != 0;
  return std::nullopt;
}

std::optional<std::string_view> value::as_string() const {
  if (type == value_type::string) return str;
  return std::nullopt;
}

double value::array_double(uint64_t idx) const {
  switch (elem_type) {
    case value_type::f32:
      return load_at<float>(raw, idx);
    case value_type::f64:
      return load_at<double>(raw, idx);
    case value_type::u64:
      return static_cast<double>(load_at<uint64_t>(raw, idx));
    default:
      return static_cast<double>(array_int(idx));
  }
}

int64_t value::array_int(uint64_t idx) const {
  switch (elem_type) {
    case value_type::u8:
      return load_at<uint8_t>(raw, idx);
    case value_type::i8:
      return load_at<int8_t>(raw, idx);
    case value_type::boolean:
      return load_at<uint8_t>(raw, idx) != 0 ? 1 : 0;
    case value_type::u16:
      return load_at<uint16_t>(raw, idx);
    case value_type::i16:
      return load_at<int16_t>(raw, idx);
    case value_type::u32:
      return load_at<uint32_t>(raw, idx);
    case value_type::i32:
      return load_at<int32_t>(raw, idx);
    case value_type::u64:
      return static_cast<int64_t>(load_at<uint64_t>(raw, idx));
    case value_type::i64:
      return load_at<int64_t>(raw, idx);
    case value_type::f32:
      return saturate(load_at<float>(raw, idx));
    case value_type::f64:
      return saturate(load_at<double>(raw, idx));
    default:
      return 0;  // strings and arrays have no numeric elements
  }
}

std::vector<float> value::array_floats() const {
  std::vector<float> out;
  if (!is_array() || scalar_elem_size() == 0 || count == 0) return out;
  out.resize(count);
  if (elem_type == value_type::f32) {
    std::memcpy(out.data(), raw.data(), count * sizeof(float));
  } else {
    for (uint64_t k = 0; k < count; ++k) out[k] = static_cast<float>(array_double(k));
  }
  return out;
}

std::vector<int32_t> value::array_i32s() const {
  std::vector<int32_t> out;
  if (!is_array() || scalar_elem_size() == 0 || count == 0) return out;
  out.resize(count);
  if (elem_type == value_type::i32) {
    std::memcpy(out.data(), raw.data(), count * sizeof(int32_t));
  } else {
    for (uint64_t k = 0; k < count; ++k) out[k] = static_cast<int32_t>(array_int(k));
  }
  return out;
}

size_t value::scalar_elem_size() const {
  switch (elem_type) {
    case value_type::u8:
    case value_type::i8:
    case value_type::boolean:
      return 1;
    case value_type::u16:
    case value_type::i16:
      return 2;
    case value_type::u32:
    case value_type::i32:
    case value_type::f32:
      return 4;
    case value_type::u64:
    case value_type::i64:
    case value_type::f64:
      return 8;
    default:
      return 0;
  }
}

}  // namespace uma::gguf
