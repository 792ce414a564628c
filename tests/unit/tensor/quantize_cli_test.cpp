// `uma quantize` end to end on the golden tiny models: q8_0 reproduces llama-quantize's bytes,
// q4_k_m reproduces llama-quantize's per-tensor types with no more error, metadata is carried over;
// odd inputs fall back or fail with one line and exit 1.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "tensor/half.h"
#include "tensor/quant.h"
#include "test_util.h"

namespace uma {
namespace {

std::string golden(const std::string& name) {
  return test::shared_data("golden/" + name);
}

gguf::file open_or_die(const std::string& path) {
  auto f = gguf::file::open(path);
  EXPECT_TRUE(f.ok()) << path << ": " << (f.ok() ? "" : f.message());
  if (!f.ok()) throw std::runtime_error("cannot open " + path);
  return std::move(f).value();
}

std::vector<float> dequantized(const gguf::tensor_info& t) {
  std::vector<float> out(t.n_elements);
  const size_t rb = t.row_bytes();
  for (int64_t r = 0; r < t.rows(); ++r) {
    auto st = dequantize_row(t.type, t.data.data() + r * rb, out.data() + r * t.ne[0], t.ne[0]);
    EXPECT_TRUE(st.ok()) << st.message();
  }
  return out;
}

double rms_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0;
  for (size_t i = 0; i < a.size(); ++i) e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(e / double(a.size()));
}

bool same_value(const gguf::value& a, const gguf::value& b) {
  if (a.type != b.type) return false;
  if (a.is_array())
    return a.elem_type == b.elem_type && a.count == b.count && a.strs == b.strs &&
           a.raw.size() == b.raw.size() &&
           (a.raw.empty() || std::memcmp(a.raw.data(), b.raw.data(), a.raw.size()) == 0) &&
           a.items.size() == b.items.size();
  return a.u == b.u && a.i == b.i && a.f == b.f && a.str == b.str;
}

test::run_result quantize(const std::string& in, const std::string& out, const std::string& type) {
  return test::run_uma({"quantize", in, out, "--type", type, "--threads", "2"});
}

const char* kModels[] = {"llama", "qwen2", "qwen3"};

TEST(quantize_cli, q8_0_matches_llama_quantize_bytes) {
  for (const char* m : kModels) {
    const std::string out = test::temp_dir() + "/q8.gguf";
    auto r = quantize(golden(std::string("tiny-") + m + ".f32.gguf"), out, "q8_0");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto mine = open_or_die(out);
    auto ref = open_or_die(golden(std::string("tiny-") + m + ".q8_0.gguf"));
    ASSERT_EQ(mine.tensors().size(), ref.tensors().size());
    for (const auto& t : ref.tensors()) {
      const auto* u = mine.find_tensor(t.name);
      ASSERT_NE(u, nullptr) << t.name;
      EXPECT_EQ(u->type, t.type) << m << " " << t.name;
      ASSERT_EQ(u->n_bytes, t.n_bytes) << t.name;
      EXPECT_EQ(std::memcmp(u->data.data(), t.data.data(), t.n_bytes), 0) << m << " " << t.name;
    }
    EXPECT_EQ(mine.get_uint("general.file_type").value_or(99), 7u);
  }
}

TEST(quantize_cli, q4_k_m_matches_llama_quantize_types_and_error) {
  for (const char* m : kModels) {
    const std::string src_path = golden(std::string("tiny-") + m + ".f32.gguf");
    const std::string out = test::temp_dir() + "/q4km.gguf";
    auto r = quantize(src_path, out, "q4_k_m");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    auto src = open_or_die(src_path);
    auto mine = open_or_die(out);
    auto ref = open_or_die(golden(std::string("tiny-") + m + ".q4_k_m.gguf"));
    // Metadata: everything from the source, file type Q4_K_M (15).
    for (const auto& [key, v] : src.metadata()) {
      if (key == "general.file_type") continue;
      const auto* got = mine.find(key);
      ASSERT_NE(got, nullptr) << key;
      EXPECT_TRUE(same_value(v, *got)) << key;
    }
    EXPECT_EQ(mine.get_uint("general.file_type").value_or(0), 15u);
    EXPECT_EQ(mine.get_uint("general.quantization_version").value_or(0), 2u);
    ASSERT_EQ(mine.tensors().size(), ref.tensors().size());
    for (const auto& t : ref.tensors()) {
      const auto* u = mine.find_tensor(t.name);
      ASSERT_NE(u, nullptr) << t.name;
      EXPECT_EQ(u->type, t.type) << m << " " << t.name;
      for (int d = 0; d < gguf::max_dims; ++d) EXPECT_EQ(u->ne[d], t.ne[d]) << t.name;
      // Error against the f32 source no worse than llama-quantize's (10 % slack).
      const auto orig = dequantized(*src.find_tensor(t.name));
      const double e_mine = rms_diff(orig, dequantized(*u));
      const double e_ref = rms_diff(orig, dequantized(t));
      EXPECT_LE(e_mine, 1.1 * e_ref + 1e-7) << m << " " << t.name;
    }
  }
}

TEST(quantize_cli, reconverting_keeps_shapes_and_accuracy) {
  // f32 -> f16 -> q6_k: the second step reads F16 (dequantize) and 1-D tensors stay F32.
  const std::string dir = test::temp_dir();
  const std::string src_path = golden("tiny-qwen3.f32.gguf");
  ASSERT_EQ(quantize(src_path, dir + "/a.gguf", "f16").exit_code, 0);
  auto r = quantize(dir + "/a.gguf", dir + "/b.gguf", "q6_k");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto src = open_or_die(src_path);
  auto b = open_or_die(dir + "/b.gguf");
  for (const auto& t : src.tensors()) {
    const auto* u = b.find_tensor(t.name);
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->type, t.n_dims == 1 ? dtype::f32 : dtype::q6_k) << t.name;
    const auto x = dequantized(t);
    double s = 0;
    for (float v : x) s += double(v) * v;
    EXPECT_LE(rms_diff(x, dequantized(*u)), 0.03 * std::sqrt(s / double(x.size()))) << t.name;
  }
}

