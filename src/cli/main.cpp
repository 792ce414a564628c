// Entry point: builds the CLI from the registered subcommands and dispatches. Nothing else lives
// here (DESIGN.md "src/cli").
#include <algorithm>
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "cli/command.h"
#include "model/model.h"
#include "util/thread_pool.h"

namespace uma::cli {

std::vector<command>& registry() {
  static std::vector<command> r;
  return r;
}

int fail(const std::string& cmd, const std::string& message) {
  std::fprintf(stderr, "uma %s: error: %s\n", cmd.c_str(), message.c_str());
  return 1;
}

bool bad_threads(const std::string& cmd, int threads, int* code) {
  if (threads >= 0 && threads <= thread_pool::max_threads) return false;
  *code = fail(cmd, "--threads must be between 0 and " + std::to_string(thread_pool::max_threads));
  return true;
}

void add_weight_flags(CLI::App& app, std::string* repack, bool* reread) {
  app.add_flag(
         "--repack{faster}", *repack,
         "copy weights into the interleaved x16 layout (AVX-512; not zero-copy): --repack "
         "those whose decode measured faster so (Zen 5: Q4_K, Zen 4: Q3_K / Q2_K, Intel: all), "
         "--repack=all every "
         "type with an x16 kernel (batched decode); see docs/performance.md")
      ->check(CLI::IsMember({"faster", "all"}));
  app.add_flag("--reread", *reread,
               "re-read the model into the page cache in 2 MiB pages first (once after a copy or "
               "download)");
}

model::repack_mode repack_mode_of(const std::string& flag) {
  if (flag.empty()) return model::repack_mode::none;
  return flag == "all" ? model::repack_mode::all : model::repack_mode::faster;
}

void add_kv_type_flag(CLI::App& app, std::string* kv_type) {
  app.add_option("--kv-type", *kv_type,
                 "KV cache element type: f16 (default) or q8_0 (half the cache memory and the "
                 "bytes attention reads per key; head dims must be multiples of 32)")
      ->check(CLI::IsMember({"f16", "q8_0"}));
}

void add_attn_bf16_flag(CLI::App& app, bool* attn_bf16) {
  app.add_flag("--attn-bf16", *attn_bf16,
               "BF16 products in prompt attention where the CPU has them (AVX512_BF16: Zen 4 on, "
               "Sapphire Rapids on): long prompts after a long context faster, the attention's "
               "inputs rounded to 8 significant bits (see docs/performance.md)");
}

bool attn_bf16_of(bool flag, const char* cmd) {
  if (flag && !kernels::attn_bf16_available()) {
    std::fprintf(stderr,
                 "uma %s: --attn-bf16: no BF16 products on this CPU or backend (they need "
                 "AVX512_BF16); f32 attention\n",
                 cmd);
    return false;
  }
  return flag;
}

kernels::kv_format kv_format_of(const std::string& flag) {
  kernels::kv_format f = kernels::kv_format::f16;
  kernels::parse_kv_format(flag, &f);
  return f;
}

}  // namespace uma::cli

int main(int argc, char** argv) {
  CLI::App app{"uma: run open LLMs on the machine you own"};
  app.set_version_flag("--version", UMA_VERSION);
  app.require_subcommand(1);
  auto cmds = uma::cli::registry();
  std::sort(cmds.begin(), cmds.end(),
            [](const auto& a, const auto& b) { return std::string(a.name) < b.name; });
  std::map<CLI::App*, uma::cli::runner> runners;
  for (const auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners[sub] = c.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version: 0. A malformed command line (an unknown option, a value that does not
    // convert): CLI11's message and exit status 2, apart from a command's own failures (1); CLI11's
    // own codes (100-115) told scripts nothing they could rely on.
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) {
      try {
        return run();
      } catch (const std::exception& e) {
        return uma::cli::fail(sub->get_name(), e.what());
      }
    }
  }
  return 1;
}
