// GGUF reader: one pass over the header that checks every length and count against the bytes that
// are actually left before reserving or indexing anything, so a malformed or hostile file yields a
// clear error (naming the key or tensor) instead of a crash, an out-of-bounds read or a huge
// allocation. Metadata strings and numeric arrays, and tensor data, are views into the mapping.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "gguf/gguf.h"
#include "util/checked.h"

namespace uma::gguf {

namespace {

// Smallest encodings, used to bound counts by the bytes left before anything is reserved.
constexpr uint64_t min_kv_bytes = 8 + 1 + 4 + 1;                   // key len, 1-byte key, type, u8
constexpr uint64_t min_tensor_info_bytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, 1 dim, type, off
constexpr uint64_t min_nested_array_bytes = 4 + 8;                 // elem type + count
constexpr uint64_t max_key_bytes = 65535;                          // spec: keys < 2^16 bytes

uint64_t scalar_size(value_type t) {
  switch (t) {
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
      return 0;  // string, array: variable
  }
}

bool known_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(value_type::f64);
}

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

// Untrusted names and keys in error messages: printable ASCII, escaped otherwise, and bounded.
std::string printable(std::string_view s) {
  std::string out;
  const size_t limit = 80;
  for (size_t i = 0; i < s.size() && i < limit; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
      out.push_back(static_cast<char>(c));
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > limit) out += fmt::format("...({} bytes)", s.size());
  return out;
}

const char* value_type_name(value_type t) {
  switch (t) {
    case value_type::u8:
      return "u8";
    case value_type::i8:
      return "i8";
    case value_type::u16:
      return "u16";
    case value_type::i16:
      return "i16";
    case value_type::u32:
      return "u32";
    case value_type::i32:
      return "i32";
    case value_type::f32:
      return "f32";
    case value_type::boolean:
      return "bool";
    case value_type::string:
      return "string";
    case value_type::array:
      return "array";
    case value_type::u64:
      return "u64";
    case value_type::i64:
      return "i64";
    case value_type::f64:
      return "f64";
  }
  return "unknown";
}

size_t tensor_info::row_bytes() const {
  return bytes_for(type, static_cast<uint64_t>(ne[0])).value_or(0);
}

class parser {
 public:
  explicit parser(std::span<const std::byte> b) : b_(b) {}

  status run(file& f);

 private:
  std::span<const std::byte> b_;
  uint64_t pos_ = 0;

  uint64_t remaining() const { return b_.size() - pos_; }
  const std::byte* here() const { return b_.data() + pos_; }

  error truncated(const std::string& what, uint64_t need) const {
    return make_error("file truncated: {} needs {} bytes at offset {}, only {} left", what, need,
                      pos_, remaining());
  }

  template <class T>
  bool read(T& v) {
    if (remaining() < sizeof(T)) return false;
    v = load<T>(here());
    pos_ += sizeof(T);
    return true;
  }

  // A u64-length-prefixed string; `what` describes it for errors.
  status read_string(std::string_view& out, const std::string& what) {
    uint64_t len = 0;
    if (!read(len)) return truncated(what + " length", 8);
    if (len > remaining())
      return make_error("{}: length {} runs past the end of the file ({} bytes left at offset {})",
                        what, len, remaining(), pos_);
    out = std::string_view(reinterpret_cast<const char*>(here()), len);
    pos_ += len;
    return {};
  }

