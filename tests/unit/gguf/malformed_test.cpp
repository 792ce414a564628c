// Every class of malformed GGUF the reader must reject cleanly, each built byte by byte here:
// the parse fails (no crash, no read past the end: buffers are exactly sized so ASan builds catch
// one) with a message that names the problem and the offending key or tensor.
#include <gtest/gtest.h>

#include <initializer_list>

#include "gguf/writer.h"
#include "gguf_bytes.h"
#include "test_util.h"

namespace uma::gguf {
namespace {

using test::gguf_bytes;
using test::parse_result;

constexpr uint32_t f32_id = 0, q4_0_id = 2;

// Fails, and the message contains each of `parts`.
void expect_error(const gguf_bytes& g, std::initializer_list<std::string_view> parts) {
  std::string msg = parse_result(g.span());
  ASSERT_NE(msg, "OK") << "expected an error containing '" << *parts.begin() << "'";
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  for (auto p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

// One tensor 'w' (f32 32x2 = 256 bytes) and one key; the reference the cases below corrupt.
gguf_bytes valid_file(uint32_t version = 3) {
  gguf_bytes g;
  g.header(1, 1, version).kv_string("general.architecture", "llama");
  g.tensor("w", {32, 2}, f32_id, 0).pad_to(32).zeros(256);
  return g;
}

TEST(gguf_malformed, baseline_is_valid_v2_and_v3) {
  EXPECT_EQ(parse_result(valid_file(3).span()), "OK");
  EXPECT_EQ(parse_result(valid_file(2).span()), "OK");
}

TEST(gguf_malformed, bad_magic) {
  gguf_bytes g = valid_file();
  g.b[0] = std::byte{'X'};
  expect_error(g, {"bad magic", "not a GGUF file"});
}

TEST(gguf_malformed, unknown_versions) {
  expect_error(valid_file(1), {"unsupported GGUF version 1"});
  expect_error(valid_file(4), {"unsupported GGUF version 4"});
  expect_error(valid_file(0xffffffffu), {"unsupported GGUF version 4294967295"});
  expect_error(valid_file(0x03000000u), {"big-endian"});
}

TEST(gguf_malformed, empty_and_tiny_inputs) {
  expect_error(gguf_bytes{}, {"truncated", "magic"});
  gguf_bytes g;
  g.u32(magic);
  expect_error(g, {"truncated", "version"});
  g.u32(3);
  expect_error(g, {"truncated", "tensor count"});
  g.u64(0);
  expect_error(g, {"truncated", "metadata count"});
  g.u64(0);
  EXPECT_EQ(parse_result(g.span()), "OK");  // no keys, no tensors: valid (if useless)
}

// A rich valid file (all value types, nested arrays, several tensors) cut at every length: every
// prefix shorter than the end of the last tensor's data is rejected, every longer one accepted.
TEST(gguf_malformed, truncated_at_every_byte) {
  writer w;
  w.set_string("general.architecture", "llama");
  w.set_u8("a.u8", 1);
  w.set_i8("a.i8", -1);
  w.set_u16("a.u16", 2);
  w.set_i16("a.i16", -2);
  w.set_u32("a.u32", 3);
  w.set_i32("a.i32", -3);
  w.set_u64("a.u64", 4);
  w.set_i64("a.i64", -4);
  w.set_f32("a.f32", 0.5f);
  w.set_f64("a.f64", 0.25);
  w.set_bool("a.bool", false);
  w.set_array_string("a.strs", std::vector<std::string>{"ab", "", "cde"});
  const float fl[] = {1, 2, 3};
  w.set_array_f32("a.f32s", fl);
  value inner;
  inner.type = value_type::array;
  inner.elem_type = value_type::string;
  inner.strs = {"x", "yy"};
  value outer;
  outer.type = value_type::array;
  outer.elem_type = value_type::array;
  outer.items = {inner, inner};
  w.set_value("a.nested", outer);
  w.set_alignment(16);
  const int64_t ne1[] = {4, 3}, ne2[] = {32}, ne3[] = {5};
  std::vector<std::byte> d1(48, std::byte{1}), d2(34, std::byte{2}), d3(10, std::byte{3});
  ASSERT_TRUE(w.add_tensor_bytes("t1", dtype::f32, ne1, d1).ok());
  ASSERT_TRUE(w.add_tensor_bytes("t2", dtype::q8_0, ne2, d2).ok());
  ASSERT_TRUE(w.add_tensor_bytes("t3", dtype::f16, ne3, d3).ok());
  auto full = w.write_to_memory();
  ASSERT_TRUE(full.ok());
  auto f = file::parse(*full);
  ASSERT_TRUE(f.ok()) << f.message();
  uint64_t needed = 0;
  for (const auto& t : f->tensors())
    needed = std::max(needed, f->data_offset() + t.offset + t.n_bytes);
  ASSERT_LE(needed, full->size());
  for (size_t len = 0; len <= full->size(); ++len) {
    std::string msg = parse_result(std::span(full->data(), len));
    if (len < needed)
      EXPECT_NE(msg, "OK") << "prefix of " << len << " bytes accepted";
    else
      EXPECT_EQ(msg, "OK") << "prefix of " << len << " bytes";
  }
}

TEST(gguf_malformed, counts_larger_than_the_file) {
  gguf_bytes g;
  g.header(1ull << 40, 0);
  expect_error(g, {"tensor count 1099511627776", "larger than the file"});
  gguf_bytes k;
  k.header(0, ~0ull).kv_u32("a", 1);
  expect_error(k, {"metadata count 18446744073709551615", "larger than the file"});
  // Each count fits alone, both together do not.
  gguf_bytes both;
  both.header(2, 3).zeros(2 * 33 + 2 * 14);
  expect_error(both, {"more than the file could hold"});
}

TEST(gguf_malformed, string_lengths_past_the_end) {
  gguf_bytes key;
  key.header(0, 1).u64(1000).zeros(20);
  expect_error(key, {"metadata key #0", "runs past the end"});
  gguf_bytes val;
  val.header(0, 1).str("general.name").type(value_type::string).u64(~0ull - 3).zeros(8);
  expect_error(val, {"general.name", "runs past the end"});
  gguf_bytes name;
  name.header(1, 0).u64(500).zeros(40);
  expect_error(name, {"tensor #0 name", "runs past the end"});
}

TEST(gguf_malformed, array_lengths_past_the_end) {
  gguf_bytes nums;
  nums.header(0, 1).str("scores").type(value_type::array).type(value_type::f32).u64(1ull << 62);
  nums.zeros(16);
  expect_error(nums, {"scores", "array of 4611686018427387904 f32", "past the end"});
  gguf_bytes overflow;  // count * 8 overflows 64 bits
  overflow.header(0, 1).str("big").type(value_type::array).type(value_type::u64).u64(~0ull / 4);
  overflow.zeros(16);
  expect_error(overflow, {"big", "past the end"});
  gguf_bytes strs;
  strs.header(0, 1).str("tokens").type(value_type::array).type(value_type::string).u64(1u << 30);
  strs.str("a").str("b");
  expect_error(strs, {"tokens", "array of 1073741824 strings"});
  gguf_bytes str_elem;  // the count fits, one element's length does not
  str_elem.header(0, 1).str("tokens").type(value_type::array).type(value_type::string).u64(2);
  str_elem.str("a").u64(100).zeros(10);
  expect_error(str_elem, {"tokens", "string #1", "past the end"});
  gguf_bytes arrs;
  arrs.header(0, 1).str("nest").type(value_type::array).type(value_type::array).u64(1000);
  arrs.zeros(100);
  expect_error(arrs, {"nest", "array of 1000 arrays"});
}

TEST(gguf_malformed, arrays_nested_too_deep) {
  auto nested = [](int depth) {
    gguf_bytes g;
    g.header(0, 1).str("deep").type(value_type::array);
    for (int d = 1; d < depth; ++d) g.type(value_type::array).u64(1);
    g.type(value_type::u8).u64(1).u8(7);
    return g;
  };
  EXPECT_EQ(parse_result(nested(max_array_nesting).span()), "OK");
  expect_error(nested(max_array_nesting + 1), {"deep", "nested deeper than 8"});
  expect_error(nested(10000), {"deep", "nested deeper"});
}

TEST(gguf_malformed, duplicate_keys_and_tensor_names) {
  gguf_bytes keys;
  keys.header(0, 2).kv_u32("llama.block_count", 1).kv_string("llama.block_count", "x");
  expect_error(keys, {"duplicate metadata key 'llama.block_count'"});
  gguf_bytes tensors;
  tensors.header(2, 0).tensor("blk.0.w", {32}, f32_id, 0).tensor("blk.0.w", {32}, f32_id, 128);
  tensors.pad_to(32).zeros(256);
  expect_error(tensors, {"duplicate tensor name 'blk.0.w'"});
}

TEST(gguf_malformed, empty_names_and_unknown_value_types) {
  gguf_bytes key;
  key.header(0, 1).str("").type(value_type::u8).u8(0).zeros(8);
  expect_error(key, {"metadata key #0 is empty"});
  gguf_bytes name;
  name.header(1, 0).tensor("", {32}, f32_id, 0).pad_to(32).zeros(128);
  expect_error(name, {"tensor #0 has an empty name"});
  gguf_bytes type;
  type.header(0, 1).str("odd").u32(13).zeros(8);
  expect_error(type, {"'odd'", "unknown value type 13"});
  gguf_bytes elem;
  elem.header(0, 1).str("odd").type(value_type::array).u32(99).u64(0);
  expect_error(elem, {"'odd'", "unknown array element type 99"});
}

// Keys are shorter than 2^16 bytes (the spec); one byte more is rejected, the longest one loads.
TEST(gguf_malformed, metadata_key_too_long) {
  gguf_bytes longest;
  longest.header(0, 1).str(std::string(65535, 'k')).type(value_type::u8).u8(1);
  EXPECT_EQ(parse_result(longest.span()), "OK");
  gguf_bytes over;
  over.header(0, 1).str(std::string(65536, 'k')).type(value_type::u8).u8(1);
  expect_error(over, {"metadata key #0 is 65536 bytes long (limit 65535)"});
}

TEST(gguf_malformed, n_dims_out_of_range) {
  gguf_bytes zero;
  zero.header(1, 0).str("w").u32(0).u32(f32_id).u64(0).pad_to(32).zeros(32);
  expect_error(zero, {"'w'", "n_dims 0 out of range"});
  gguf_bytes five;
  five.header(1, 0).tensor("w", {1, 1, 1, 1, 1}, f32_id, 0).pad_to(32).zeros(32);
  expect_error(five, {"'w'", "n_dims 5 out of range"});
  gguf_bytes huge;
  huge.header(1, 0).str("w").u32(0xffffffffu).zeros(40);
  expect_error(huge, {"'w'", "n_dims 4294967295"});
}

TEST(gguf_malformed, negative_and_overflowing_dimensions) {
  gguf_bytes neg;
  neg.header(1, 0).tensor("w", {32, static_cast<uint64_t>(-5)}, f32_id, 0).pad_to(32).zeros(64);
  expect_error(neg, {"'w'", "dimension 1 is negative (-5)"});
  gguf_bytes elems;  // 2^32 * 2^32 elements
  elems.header(1, 0).tensor("w", {1ull << 32, 1ull << 32}, f32_id, 0).pad_to(32).zeros(64);
  expect_error(elems, {"'w'", "element count overflows"});
  gguf_bytes bytes;  // 2^62 f32 elements: the count fits, the byte count (2^64) does not
  bytes.header(1, 0).tensor("w", {1ull << 31, 1ull << 31}, f32_id, 0).pad_to(32).zeros(64);
  expect_error(bytes, {"'w'", "byte count overflows"});
}

TEST(gguf_malformed, unknown_type_and_partial_blocks) {
  for (uint32_t id : {4u, 5u, 31u, 1000u}) {
    gguf_bytes g;
    g.header(1, 0).tensor("w", {32}, id, 0).pad_to(32).zeros(128);
    expect_error(g, {"'w'", fmt::format("unknown type id {}", id)});
  }
  gguf_bytes row;
  row.header(1, 0).tensor("blk.0.attn_q.weight", {48, 2}, q4_0_id, 0).pad_to(32).zeros(128);
  expect_error(row, {"'blk.0.attn_q.weight'", "row length 48", "block size 32"});
}

TEST(gguf_malformed, alignment_value_and_type) {
  for (uint32_t a : {0u, 3u, 48u}) {
    gguf_bytes g;
    g.header(0, 1).kv_u32("general.alignment", a);
    expect_error(g, {"general.alignment", fmt::format("{} is not a power of two", a)});
  }
  gguf_bytes u64;
  u64.header(0, 1).str("general.alignment").type(value_type::u64).u64(32);
  expect_error(u64, {"general.alignment has type u64"});
  gguf_bytes str;
  str.header(0, 1).kv_string("general.alignment", "32");
  expect_error(str, {"general.alignment has type string"});
  // A huge (power of two) alignment: fine without tensors, and with one the data section would
  // start past the end of the file.
  gguf_bytes huge;
  huge.header(0, 1).kv_u32("general.alignment", 1u << 31);
  EXPECT_EQ(parse_result(huge.span()), "OK");
  gguf_bytes huge_t;
  huge_t.header(1, 1).kv_u32("general.alignment", 1u << 31).tensor("w", {8}, f32_id, 0).zeros(64);
  expect_error(huge_t, {"data section starts at 2147483648"});
  // A valid custom alignment is used for the data section.
  gguf_bytes ok;
  ok.header(1, 1).kv_u32("general.alignment", 64).tensor("w", {8}, f32_id, 0).pad_to(64).zeros(32);
  auto f = file::parse(ok.span());
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
}

TEST(gguf_malformed, tensor_offsets) {
  gguf_bytes unaligned;
  unaligned.header(1, 0).tensor("w", {8}, f32_id, 4).pad_to(32).zeros(64);
  expect_error(unaligned, {"'w'", "data offset 4 is not a multiple of the alignment 32"});
  gguf_bytes overlap;  // b starts inside a
  overlap.header(2, 0).tensor("a", {32}, f32_id, 0).tensor("b", {32}, f32_id, 96);
  overlap.pad_to(32).zeros(256);
  expect_error(overlap, {"'b'", "overlaps tensor 'a'"});
  gguf_bytes same;  // identical ranges
  same.header(2, 0).tensor("a", {8}, f32_id, 32).tensor("b", {8}, f32_id, 32).pad_to(32).zeros(64);
  expect_error(same, {"overlaps"});
  gguf_bytes past;
  past.header(1, 0).tensor("w", {32}, f32_id, 64).pad_to(32).zeros(128);
  expect_error(past, {"'w'", "runs past the end of the file"});
  gguf_bytes far;  // offset + size overflows 64 bits
  far.header(1, 0).tensor("w", {32}, f32_id, ~0ull - 31).pad_to(32).zeros(128);
  expect_error(far, {"'w'", "past the end"});
  gguf_bytes no_data;  // header only: the data section would start past the end
  no_data.header(1, 0).tensor("w", {32}, f32_id, 0);
  no_data.b.resize(no_data.b.size() + 3);
  expect_error(no_data, {"data section starts at"});
  // Gaps between tensors are allowed (only overlap is an error).
  gguf_bytes gap;
  gap.header(2, 0).tensor("a", {8}, f32_id, 0).tensor("b", {8}, f32_id, 256).pad_to(32).zeros(288);
  EXPECT_EQ(parse_result(gap.span()), "OK");
}

TEST(gguf_malformed, names_in_errors_are_escaped) {
  gguf_bytes g;
  g.header(0, 2).kv_u32("bad\nkey\x01", 1).kv_u32("bad\nkey\x01", 1);
  std::string msg = parse_result(g.span());
  EXPECT_NE(msg.find("bad\\x0akey\\x01"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(gguf_malformed, open_names_the_path) {
  std::string dir = uma::test::temp_dir();
  auto missing = file::open(dir + "/none.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("none.gguf"), std::string::npos);
  std::string path = dir + "/bad.gguf";
  gguf_bytes g = valid_file();
  g.b.resize(40);
  {
    FILE* fp = std::fopen(path.c_str(), "wb");
    ASSERT_NE(fp, nullptr);
    std::fwrite(g.b.data(), 1, g.b.size(), fp);
    std::fclose(fp);
  }
  auto bad = file::open(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find(path), std::string::npos) << bad.message();
  EXPECT_NE(bad.message().find("larger than the file could hold"), std::string::npos)
      << bad.message();
  auto dir_open = file::open(dir);
  EXPECT_FALSE(dir_open.ok());
}

}  // namespace
}  // namespace uma::gguf
