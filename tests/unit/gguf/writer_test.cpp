// reader(writer(x)) == x: every metadata value type, nested arrays, several tensor types, custom
// alignment; streaming fills land at the right offsets; the writer refuses what it cannot encode.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>

#include "gguf/writer.h"
#include "gguf_bytes.h"
#include "test_util.h"

namespace uma::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::byte>(x & 0xff);
  }
  return out;
}

value nested_value() {
  // [[1, 2, 3], [], [[ "a", "bc" ]]] as u32 / u32 / array-of-array-of-string.
  static const uint32_t nums[] = {1, 2, 3};
  value inner_nums;
  inner_nums.type = value_type::array;
  inner_nums.elem_type = value_type::u32;
  inner_nums.count = 3;
  inner_nums.raw = std::as_bytes(std::span(nums));
  value empty;
  empty.type = value_type::array;
  empty.elem_type = value_type::u32;
  value strs;
  strs.type = value_type::array;
  strs.elem_type = value_type::string;
  strs.strs = {"a", "bc"};
  strs.count = 2;
  value deep;
  deep.type = value_type::array;
  deep.elem_type = value_type::array;
  deep.items = {strs};
  deep.count = 1;
  value top;
  top.type = value_type::array;
  top.elem_type = value_type::array;
  top.items = {inner_nums, empty, deep};
  top.count = 3;
  return top;
}

void expect_same_value(const value& a, const value& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  if (!a.is_array()) {
    EXPECT_EQ(a.u, b.u) << where;
    EXPECT_EQ(a.i, b.i) << where;
    EXPECT_EQ(a.str, b.str) << where;
    if (!std::isnan(a.f)) {
      EXPECT_EQ(a.f, b.f) << where;
    }
    return;
  }
  ASSERT_EQ(a.elem_type, b.elem_type) << where;
  ASSERT_EQ(a.count, b.count) << where;
  EXPECT_TRUE(std::equal(a.raw.begin(), a.raw.end(), b.raw.begin(), b.raw.end())) << where;
  EXPECT_EQ(a.strs, b.strs) << where;
  ASSERT_EQ(a.items.size(), b.items.size()) << where;
  for (size_t k = 0; k < a.items.size(); ++k)
    expect_same_value(a.items[k], b.items[k], where + "[" + std::to_string(k) + "]");
}

struct fixture_tensor {
  std::string name;
  dtype type;
  std::vector<int64_t> ne;
  std::vector<std::byte> data;
};

std::vector<fixture_tensor> fixture_tensors() {
  std::vector<fixture_tensor> ts = {
      {"f32.weight", dtype::f32, {7, 3}, {}},      {"f16.weight", dtype::f16, {5}, {}},
      {"q8_0.weight", dtype::q8_0, {64, 3}, {}},   {"q4_k.weight", dtype::q4_k, {256, 2, 1, 2}, {}},
      {"bf16.weight", dtype::bf16, {3, 1, 2}, {}}, {"i32.tokens", dtype::i32, {11}, {}},
      {"empty.weight", dtype::f32, {0, 4}, {}},
  };
  uint32_t seed = 1;
  for (auto& t : ts) {
    uint64_t n = 1;
    for (auto d : t.ne) n *= static_cast<uint64_t>(d);
    t.data = pattern(*bytes_for(t.type, n), seed++);
  }
  return ts;
}