  status read_value(value& v, std::string_view key, int depth);
  status read_array(value& v, std::string_view key, int depth);
};

status parser::read_value(value& v, std::string_view key, int depth) {
  auto ctx = [&] { return fmt::format("metadata key '{}'", printable(key)); };
  switch (v.type) {
    case value_type::string:
      return read_string(v.str, ctx() + " string value");
    case value_type::array:
      return read_array(v, key, depth + 1);
    default:
      break;
  }
  const uint64_t size = scalar_size(v.type);
  if (remaining() < size) return truncated(ctx() + " value", size);
  const std::byte* p = here();
  switch (v.type) {
    case value_type::u8:
      v.u = load<uint8_t>(p);
      break;
    case value_type::i8:
      v.i = load<int8_t>(p);
      break;
    case value_type::u16:
      v.u = load<uint16_t>(p);
      break;
    case value_type::i16:
      v.i = load<int16_t>(p);
      break;
    case value_type::u32:
      v.u = load<uint32_t>(p);
      break;
    case value_type::i32:
      v.i = load<int32_t>(p);
      break;
    case value_type::u64:
      v.u = load<uint64_t>(p);
      break;
    case value_type::i64:
      v.i = load<int64_t>(p);
      break;
    case value_type::f32:
      v.f = load<float>(p);
      break;
    case value_type::f64:
      v.f = load<double>(p);
      break;
    case value_type::boolean:
      v.u = load<uint8_t>(p) != 0 ? 1 : 0;
      break;
    default:
      return make_error("{}: unknown value type {}", ctx(), static_cast<uint32_t>(v.type));
  }
  pos_ += size;
  return {};
}

status parser::read_array(value& v, std::string_view key, int depth) {
  auto ctx = [&] { return fmt::format("metadata key '{}'", printable(key)); };
  if (depth > max_array_nesting)
    return make_error("{}: arrays nested deeper than {} levels", ctx(), max_array_nesting);
  uint32_t elem = 0;
  if (!read(elem)) return truncated(ctx() + " array element type", 4);
  if (!known_value_type(elem)) return make_error("{}: unknown array element type {}", ctx(), elem);
  v.elem_type = static_cast<value_type>(elem);
  if (!read(v.count)) return truncated(ctx() + " array length", 8);
  const uint64_t n = v.count;
  if (v.elem_type == value_type::string) {
    if (n > remaining() / 8)
      return make_error("{}: array of {} strings runs past the end of the file", ctx(), n);
    v.strs.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t len = 0;
      if (!read(len)) return truncated(fmt::format("{} string #{} length", ctx(), i), 8);
      if (len > remaining())
        return make_error("{}: string #{} length {} runs past the end of the file", ctx(), i, len);
      v.strs.emplace_back(reinterpret_cast<const char*>(here()), len);
      pos_ += len;
    }
    return {};
  }
  if (v.elem_type == value_type::array) {
    if (n > remaining() / min_nested_array_bytes)
      return make_error("{}: array of {} arrays runs past the end of the file", ctx(), n);
    if (depth + 1 > max_array_nesting)
      return make_error("{}: arrays nested deeper than {} levels", ctx(), max_array_nesting);
    // Not reserved: each child consumes at least 12 bytes, so growth is bounded by the file.
    for (uint64_t i = 0; i < n; ++i) {
      value child;
      child.type = value_type::array;
      UMA_TRY(read_array(child, key, depth + 1));
      v.items.push_back(std::move(child));
    }
    return {};
  }
  const uint64_t size = scalar_size(v.elem_type);
  auto bytes = checked_mul(n, size);
  if (!bytes || *bytes > remaining())
    return make_error("{}: array of {} {} elements runs past the end of the file", ctx(), n,
                      value_type_name(v.elem_type));
  v.raw = std::span<const std::byte>(here(), *bytes);
  pos_ += *bytes;
  return {};
}

