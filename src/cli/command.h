// Subcommand registry: each src/cli/<name>.cpp registers itself with UMA_COMMAND, so main.cpp only
// dispatches and adding a subcommand touches one file.
//
//   UMA_COMMAND(inspect, "print a GGUF's metadata, tensors, memory needs",
//               [](CLI::App& app) -> uma::cli::runner {
//                 auto o = std::make_shared<opts>();
//                 app.add_option("file", o->path)->required();
//                 return [o] { return run_inspect(*o); };   // returns the exit code
//               });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace uma::model {
enum class repack_mode;  // model/model.h
}  // namespace uma::model
namespace uma::kernels {
enum class kv_format : uint8_t;  // kernels/ops.h
}  // namespace uma::kernels

namespace uma::cli {

using runner = std::function<int()>;
using setup_fn = runner (*)(CLI::App&);

struct command {
  const char* name;
  const char* help;
  setup_fn setup;
};

std::vector<command>& registry();

struct registrar {
  registrar(const char* name, const char* help, setup_fn setup) {
    registry().push_back({name, help, setup});
  }
};

// Prints "uma <cmd>: error: <message>" on one line to stderr; returns 1 (the exit code to use).
int fail(const std::string& cmd, const std::string& message);
// Whether a --threads value is out of range (0: one per physical core, at most the pool's
// limit); if so, says so through fail() and sets *code to its exit code.
bool bad_threads(const std::string& cmd, int threads, int* code);
// The weight-loading flags of the commands that load a model (run, bench, perplexity):
// --repack[=faster|all] (model::load_options::repack; empty when not given) and --reread
// (load_options::reread_huge).
void add_weight_flags(CLI::App& app, std::string* repack, bool* reread);
// The load_options::repack of a --repack value ("" none, "faster", "all").
model::repack_mode repack_mode_of(const std::string& flag);
// --kv-type f16|q8_0 (model::load_options::kv_format; "f16" unless given), of the same commands.
void add_kv_type_flag(CLI::App& app, std::string* kv_type);
// The kernels::kv_format of a --kv-type value (checked by the flag).
kernels::kv_format kv_format_of(const std::string& flag);
// --attn-bf16 (load_options::attn_bf16), and its value for this CPU (false, with a note on
// stderr, where the flag asks for products the CPU does not have).
void add_attn_bf16_flag(CLI::App& app, bool* attn_bf16);
bool attn_bf16_of(bool flag, const char* cmd);

}  // namespace uma::cli

#define UMA_COMMAND(name, help, setup) \
  static ::uma::cli::registrar uma_cmd_registrar_##name(#name, help, setup)
