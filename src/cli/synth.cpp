// `uma synth PRESET -o FILE`: write a GGUF with random weights in a real model's exact shape
// (src/synth). `uma synth --list` prints the presets.
#include <charconv>
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/command.h"
#include "synth/synth.h"

namespace {

struct synth_cli {
  std::string preset;
  std::string output;
  std::string type = "q4_0";
  std::string seed = "0";
  std::string vocab;
  std::string tokenizer;
  int threads = 0;
  bool list = false;
};

std::string with_commas(uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

void print_list() {
  std::printf("%-18s %-8s %6s %6s %6s %5s %4s %5s %7s %7s %15s %s\n", "preset", "arch", "layers",
              "embd", "ff", "heads", "kv", "hdim", "vocab", "ctx", "params", "notes");
  for (const auto& p : uma::synth::presets()) {
    std::string notes = p.tied ? "tied" : "untied";
    if (p.qkv_bias) notes += ", qkv bias";
    if (p.qk_norm) notes += ", q/k norm";
    if (p.n_expert > 0)
      notes +=
          fmt::format(", {} experts of {} (ff), {} used", p.n_expert, p.n_ff_exp, p.n_expert_used);
    if (p.sliding_window > 0) notes += fmt::format(", window {}", p.sliding_window);
    if (p.rope_scaling.factor > 0) notes += fmt::format(", llama3 rope x{}", p.rope_scaling.factor);
    if (p.tiny) notes += ", vocab follows the tokenizer";
    std::printf("%-18s %-8s %6lld %6lld %6lld %5lld %4lld %5lld %7lld %7lld %15s %s\n",
                std::string(p.name).c_str(), std::string(p.arch).c_str(),
                static_cast<long long>(p.n_layer), static_cast<long long>(p.n_embd),
                static_cast<long long>(p.n_ff), static_cast<long long>(p.n_head),
                static_cast<long long>(p.n_head_kv), static_cast<long long>(p.head_dim),
                static_cast<long long>(p.n_vocab), static_cast<long long>(p.n_ctx),
                with_commas(uma::synth::param_count(p, p.n_vocab)).c_str(), notes.c_str());
  }
  std::string types;
  for (auto t : uma::synth::type_names()) types += (types.empty() ? "" : " ") + std::string(t);
  std::printf("types: %s\n", types.c_str());
}

int run_synth(const synth_cli& c) {
  if (c.list) {
    print_list();
    return 0;
  }
  if (c.preset.empty()) return uma::cli::fail("synth", "no PRESET given (see `uma synth --list`)");
  if (c.output.empty()) return uma::cli::fail("synth", "no output file given (-o FILE)");
  if (int code = 0; uma::cli::bad_threads("synth", c.threads, &code)) return code;
  uma::synth::synth_options o;
  o.preset = c.preset;
  o.output = c.output;
  o.type = c.type;
  o.vocab_gguf = c.vocab;
  o.tokenizer_json = c.tokenizer;
  o.threads = c.threads;
  const char* end = c.seed.data() + c.seed.size();
  auto [ptr, ec] = std::from_chars(c.seed.data(), end, o.seed);
  if (c.seed.empty() || ec != std::errc() || ptr != end)
    return uma::cli::fail("synth", "--seed must be an unsigned integer, got '" + c.seed + "'");
  uma::synth::synth_report r;
  if (auto st = uma::synth::synthesize(o, &r); !st.ok())
    return uma::cli::fail("synth", st.message());
  std::printf("wrote %s: %s %s, %s params, %zu tensors, vocab %lld, %.1f MiB in %.2f s\n",
              c.output.c_str(), c.preset.c_str(), r.layout.type_name.c_str(),
              with_commas(r.layout.n_params()).c_str(), r.layout.tensors.size(),
              static_cast<long long>(r.layout.n_vocab), double(r.file_bytes) / (1024.0 * 1024.0),
              r.seconds);
  std::printf("tokenizer: %s\n", r.tokenizer.c_str());
  return 0;
}

}  // namespace

UMA_COMMAND(synth, "write a GGUF with random weights in a real model's exact shape",
            [](CLI::App& app) -> uma::cli::runner {
              auto c = std::make_shared<synth_cli>();
              app.add_option("preset", c->preset, "model shape (see --list)");
              app.add_option("-o,--output", c->output, "GGUF file to write");
              app.add_option(
                  "-t,--type", c->type,
                  "weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k "
                  "q6_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m (default q4_0)");
              app.add_option("--seed", c->seed, "random seed (same seed -> identical file)");
              app.add_option("--vocab", c->vocab, "copy tokenizer.* metadata from this GGUF file");
              app.add_option("--tokenizer", c->tokenizer,
                             "import a Hugging Face tokenizer.json (+ tokenizer_config.json)");
              app.add_option("--threads", c->threads, "worker threads (0: one per core)");
              app.add_flag("--list", c->list, "print the presets with shapes and parameter counts");
              return [c] { return run_synth(*c); };
            });