status parser::run(file& f) {
  uint32_t magic_v = 0;
  if (!read(magic_v)) return truncated("header magic", 4);
  if (magic_v != magic) {
    return make_error("bad magic 0x{:08x} (expected 0x{:08x} \"GGUF\"): not a GGUF file", magic_v,
                      magic);
  }
  uint32_t version = 0;
  if (!read(version)) return truncated("header version", 4);
  if (version != 2 && version != 3) {
    if (__builtin_bswap32(version) == 2 || __builtin_bswap32(version) == 3)
      return make_error("big-endian GGUF files are not supported");
    return make_error("unsupported GGUF version {} (supported: 2, 3)", version);
  }
  f.version_ = version;
  uint64_t n_tensors = 0, n_kv = 0;
  if (!read(n_tensors)) return truncated("header tensor count", 8);
  if (!read(n_kv)) return truncated("header metadata count", 8);
  if (n_tensors > remaining() / min_tensor_info_bytes)
    return make_error("tensor count {} is larger than the file could hold ({} bytes)", n_tensors,
                      b_.size());
  if (n_kv > remaining() / min_kv_bytes)
    return make_error("metadata count {} is larger than the file could hold ({} bytes)", n_kv,
                      b_.size());
  if (auto need = checked_add(n_tensors * min_tensor_info_bytes, n_kv * min_kv_bytes);
      !need || *need > remaining())
    return make_error("{} tensors and {} metadata keys are more than the file could hold",
                      n_tensors, n_kv);

  // Metadata.
  f.kv_.reserve(n_kv);
  f.kv_index_.reserve(n_kv);
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string_view key;
    UMA_TRY(read_string(key, fmt::format("metadata key #{}", k)));
    if (key.empty()) return make_error("metadata key #{} is empty", k);
    if (key.size() > max_key_bytes)
      return make_error("metadata key #{} is {} bytes long (limit {})", k, key.size(),
                        max_key_bytes);
    if (f.kv_index_.count(key) != 0)
      return make_error("duplicate metadata key '{}'", printable(key));
    uint32_t type = 0;
    if (!read(type)) return truncated(fmt::format("metadata key '{}' type", printable(key)), 4);
    if (!known_value_type(type))
      return make_error("metadata key '{}': unknown value type {}", printable(key), type);
    value v;
    v.type = static_cast<value_type>(type);
    UMA_TRY(read_value(v, key, 0));
    f.kv_index_.emplace(key, f.kv_.size());
    f.kv_.emplace_back(key, std::move(v));
  }

  // Alignment (before tensor offsets are checked against it).
  if (const value* a = f.find("general.alignment")) {
    if (a->type != value_type::u32)
      return make_error("general.alignment has type {} (must be u32)", value_type_name(a->type));
    if (!is_pow2(a->u)) return make_error("general.alignment {} is not a power of two", a->u);
    f.alignment_ = a->u;
  }

  // Tensor infos.
  f.tensors_.reserve(n_tensors);
  f.tensor_index_.reserve(n_tensors);
  for (uint64_t t = 0; t < n_tensors; ++t) {
    tensor_info ti;
    UMA_TRY(read_string(ti.name, fmt::format("tensor #{} name", t)));
    if (ti.name.empty()) return make_error("tensor #{} has an empty name", t);
    const std::string name = printable(ti.name);
    if (f.tensor_index_.count(ti.name) != 0) return make_error("duplicate tensor name '{}'", name);
    uint32_t n_dims = 0;
    if (!read(n_dims)) return truncated(fmt::format("tensor '{}' n_dims", name), 4);
    if (n_dims < 1 || n_dims > static_cast<uint32_t>(max_dims))
      return make_error("tensor '{}': n_dims {} out of range (1..{})", name, n_dims, max_dims);
    ti.n_dims = static_cast<int>(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (!read(dim)) return truncated(fmt::format("tensor '{}' dimension {}", name, d), 8);
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return make_error("tensor '{}': dimension {} is negative ({})", name, d,
                          static_cast<int64_t>(dim));
      ti.ne[d] = static_cast<int64_t>(dim);
      auto m = checked_mul(n_elements, dim);
      if (!m || *m > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return make_error("tensor '{}': element count overflows 64 bits", name);
      n_elements = *m;
    }
    ti.n_elements = n_elements;
    uint32_t type_id = 0;
    if (!read(type_id)) return truncated(fmt::format("tensor '{}' type", name), 4);
    const dtype_traits* tr = find_dtype(type_id);
    if (tr == nullptr) return make_error("tensor '{}': unknown type id {}", name, type_id);
    ti.type = tr->type;
    if (static_cast<uint64_t>(ti.ne[0]) % tr->block_elems != 0)
      return make_error("tensor '{}': row length {} is not a multiple of the {} block size {}",
                        name, ti.ne[0], tr->name, tr->block_elems);
    auto nb = bytes_for(ti.type, n_elements);
    if (!nb) return make_error("tensor '{}': byte count overflows 64 bits", name);
    ti.n_bytes = *nb;
    if (!read(ti.offset)) return truncated(fmt::format("tensor '{}' data offset", name), 8);
    if (ti.offset % f.alignment_ != 0)
      return make_error("tensor '{}': data offset {} is not a multiple of the alignment {}", name,
                        ti.offset, f.alignment_);
    f.tensor_index_.emplace(ti.name, f.tensors_.size());
    f.tensors_.push_back(ti);
  }

  // Data section: starts at the next multiple of the alignment. Vocab-only files (no tensors) may
  // end right after the header without padding.
  f.data_offset_ = align_up(pos_, f.alignment_);
  if (f.tensors_.empty()) return {};
  if (f.data_offset_ > b_.size())
    return make_error("data section starts at {} past the end of the file ({} bytes)",
                      f.data_offset_, b_.size());
  const uint64_t data_size = b_.size() - f.data_offset_;
  for (auto& ti : f.tensors_) {
    if (ti.offset > data_size || ti.n_bytes > data_size - ti.offset)
      return make_error(
          "tensor '{}': data [{}, {}) runs past the end of the file (data section is {} bytes)",
          printable(ti.name), ti.offset, ti.offset + ti.n_bytes, data_size);
    ti.data = b_.subspan(f.data_offset_ + ti.offset, ti.n_bytes);
  }
  std::vector<uint32_t> order(f.tensors_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const auto& prev = f.tensors_[order[i - 1]];
    const auto& cur = f.tensors_[order[i]];
    if (cur.n_bytes != 0 && prev.n_bytes != 0 && cur.offset < prev.offset + prev.n_bytes)
      return make_error("tensor '{}': data at offset {} overlaps tensor '{}' [{}, {})",
                        printable(cur.name), cur.offset, printable(prev.name), prev.offset,
                        prev.offset + prev.n_bytes);
  }
  return {};
}

