// `uma run` and `uma perplexity` end to end on models made by `uma synth`: streamed text, -n,
// stop strings, seeds, one-line errors for missing / truncated / unsupported models.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "test_util.h"

namespace uma::model {
namespace {

using uma::test::run_uma;

const std::string& tiny_model() {
  static const std::string path = [] {
    std::string p = uma::test::temp_dir() + "/tiny-qwen3.q8_0.gguf";
    auto r = run_uma({"synth", "tiny-qwen3", "-o", p, "-t", "q8_0", "--seed", "3"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return p;
  }();
  return path;
}

void expect_one_line_error(const uma::test::run_result& r, const std::string& needle,
                           const std::string& cmd = "run") {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("uma " + cmd + ": error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
}

TEST(RunCli, GeneratesAndReportsStatistics) {
  auto r = run_uma({"run", "-m", tiny_model(), "-p", "Hello", "-n", "12", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Hello", 0), 0u) << r.out;  // the prompt is echoed, then the completion
  EXPECT_GT(r.out.size(), std::string("Hello\n").size());
  EXPECT_NE(r.err.find("tok/s"), std::string::npos) << r.err;
  // The placeholder vocabulary has one token per byte: "Hello" is 5 tokens (+ BOS if it adds one).
  EXPECT_TRUE(r.err.find("prompt: 5 tokens") != std::string::npos ||
              r.err.find("prompt: 6 tokens") != std::string::npos)
      << r.err;
}

TEST(RunCli, SameSeedSameText) {
  auto a = run_uma({"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--seed", "9", "-q"});
  auto b = run_uma({"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--seed", "9", "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto g1 = run_uma({"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--temp", "0", "-q"});
  auto g2 = run_uma(
      {"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--temp", "0", "-q", "--seed", "123"});
  EXPECT_EQ(g1.out, g2.out);  // greedy ignores the seed
}

// --reread drops the model from the page cache and reads it back (in 2 MiB pages where the
// system can) before loading: the same weights, so the same greedy text; a missing model is
// still the one-line error.
TEST(RunCli, RereadLoadsTheSameWeights) {
  auto a = run_uma({"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--temp", "0", "-q"});
  auto b = run_uma(
      {"run", "-m", tiny_model(), "-p", "abc", "-n", "16", "--temp", "0", "-q", "--reread"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  expect_one_line_error(run_uma({"run", "-m", tiny_model() + ".nope", "-p", "x", "--reread"}),
                        "no such model file");
}

// --kv-type q8_0 generates with a Q8_0 KV cache (the same seed the same text, run to run); an
// unknown type is refused in one line before anything is loaded. Perplexity takes it too.
TEST(RunCli, KvTypeQ8) {
  const std::vector<std::string> args = {"run", "-m",     tiny_model(), "-p", "abc",       "-n",
                                         "16",  "--temp", "0",          "-q", "--kv-type", "q8_0"};
  auto a = run_uma(args);
  auto b = run_uma(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_GT(a.out.size(), std::string("abc").size());
  EXPECT_EQ(a.out, b.out);
  auto bad = run_uma({"run", "-m", tiny_model(), "-p", "abc", "-n", "4", "--kv-type", "q4_0"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("kv-type"), std::string::npos) << bad.err;
  EXPECT_EQ(bad.out, "");
  const std::string text = uma::test::temp_dir() + "/kv_ppl.txt";
  std::ofstream(text) << "the quick brown fox jumps over the lazy dog. " << std::string(200, 'a');
  for (const char* kv : {"f16", "q8_0"}) {
    auto p = run_uma(
        {"perplexity", "-m", tiny_model(), "-f", text, "-c", "64", "--kv-type", kv, "--json"});
    ASSERT_EQ(p.exit_code, 0) << kv << ": " << p.err;
    EXPECT_NE(p.out.find("\"perplexity\""), std::string::npos) << p.out;
  }
}

TEST(RunCli, TokenLimit) {
  auto r = run_uma({"run", "-m", tiny_model(), "-p", "x", "-n", "3", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.find("generation: 3 tokens") != std::string::npos ||
              r.err.find("stop: eog") != std::string::npos)
      << r.err;
}

TEST(RunCli, StopString) {
  // Greedy output first, then stop at a piece of it: the output ends right before that piece.
  auto full = run_uma({"run", "-m", tiny_model(), "-p", "q", "-n", "24", "--temp", "0", "-q"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string gen = full.out.substr(1, full.out.size() - 2);  // drop prompt and newline
  ASSERT_GE(gen.size(), 8u) << full.out;
  const std::string stop = gen.substr(4, 3);
  auto r =
      run_uma({"run", "-m", tiny_model(), "-p", "q", "-n", "24", "--temp", "0", "--stop", stop});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string want = "q";
  want.append(gen, 0, gen.find(stop));
  want.push_back('\n');
  EXPECT_EQ(r.out, want);
  EXPECT_NE(r.err.find("stop: stop"), std::string::npos) << r.err;
}

TEST(RunCli, MissingModel) {
  expect_one_line_error(run_uma({"run", "-m", uma::test::temp_dir() + "/none.gguf", "-p", "x"}),
                        "no such model file");
}

TEST(RunCli, TruncatedModel) {
  std::ifstream in(tiny_model(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = uma::test::temp_dir() + "/cut.gguf";
  std::ofstream(cut, std::ios::binary).write(bytes.data(), 4000);
  expect_one_line_error(run_uma({"run", "-m", cut, "-p", "x"}), "cut.gguf");
}

TEST(RunCli, UnsupportedArchitecture) {
  gguf::writer w;
  w.set_string("general.architecture", "mamba");
  w.set_u32("mamba.block_count", 1);
  const std::string p = uma::test::temp_dir() + "/mamba.gguf";
  ASSERT_TRUE(w.write(p).ok());
  expect_one_line_error(run_uma({"run", "-m", p, "-p", "x"}), "unsupported architecture 'mamba'");
}

// A malformed command line exits 2 with CLI11's message naming the option; --help and --version 0.
TEST(RunCli, MalformedCommandLineExitsTwo) {
  auto r = run_uma({"run", "-m", tiny_model(), "-p", "x", "--no-such-option"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--no-such-option"), std::string::npos) << r.err;
  r = run_uma({"bench", "--pp", "16,x", "--no-probe"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--pp"), std::string::npos) << r.err;
  r = run_uma({"run", "-m", tiny_model(), "-p", "x", "--temp", "warm"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(run_uma({"--help"}).exit_code, 0);
  EXPECT_EQ(run_uma({"bench", "--help"}).exit_code, 0);
  EXPECT_EQ(run_uma({"--version"}).exit_code, 0);
  EXPECT_EQ(run_uma({}).exit_code, 2);  // no command
}

TEST(RunCli, BadSamplingParameter) {
  expect_one_line_error(run_uma({"run", "-m", tiny_model(), "-p", "x", "--top-p", "1.5"}), "top_p");
  expect_one_line_error(run_uma({"run", "-m", tiny_model(), "-p", "x", "--temp", "-1"}),
                        "temperature");
}

// The KV cache is reserved for the whole context: one larger than the machine is refused by
// load_model with the sizes (it was a bare std::bad_alloc), as are thread counts past the pool's
// limit.
TEST(RunCli, ContextOrThreadsBeyondTheMachine) {
  expect_one_line_error(run_uma({"run", "-m", tiny_model(), "-p", "x", "--ctx", "99999999999"}),
                        "more than this machine's");
  // The largest context the flag takes: its block count must not wrap around to a small cache.
  expect_one_line_error(
      run_uma({"run", "-m", tiny_model(), "-p", "x", "--ctx", "9223372036854775807"}),
      "more than this machine's");
  expect_one_line_error(run_uma({"run", "-m", tiny_model(), "-p", "x", "-t", "5000"}),
                        "--threads must be between 0 and 1024");
}

TEST(RunCli, ChatNeedsATemplate) {
  expect_one_line_error(run_uma({"run", "-m", tiny_model(), "-p", "x", "--chat"}), "chat template");
}

// The synth model plus a ChatML chat template (copied through gguf::writer).
std::string chat_model() {
  auto f = gguf::file::open(tiny_model());
  EXPECT_TRUE(f.ok()) << f.message();
  gguf::writer w;
  for (const auto& [key, v] : f->metadata()) w.set_value(key, v);
  w.set_string("tokenizer.chat_template",
               "{% for m in messages %}[{{ m.role }}]: {{ m.content }}\n{% endfor %}"
               "{% if add_generation_prompt %}[assistant]: {% endif %}");
  for (const auto& t : f->tensors()) {
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    EXPECT_TRUE(w.add_tensor_bytes(t.name, t.type, ne, t.data).ok());
  }
  const std::string p = uma::test::temp_dir() + "/chat.gguf";
  EXPECT_TRUE(w.write(p).ok());
  return p;
}

TEST(RunCli, ChatAndInteractive) {
  const std::string m = chat_model();
  auto r = run_uma({"run", "-m", m, "-p", "hi", "--chat", "-n", "4", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // "[user]: hi\n[assistant]: " is 24 single-byte tokens with the placeholder vocabulary.
  EXPECT_TRUE(r.err.find("prompt: 24 tokens") != std::string::npos ||
              r.err.find("prompt: 25 tokens") != std::string::npos)
      << r.err;
  // Two turns: the second reuses the cached conversation prefix.
  auto i = run_uma({"run", "-m", m, "-i", "-n", "4", "--temp", "0"}, "hello\nagain\n");
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_EQ(i.err.find("(0 cached)"), i.err.rfind("(0 cached)")) << i.err;  // only turn one
  EXPECT_NE(i.err.find("cached)"), std::string::npos) << i.err;
}

TEST(PerplexityCli, PrintsPerplexity) {
  const std::string text_path = uma::test::temp_dir() + "/text.txt";
  std::string text;
  for (int i = 0; i < 40; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  std::ofstream(text_path) << text;
  auto r = run_uma({"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "128"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("perplexity: ", 0), 0u) << r.out;
  const double ppl = std::stod(r.out.substr(12));
  // Random weights: somewhere between certain and uniform over the 512-token vocabulary (x slack).
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 512.0 * 4);
  // --reread (the file read back into the page cache first): the same weights, the same figure.
  auto again =
      run_uma({"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "128", "--reread"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  auto j = run_uma({"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "128", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_NE(j.out.find("\"perplexity\":"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"windows\":14"), std::string::npos) << j.out;  // 1800 bytes / 128
  // Too short a text for one window: a clear error.
  auto e = run_uma({"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "4096"});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("fewer than one window"), std::string::npos) << e.err;
}

// --kl-save then --kl-base (llama-perplexity's --kl-divergence-base / --kl-divergence): the same
// run against its own file is KL 0 and the same top token everywhere; a run with a Q8_0 cache
// differs by a small KL; the file's header guards the comparison (another --ctx, another text, a
// truncated or foreign file: one-line errors before anything is read); the two flags exclude
// each other.
TEST(PerplexityCli, KlDivergenceAgainstASavedRun) {
  const std::string dir = uma::test::temp_dir();
  const std::string text_path = dir + "/kl-text.txt", base = dir + "/kl-base.bin";
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Agents keep their data on the desk, not in the cloud. ";
  std::ofstream(text_path) << text;
  const std::vector<std::string> run = {"perplexity", "-m",    tiny_model(), "-f",
                                        text_path,    "--ctx", "128",        "--json"};
  auto with = [&](std::vector<std::string> extra) {
    auto a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return run_uma(a);
  };
  auto saved = with({"--kl-save", base});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  const auto js = nlohmann::json::parse(saved.out);
  const int64_t rows = js["scored_tokens"].get<int64_t>();
  ASSERT_GT(rows, 0);
  // The header (40 bytes) and one row of 512 floats a scored position.
  EXPECT_EQ(std::filesystem::file_size(base), 40u + static_cast<uint64_t>(rows) * 512 * 4);
  auto same = with({"--kl-base", base});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  auto j = nlohmann::json::parse(same.out);
  EXPECT_EQ(j["perplexity"], js["perplexity"]);
  EXPECT_EQ(j["kl_mean"].get<double>(), 0.0);
  EXPECT_EQ(j["kl_max"].get<double>(), 0.0);
  EXPECT_EQ(j["top1_agree"].get<double>(), 1.0);
  auto q8 = with({"--kl-base", base, "--kv-type", "q8_0"});
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  j = nlohmann::json::parse(q8.out);
  EXPECT_GT(j["kl_mean"].get<double>(), 0.0);
  EXPECT_LT(j["kl_mean"].get<double>(), 1e-2);
  EXPECT_LE(j["kl_median"].get<double>(), j["kl_p99"].get<double>());
  EXPECT_LE(j["kl_p99"].get<double>(), j["kl_max"].get<double>());
  EXPECT_GT(j["top1_agree"].get<double>(), 0.8);
  // The text output says it too.
  auto plain = run_uma(
      {"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "128", "--kl-base", base});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("KL divergence from"), std::string::npos) << plain.out;
  // Another window length, another text, a truncated file, not a KL file, no file.
  expect_one_line_error(run_uma({"perplexity", "-m", tiny_model(), "-f", text_path, "--ctx", "64",
                                 "--kl-base", base}),
                        "saved with --ctx 128", "perplexity");
  const std::string other = dir + "/kl-other.txt";
  std::ofstream(other) << "Other words first. " << text;  // a shift of every window
  expect_one_line_error(
      run_uma({"perplexity", "-m", tiny_model(), "-f", other, "--ctx", "128", "--kl-base", base}),
      "another text", "perplexity");
  {
    std::ifstream in(base, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/kl-cut.bin", std::ios::binary).write(bytes.data(), 5000);
  }
  expect_one_line_error(with({"--kl-base", dir + "/kl-cut.bin"}), "truncated", "perplexity");
  expect_one_line_error(with({"--kl-base", text_path}), "not a `uma perplexity --kl-save` file",
                        "perplexity");
  expect_one_line_error(with({"--kl-base", dir + "/none.bin"}), "cannot read", "perplexity");
  auto both = with({"--kl-base", base, "--kl-save", dir + "/x.bin"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
}

}  // namespace
}  // namespace uma::model