writer fixture_writer(const std::vector<fixture_tensor>& ts, uint32_t alignment) {
  writer w;
  w.set_string("general.architecture", "llama");
  w.set_u8("t.u8", 250);
  w.set_i8("t.i8", -100);
  w.set_u16("t.u16", 65000);
  w.set_i16("t.i16", -32000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", 18000000000000000000ull);
  w.set_i64("t.i64", -9000000000000000000ll);
  w.set_f32("t.f32", 1.5f);
  w.set_f64("t.f64", -2.25e300);
  w.set_bool("t.bool", true);
  w.set_string("t.string", std::string_view("h\0llo", 5));
  w.set_string("t.empty_string", "");
  w.set_array_string("t.strs", std::vector<std::string>{"x", "", "yz"});
  const float fs[] = {0.5f, -1.0f, 3.25f};
  w.set_array_f32("t.f32s", fs);
  const int32_t is[] = {-1, 0, 7};
  w.set_array_i32("t.i32s", is);
  const uint32_t us[] = {9, 8};
  w.set_array_u32("t.u32s", us);
  const uint8_t bs[] = {1, 2, 3, 255};
  w.set_array_u8("t.u8s", bs);
  w.set_value("t.nested", nested_value());
  w.set_u32("t.replaced", 1);
  w.set_u32("t.replaced", 2);  // replaces, stays unique
  if (alignment != default_alignment) w.set_alignment(alignment);
  for (const auto& t : ts) EXPECT_TRUE(w.add_tensor_bytes(t.name, t.type, t.ne, t.data).ok());
  return w;
}

void check_fixture(const file& f, const std::vector<fixture_tensor>& ts, uint32_t alignment) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.find("t.u8")->type, value_type::u8);
  EXPECT_EQ(f.get_uint("t.u8"), 250u);
  EXPECT_EQ(f.get_int("t.i8"), -100);
  EXPECT_EQ(f.get_uint("t.u16"), 65000u);
  EXPECT_EQ(f.get_int("t.i16"), -32000);
  EXPECT_EQ(f.get_uint("t.u32"), 4000000000u);
  EXPECT_EQ(f.get_int("t.i32"), -2000000000);
  EXPECT_EQ(f.get_uint("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("t.u64"), std::nullopt);  // does not fit int64
  EXPECT_EQ(f.get_int("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_uint("t.i64"), std::nullopt);  // negative
  EXPECT_EQ(f.get_double("t.f32"), 1.5);
  EXPECT_EQ(f.get_double("t.f64"), -2.25e300);
  EXPECT_EQ(f.get_bool("t.bool"), true);
  EXPECT_EQ(f.get_bool("t.u8"), std::nullopt);
  EXPECT_EQ(f.get_string("t.string"), std::string_view("h\0llo", 5));
  EXPECT_EQ(f.get_string("t.empty_string"), "");
  EXPECT_EQ(f.get_string("t.u32"), std::nullopt);
  EXPECT_EQ(f.get_uint("t.replaced"), 2u);
  EXPECT_EQ(f.find("absent"), nullptr);

  const value* strs = f.find("t.strs");
  ASSERT_NE(strs, nullptr);
  EXPECT_EQ(strs->elem_type, value_type::string);
  EXPECT_EQ(strs->strs, (std::vector<std::string_view>{"x", "", "yz"}));
  const value* f32s = f.find("t.f32s");
  ASSERT_NE(f32s, nullptr);
  EXPECT_EQ(f32s->count, 3u);
  EXPECT_EQ(f32s->array_double(2), 3.25);
  EXPECT_EQ(f32s->array_floats(), (std::vector<float>{0.5f, -1.0f, 3.25f}));
  EXPECT_EQ(f.find("t.i32s")->array_int(0), -1);
  EXPECT_EQ(f.find("t.i32s")->array_i32s(), (std::vector<int32_t>{-1, 0, 7}));
  EXPECT_EQ(f.find("t.u32s")->array_int(1), 8);
  EXPECT_EQ(f.find("t.u8s")->array_int(3), 255);
  expect_same_value(*f.find("t.nested"), nested_value(), "t.nested");

  ASSERT_EQ(f.tensors().size(), ts.size());
  for (size_t k = 0; k < ts.size(); ++k) {
    const auto& want = ts[k];
    const tensor_info& got = f.tensors()[k];  // file order = add order
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(f.find_tensor(want.name), &got);
    EXPECT_EQ(got.type, want.type) << want.name;
    EXPECT_EQ(got.n_dims, static_cast<int>(want.ne.size())) << want.name;
    for (size_t d = 0; d < 4; ++d)
      EXPECT_EQ(got.ne[d], d < want.ne.size() ? want.ne[d] : 1) << want.name;
    EXPECT_EQ(got.offset % alignment, 0u) << want.name;
    EXPECT_EQ(got.n_bytes, want.data.size()) << want.name;
    EXPECT_TRUE(std::equal(got.data.begin(), got.data.end(), want.data.begin(), want.data.end()))
        << want.name;
  }
}

TEST(gguf_writer, round_trip_in_memory_default_alignment) {
  auto ts = fixture_tensors();
  auto bytes = fixture_writer(ts, default_alignment).write_to_memory();
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  auto f = file::parse(*bytes);
  ASSERT_TRUE(f.ok()) << f.message();
  check_fixture(*f, ts, default_alignment);
}

TEST(gguf_writer, round_trip_file_custom_alignments) {
  auto ts = fixture_tensors();
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    std::string path = uma::test::temp_dir() + "/x.gguf";
    writer w = fixture_writer(ts, alignment);
    ASSERT_TRUE(w.write(path).ok());
    EXPECT_FALSE(fs::exists(path + ".tmp"));
    auto f = file::open(path);
    ASSERT_TRUE(f.ok()) << f.message();
    check_fixture(*f, ts, alignment);
    // The file and the in-memory image are the same bytes.
    auto mem = w.write_to_memory();
    ASSERT_TRUE(mem.ok());
    EXPECT_TRUE(std::equal(mem->begin(), mem->end(), f->bytes().begin(), f->bytes().end()));
  }
}

TEST(gguf_writer, rewriting_a_file_copies_every_value) {
  auto ts = fixture_tensors();
  auto bytes = fixture_writer(ts, 64).write_to_memory();
  ASSERT_TRUE(bytes.ok());
  auto f = file::parse(*bytes);
  ASSERT_TRUE(f.ok());
  writer w;
  for (const auto& [k, v] : f->metadata()) w.set_value(k, v);
  for (const auto& t : f->tensors())
    ASSERT_TRUE(w.add_tensor_bytes(t.name, t.type, std::span(t.ne, t.n_dims), t.data).ok());
  auto again = w.write_to_memory();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(gguf_writer, streaming_fill_large_tensor) {
  // 3 tensors, the middle one 6 MiB, filled through the callback straight into the file.
  std::string path = uma::test::temp_dir() + "/big.gguf";
  writer w;
  const int64_t small[] = {32};
  const int64_t big[] = {1024, 1536};
  int calls = 0;
  auto fill_const = [&calls](std::byte v) {
    return [&calls, v](std::span<std::byte> dst) -> status {
      ++calls;
      std::fill(dst.begin(), dst.end(), v);
      return {};
    };
  };
  ASSERT_TRUE(w.add_tensor("a", dtype::f32, small, fill_const(std::byte{1})).ok());
  ASSERT_TRUE(w.add_tensor("big", dtype::f32, big, [&calls](std::span<std::byte> dst) -> status {
                 ++calls;
                 for (size_t k = 0; k < dst.size(); ++k) dst[k] = static_cast<std::byte>(k % 251);
                 return {};
               }).ok());
  ASSERT_TRUE(w.add_tensor("c", dtype::q8_0, small, fill_const(std::byte{3})).ok());
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(calls, 3);
  auto f = file::open(path);
  ASSERT_TRUE(f.ok()) << f.message();
  const tensor_info* b = f->find_tensor("big");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->data.size(), 1024u * 1536 * 4);
  for (size_t k = 0; k < b->data.size(); k += 4093)
    ASSERT_EQ(b->data[k], static_cast<std::byte>(k % 251)) << k;
  for (auto x : f->find_tensor("a")->data) ASSERT_EQ(x, std::byte{1});
  for (auto x : f->find_tensor("c")->data) ASSERT_EQ(x, std::byte{3});
}

TEST(gguf_writer, float_array_elements_as_int_saturate) {
  writer w;
  const float v[] = {std::nanf(""), 1e30f, -1e30f, -2.5f};
  w.set_array_f32("f", v);
  auto bytes = w.write_to_memory();
  ASSERT_TRUE(bytes.ok());
  auto f = file::parse(*bytes);
  ASSERT_TRUE(f.ok());
  const value* a = f->find("f");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->array_int(0), 0);
  EXPECT_EQ(a->array_int(1), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(a->array_int(2), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(a->array_int(3), -2);
  EXPECT_TRUE(std::isnan(a->array_double(0)));
}

TEST(gguf_writer, fill_error_is_reported_and_leaves_no_file) {
  std::string path = uma::test::temp_dir() + "/fail.gguf";
  writer w;
  const int64_t ne[] = {8};
  ASSERT_TRUE(w.add_tensor("bad", dtype::f32, ne, [](std::span<std::byte>) -> status {
                 return make_error("no data");
               }).ok());
  status st = w.write(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("bad"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("no data"), std::string::npos) << st.message();
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(gguf_writer, rejects_invalid_tensors_and_alignment) {
  writer w;
  const int64_t ok[] = {32, 2};
  const int64_t odd_row[] = {33, 2};
  const int64_t negative[] = {4, -1};
  const int64_t five[] = {1, 1, 1, 1, 1};
  const int64_t huge[] = {int64_t{1} << 62, 4};
  auto nofill = [](std::span<std::byte>) -> status { return {}; };
  EXPECT_TRUE(w.add_tensor("w", dtype::q4_0, ok, nofill).ok());
  EXPECT_FALSE(w.add_tensor("w", dtype::f32, ok, nofill).ok());  // duplicate
  EXPECT_FALSE(w.add_tensor("", dtype::f32, ok, nofill).ok());
  EXPECT_FALSE(w.add_tensor("r", dtype::q4_0, odd_row, nofill).ok());
  EXPECT_FALSE(w.add_tensor("n", dtype::f32, negative, nofill).ok());
  EXPECT_FALSE(w.add_tensor("d", dtype::f32, five, nofill).ok());
  EXPECT_FALSE(w.add_tensor("h", dtype::f32, huge, nofill).ok());
  const std::byte three[3] = {};
  EXPECT_FALSE(w.add_tensor_bytes("b", dtype::f32, std::span(ok, 1), three).ok());
  EXPECT_TRUE(w.write_to_memory().ok());
  w.set_alignment(48);
  auto r = w.write_to_memory();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("power of two"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace uma::gguf