result<file> file::parse(std::span<const std::byte> bytes) {
  file f;
  f.bytes_ = bytes;
  parser p(bytes);
  status st = p.run(f);
  if (!st.ok()) return make_error("gguf: {}", st.message());
  return f;
}

result<file> file::open(const std::string& path) {
  auto m = mapped_file::open(path);
  if (!m.ok()) return m.err();
  auto map = std::make_shared<mapped_file>(std::move(m).value());
  file f;
  f.bytes_ = map->bytes();
  f.map_ = map;
  f.path_ = path;
  parser p(f.bytes_);
  status st = p.run(f);
  if (!st.ok()) return make_error("{}: gguf: {}", path, st.message());
  return f;
}

const value* file::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<std::string_view> file::get_string(std::string_view key) const {
  const value* v = find(key);
  return v ? v->as_string() : std::nullopt;
}
std::optional<int64_t> file::get_int(std::string_view key) const {
  const value* v = find(key);
  return v ? v->as_int() : std::nullopt;
}
std::optional<uint64_t> file::get_uint(std::string_view key) const {
  const value* v = find(key);
  return v ? v->as_uint() : std::nullopt;
}
std::optional<double> file::get_double(std::string_view key) const {
  const value* v = find(key);
  return v ? v->as_double() : std::nullopt;
}
std::optional<bool> file::get_bool(std::string_view key) const {
  const value* v = find(key);
  return v ? v->as_bool() : std::nullopt;
}

std::string_view file::architecture() const {
  return get_string("general.architecture").value_or(std::string_view{});
}

const tensor_info* file::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void file::prefetch() const {
  if (map_) map_->advise_willneed();
}

void file::release(std::span<const std::byte> range) const {
  if (map_) map_->release(range.data(), range.size());
}

size_t file::huge_mapped_bytes() const {
  return map_ ? map_->huge_mapped_bytes() : 0;
}

}  // namespace uma::gguf