// A small GGUF made by the test: odd row lengths and a type uma cannot read.
std::string write_odd_model(bool with_unreadable) {
  gguf::writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 1);
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0, 1);
  static std::vector<float> a(96 * 4), b(40 * 3), c(64);
  for (auto* v : {&a, &b, &c})
    for (auto& x : *v) x = g(rng);
  static std::vector<std::byte> iq(66 * 2);
  auto bytes = [](const std::vector<float>& v) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * 4);
  };
  const int64_t ne_a[] = {96, 4}, ne_b[] = {40, 3}, ne_c[] = {64}, ne_iq[] = {256, 2};
  EXPECT_TRUE(w.add_tensor_bytes("blk.0.ffn_down.weight", dtype::f32, ne_a, bytes(a)).ok());
  EXPECT_TRUE(w.add_tensor_bytes("blk.0.ffn_up.weight", dtype::f32, ne_b, bytes(b)).ok());
  EXPECT_TRUE(w.add_tensor_bytes("blk.0.attn_norm.weight", dtype::f32, ne_c, bytes(c)).ok());
  if (with_unreadable) {
    EXPECT_TRUE(w.add_tensor_bytes("blk.0.attn_q.weight", dtype::iq2_xxs, ne_iq, iq).ok());
  }
  const std::string path = test::temp_dir() + "/odd.gguf";
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(quantize_cli, odd_rows_fall_back) {
  const std::string in = write_odd_model(false);
  const std::string out = test::temp_dir() + "/out.gguf";
  auto r = quantize(in, out, "q4_k");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto f = open_or_die(out);
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->type, dtype::q5_0);  // 96: Q4_K -> Q5_0
  EXPECT_EQ(f.find_tensor("blk.0.ffn_up.weight")->type, dtype::f16);     // 40: -> F16
  EXPECT_EQ(f.find_tensor("blk.0.attn_norm.weight")->type, dtype::f32);
  EXPECT_EQ(f.get_uint("general.file_type").value_or(0), 14u);
}

TEST(quantize_cli, errors_are_one_line_and_exit_1) {
  const std::string out = test::temp_dir() + "/never.gguf";
  auto one_line = [](const test::run_result& r) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
    EXPECT_NE(r.err.find("uma quantize: error:"), std::string::npos) << r.err;
  };
  auto r = quantize(golden("tiny-llama.f32.gguf"), out, "q3_x");
  one_line(r);
  EXPECT_NE(r.err.find("q3_x"), std::string::npos);
  r = quantize(test::temp_dir() + "/missing.gguf", out, "q8_0");
  one_line(r);
  const std::string junk = test::temp_dir() + "/junk.gguf";
  FILE* fp = std::fopen(junk.c_str(), "wb");
  std::fputs("not a gguf at all", fp);
  std::fclose(fp);
  one_line(quantize(junk, out, "q8_0"));
  r = quantize(write_odd_model(true), out, "q8_0");
  one_line(r);
  EXPECT_NE(r.err.find("iq2_xxs"), std::string::npos) << r.err;
  EXPECT_FALSE(std::ifstream(out).good());  // nothing written
}

}  // namespace
}  // namespace uma
