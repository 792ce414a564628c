// `uma inspect` run as a binary: on every shared GGUF (vocab-only files and golden models) it exits
// 0 and its --json agrees with the reader; on a malformed file it exits 1 with one stderr line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "gguf_bytes.h"
#include "test_util.h"

namespace uma::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> shared_ggufs() {
  std::vector<std::string> out;
  for (const char* dir : {"vocab", "golden"})
    for (const auto& e : fs::directory_iterator(uma::test::shared_data(dir)))
      if (e.path().extension() == ".gguf") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

size_t count_lines(const std::string& s) {
  return std::count(s.begin(), s.end(), '\n');
}

TEST(uma_inspect, json_agrees_with_the_reader_on_every_shared_file) {
  auto files = shared_ggufs();
  ASSERT_GT(files.size(), 20u);
  for (const auto& path : files) {
    auto r = uma::test::run_uma({"inspect", path, "--json"});
    ASSERT_EQ(r.exit_code, 0) << path << ": " << r.err;
    EXPECT_EQ(r.err, "") << path;
    json j = json::parse(r.out);
    auto f = file::open(path);
    ASSERT_TRUE(f.ok());
    uint64_t params = 0, bytes = 0;
    for (const auto& t : f->tensors()) {
      params += t.n_elements;
      bytes += t.n_bytes;
    }
    EXPECT_EQ(j["parameters"], params) << path;
    EXPECT_EQ(j["memory"]["weights_bytes"], bytes) << path;
    EXPECT_EQ(j["tensor_count"], f->tensors().size()) << path;
    uint64_t format_tensors = 0;
    for (const auto& fj : j["formats"]) format_tensors += fj["tensors"].get<uint64_t>();
    EXPECT_EQ(format_tensors, f->tensors().size()) << path;
    if (f->architecture().empty()) {
      EXPECT_TRUE(j["architecture"].is_null()) << path;
    } else {
      EXPECT_EQ(j["architecture"], std::string(f->architecture())) << path;
    }
    if (const value* toks = f->find("tokenizer.ggml.tokens")) {
      EXPECT_EQ(j["tokenizer"]["vocab_size"], toks->count) << path;
    }
    EXPECT_EQ(j["tokenizer"]["chat_template"], f->find("tokenizer.chat_template") != nullptr);
    EXPECT_EQ(j["context_length"].is_null(),
              !f->get_uint(std::string(f->architecture()) + ".context_length"))
        << path;

    auto text = uma::test::run_uma({"inspect", path});
    ASSERT_EQ(text.exit_code, 0) << path << ": " << text.err;
    EXPECT_NE(text.out.find("parameters"), std::string::npos);
  }
}

// The KV cache's shape of two golden models (their README: tiny-llama has 2 layers, 2 KV heads of
// dim 32; tiny-qwen3 2 layers, 4 KV heads of 64).
struct kv_model {
  const char* file;
  uint64_t layers, kv_heads, head_dim;
};
constexpr kv_model kv_models[] = {{"golden/tiny-llama.q8_0.gguf", 2, 2, 32},
                                  {"golden/tiny-qwen3.q4_k_m.gguf", 2, 4, 64}};

// A mixture of experts: the expert counts and the parameters a token uses (each 3-D expert
// tensor for expert_used_count of expert_count), in the JSON and the text; a dense model has none.
TEST(uma_inspect, moe_counts_the_active_parameters) {
  const std::string path = uma::test::temp_dir() + "/inspect-tiny-qwen3moe.gguf";
  auto s = uma::test::run_uma({"synth", "tiny-qwen3moe", "-t", "q8_0", "-o", path, "--seed", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = uma::test::run_uma({"inspect", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["expert_count"], 8);
  EXPECT_EQ(j["expert_used_count"], 2);
  // 2 layers x 3 expert tensors of 8 x 256 x 256: 6 of 8 experts left out of a token's.
  EXPECT_EQ(j["parameters"].get<uint64_t>() - j["active_parameters"].get<uint64_t>(),
            2u * 3 * 6 * 256 * 256);
  auto text = uma::test::run_uma({"inspect", path});
  EXPECT_NE(text.out.find("experts          8, 2 used a token: 1.84M active parameters (1840896)"),
            std::string::npos)
      << text.out;
  auto dense = uma::test::run_uma(
      {"inspect", uma::test::shared_data("golden/tiny-qwen3.q8_0.gguf"), "--json"});
  ASSERT_EQ(dense.exit_code, 0) << dense.err;
  const auto d = nlohmann::json::parse(dense.out);
  EXPECT_TRUE(d["expert_count"].is_null());
  EXPECT_EQ(d["active_parameters"], d["parameters"]);
  std::filesystem::remove(path);
}

// A model with sliding-window layers (tiny-gemma3: 5 of 6 local, window 20): beside every layer
// at the whole context, the KV cache as uma keeps it (the local layers in rings of 38 blocks of
// 16: the window, a forward's 512 positions and a span; model::cache_bytes_for), which the total
// counts; at a context within the rings the two are one figure.
TEST(uma_inspect, sliding_window_layers_keep_a_window) {
  const std::string path = uma::test::temp_dir() + "/inspect-tiny-gemma3.gguf";
  auto s = uma::test::run_uma({"synth", "tiny-gemma3", "-t", "q8_0", "-o", path, "--seed", "1"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto r = uma::test::run_uma({"inspect", path, "--json", "--ctx", "4096"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  // A position of a layer: 2 KV heads x (64 + 64) F16 values.
  const uint64_t row = 2 * 128 * 2;
  const auto& kv = j["memory"]["kv_cache"];
  EXPECT_EQ(kv["bytes"], 6 * 4096 * row);
  EXPECT_EQ(kv["engine_bytes"], (1 * 4096 + 5 * 38 * 16) * row);
  EXPECT_EQ(j["memory"]["total_bytes"],
            j["memory"]["weights_bytes"].get<uint64_t>() + kv["engine_bytes"].get<uint64_t>());
  auto text = uma::test::run_uma({"inspect", path, "--ctx", "4096"});
  EXPECT_NE(text.out.find("as uma keeps it            3.48 MiB"), std::string::npos) << text.out;
  auto small = uma::test::run_uma({"inspect", path, "--json", "--ctx", "512"});
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_FALSE(nlohmann::json::parse(small.out)["memory"]["kv_cache"].contains("engine_bytes"));
  std::filesystem::remove(path);
}

TEST(uma_inspect, kv_cache_bytes_follow_the_formula) {
  for (const kv_model& m : kv_models) {
    for (uint64_t ctx : {1ull, 100ull, 32768ull}) {
      auto r = uma::test::run_uma(
          {"inspect", uma::test::shared_data(m.file), "--json", "--ctx", std::to_string(ctx)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      json j = json::parse(r.out);
      const uint64_t want = 2 * m.layers * m.kv_heads * m.head_dim * ctx * 2;
      EXPECT_EQ(j["memory"]["kv_cache"]["context"], ctx);
      EXPECT_EQ(j["memory"]["kv_cache"]["bytes"], want) << m.file << " ctx " << ctx;
      EXPECT_EQ(j["memory"]["total_bytes"], want + j["memory"]["weights_bytes"].get<uint64_t>());
    }
  }
  // Default context: the model's own (4096 in the golden files' metadata).
  auto r = uma::test::run_uma(
      {"inspect", uma::test::shared_data("golden/tiny-llama.f32.gguf"), "--json"});
  ASSERT_EQ(r.exit_code, 0);
  json j = json::parse(r.out);
  EXPECT_EQ(j["memory"]["kv_cache"]["context"], j["context_length"]);
  EXPECT_EQ(j["memory"]["kv_cache"]["bytes"],
            2ull * 2 * 2 * 32 * j["context_length"].get<uint64_t>() * 2);
}

// --kv-type q8_0: K and V rows of 34 bytes per 32 values (ggml Q8_0 blocks) instead of 64, in the
// JSON and the text; a model whose head dims are not multiples of 32 gets no Q8_0 figure but what
// it would need (as load refuses such a cache), and its F16 figure still.
TEST(uma_inspect, kv_cache_bytes_by_type) {
  for (const kv_model& m : kv_models) {
    auto r = uma::test::run_uma({"inspect", uma::test::shared_data(m.file), "--json", "--ctx",
                                 "1000", "--kv-type", "q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    const uint64_t want = 2 * m.layers * m.kv_heads * (m.head_dim / 32 * 34) * 1000;
    EXPECT_EQ(j["memory"]["kv_cache"]["type"], "q8_0");
    EXPECT_EQ(j["memory"]["kv_cache"]["bytes"], want) << m.file;
    EXPECT_EQ(j["memory"]["total_bytes"], want + j["memory"]["weights_bytes"].get<uint64_t>());
    r = uma::test::run_uma({"inspect", uma::test::shared_data(m.file), "--kv-type", "q8_0"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("KV cache (q8_0, ctx 4096)"), std::string::npos) << r.out;
  }
  std::string dir = uma::test::temp_dir();
  test::gguf_bytes g;  // metadata only: one layer, one KV head of 48
  g.header(0, 5)
      .kv_string("general.architecture", "llama")
      .kv_u32("llama.block_count", 1)
      .kv_u32("llama.attention.head_count_kv", 1)
      .kv_u32("llama.attention.key_length", 48)
      .kv_u32("llama.context_length", 64)
      .pad_to(32);
  const std::string path = dir + "/head48.gguf";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(g.b.data()), static_cast<std::streamsize>(g.b.size()));
  auto r = uma::test::run_uma({"inspect", path, "--json", "--kv-type", "q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_TRUE(j["memory"]["kv_cache"]["bytes"].is_null()) << r.out;
  EXPECT_NE(j["memory"]["kv_cache"]["missing"].get<std::string>().find("multiples of 32"),
            std::string::npos)
      << r.out;
  r = uma::test::run_uma({"inspect", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["memory"]["kv_cache"]["bytes"], 2u * 48 * 64 * 2) << r.out;
  // An unknown type is refused before anything is printed.
  r = uma::test::run_uma({"inspect", path, "--kv-type", "q4_0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("kv-type"), std::string::npos) << r.err;
}

TEST(uma_inspect, text_report_lists_formats_metadata_and_tensors) {
  auto r = uma::test::run_uma({"inspect", uma::test::shared_data("golden/tiny-qwen2.q4_k_m.gguf"),
                               "--metadata", "--tensors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* want : {"qwen2", "q4_k", "q6_k", "KV cache (f16, ctx 4096)", "token_embd.weight",
                           "qwen2.block_count", "chat template"})
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
}

TEST(uma_inspect, malformed_file_is_one_line_and_exit_1) {
  std::string dir = uma::test::temp_dir();
  test::gguf_bytes g;
  g.header(2, 0).tensor("blk.0.w", {32}, 0, 0).tensor("blk.0.w", {32}, 0, 128).pad_to(32);
  g.zeros(256);
  std::string path = dir + "/dup.gguf";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(g.b.data()), static_cast<std::streamsize>(g.b.size()));
  for (bool as_json : {false, true}) {
    std::vector<std::string> args = {"inspect", path};
    if (as_json) args.push_back("--json");
    auto r = uma::test::run_uma(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("uma inspect: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("duplicate tensor name 'blk.0.w'"), std::string::npos) << r.err;
  }
  // Every prefix of a real file's first 200 bytes: one line, exit 1, never a crash.
  std::ifstream in(uma::test::shared_data("golden/tiny-llama.q4_0.gguf"), std::ios::binary);
  std::string head(200, '\0');
  in.read(head.data(), 200);
  for (size_t len : {0, 3, 7, 15, 23, 60, 199}) {
    std::string p = dir + "/cut.gguf";
    std::ofstream(p, std::ios::binary).write(head.data(), static_cast<std::streamsize>(len));
    auto r = uma::test::run_uma({"inspect", p});
    EXPECT_EQ(r.exit_code, 1) << len;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  }
  auto missing = uma::test::run_uma({"inspect", dir + "/absent.gguf"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(count_lines(missing.err), 1u);
  EXPECT_NE(missing.err.find("absent.gguf"), std::string::npos);
}

}  // namespace
}  // namespace uma::gguf
