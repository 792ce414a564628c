// `uma run -m MODEL -p PROMPT`: generate text in the terminal. Text streams to stdout (whole UTF-8
// characters only); statistics go to stderr. `--chat` wraps the prompt in the model's chat
// template; `-i` holds an interactive chat, one user message per stdin line, reusing the cached
// conversation prefix between turns.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/generate.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

struct run_cli {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  std::string system;
  int n_predict = 128;
  int threads = 0;
  int64_t ctx = 0;
  std::optional<uint64_t> seed;
  uma::sampling::params sp;
  std::vector<std::string> stop;
  bool chat = false;
  bool interactive = false;
  bool quiet = false;
  std::string repack;           // --repack's value, "" when not given
  std::string kv_type = "f16";  // --kv-type
  bool attn_bf16 = false;       // --attn-bf16
  bool reread = false;
};

const std::string k_cmd = "run";

void print_stats(const uma::engine::generate_stats& s) {
  auto rate = [](int64_t n, double sec) { return sec > 0 ? double(n) / sec : 0.0; };
  std::fprintf(stderr,
               "\n[prompt: %lld tokens (%lld cached) in %.2f s, %.1f tok/s | generation: %lld "
               "tokens in %.2f s, %.1f tok/s | stop: %s]\n",
               static_cast<long long>(s.prompt_tokens), static_cast<long long>(s.reused_tokens),
               s.prompt_seconds, rate(s.prompt_tokens, s.prompt_seconds),
               static_cast<long long>(s.generated_tokens), s.generate_seconds,
               rate(s.generated_tokens, s.generate_seconds), s.stop_reason.c_str());
}

// Tokens of a rendered chat prompt: the template writes BOS itself when the model wants one.
std::vector<int32_t> encode_chat(const uma::tok::tokenizer& t, const std::string& text) {
  auto ids = t.encode(text, {.add_special = false, .parse_special = true});
  const auto& v = t.get_vocab();
  if (v.add_bos && v.bos >= 0 && (ids.empty() || ids.front() != v.bos)) {
    ids.insert(ids.begin(), v.bos);
  }
  return ids;
}

int run(run_cli c) {
  if (c.n_predict < -1)
    return uma::cli::fail(k_cmd, "-n must be >= -1 (-1: until the context is full)");
  if (int code = 0; uma::cli::bad_threads(k_cmd, c.threads, &code)) return code;
  if (c.ctx < 0) return uma::cli::fail(k_cmd, "--ctx must be >= 0");
  if (!c.prompt_file.empty()) {
    std::ifstream in(c.prompt_file, std::ios::binary);
    if (!in) return uma::cli::fail(k_cmd, "cannot open prompt file " + c.prompt_file);
    std::stringstream ss;
    ss << in.rdbuf();
    c.prompt = ss.str();
  }
  if (c.interactive) c.chat = true;
  c.sp.seed = c.seed ? *c.seed : std::random_device{}();

  auto m = uma::model::load_model(
      c.model, {.n_threads = c.threads,
                .max_context = c.ctx,
                .repack = uma::cli::repack_mode_of(c.repack),
                .reread_huge = c.reread,
                .kv_format = uma::cli::kv_format_of(c.kv_type),
                .attn_bf16 = uma::cli::attn_bf16_of(c.attn_bf16, k_cmd.c_str())});
  if (!m) return uma::cli::fail(k_cmd, m.message());
  auto& model = **m;
  auto v = uma::tok::load_vocab(model.file());
  if (!v) return uma::cli::fail(k_cmd, c.model + ": no usable tokenizer: " + v.message());
  auto tk = uma::tok::tokenizer::create(std::move(*v));
  if (!tk) return uma::cli::fail(k_cmd, c.model + ": no usable tokenizer: " + tk.message());
  auto smp = uma::sampling::sampler::create(c.sp, model.config().n_vocab);
  if (!smp) return uma::cli::fail(k_cmd, smp.message());

  uma::engine::session sess(model, *tk, 0);
  uma::engine::generate_options go;
  go.max_tokens = c.n_predict;
  go.stop = c.stop;
  auto stream = [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  };

  if (!c.chat) {
    auto ids = tk->encode(c.prompt, {.add_special = true, .parse_special = true});
    if (ids.empty())
      return uma::cli::fail(k_cmd, "the prompt is empty and the model has no BOS token");
    std::fwrite(c.prompt.data(), 1, c.prompt.size(), stdout);
    auto st = sess.generate(ids, *smp, go, stream);
    if (!st) return uma::cli::fail(k_cmd, st.message());
    std::fputc('\n', stdout);
    if (!c.quiet) print_stats(*st);
    return 0;
  }

  auto tmpl = uma::tok::chat_template::from_gguf(model.file());
  if (!tmpl) return uma::cli::fail(k_cmd, c.model + ": no usable chat template: " + tmpl.message());
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!c.system.empty()) messages.push_back({{"role", "system"}, {"content", c.system}});

  auto turn = [&](const std::string& user) -> int {
    messages.push_back({{"role", "user"}, {"content", user}});
    auto text = uma::tok::render_chat(*tmpl, messages, nullptr, true);
    if (!text) return uma::cli::fail(k_cmd, "chat template: " + text.message());
    std::string reply;
    auto st = sess.generate(encode_chat(*tk, *text), *smp, go, [&](std::string_view piece) {
      reply.append(piece);
      return stream(piece);
    });
    if (!st) return uma::cli::fail(k_cmd, st.message());
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (!c.quiet) print_stats(*st);
    messages.push_back({{"role", "assistant"}, {"content", reply}});
    return 0;
  };

  if (!c.interactive) return turn(c.prompt);
  if (!c.prompt.empty()) {
    if (int rc = turn(c.prompt)) return rc;
  }
  std::string line;
  while (true) {
    std::fputs("> ", stderr);
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (int rc = turn(line)) return rc;
  }
  return 0;
}

}  // namespace

UMA_COMMAND(run, "generate text from a prompt (chat with --chat or -i)",
            [](CLI::App& app) -> uma::cli::runner {
              auto c = std::make_shared<run_cli>();
              app.add_option("-m,--model", c->model, "GGUF model file")->required();
              app.add_option("-p,--prompt", c->prompt, "prompt text");
              app.add_option("-f,--file", c->prompt_file, "read the prompt from a file");
              app.add_option("-n,--n-predict", c->n_predict,
                             "tokens to generate (default 128, -1: until the context is full)");
              app.add_option("--temp", c->sp.temperature, "temperature (default 0.8, 0: greedy)");
              app.add_option("--seed", c->seed, "random seed (default: random)");
              app.add_option("--top-k", c->sp.top_k, "top-k (default 40, 0: off)");
              app.add_option("--top-p", c->sp.top_p, "top-p (default 0.95, 1: off)");
              app.add_option("--min-p", c->sp.min_p, "min-p (default 0.05, 0: off)");
              app.add_option("--typical-p", c->sp.typical_p, "typical-p (default 1: off)");
              app.add_option("--repeat-penalty", c->sp.repeat_penalty,
                             "repetition penalty (default 1: off)");
              app.add_option("--repeat-last-n", c->sp.repeat_last_n,
                             "tokens the penalties look back (default 64)");
              app.add_option("--presence-penalty", c->sp.presence_penalty, "(default 0)");
              app.add_option("--frequency-penalty", c->sp.frequency_penalty, "(default 0)");
              app.add_option("--stop", c->stop, "stop string (repeatable)");
              app.add_flag("--chat", c->chat, "wrap the prompt in the model's chat template");
              app.add_flag("-i,--interactive", c->interactive,
                           "interactive chat: one message per stdin line");
              app.add_option("--system", c->system, "system message (chat modes)");
              app.add_option("-t,--threads", c->threads, "threads (default: physical cores)");
              app.add_option("-c,--ctx", c->ctx, "context length (default: min(trained, 4096))");
              app.add_flag("-q,--quiet", c->quiet, "no statistics on stderr");
              uma::cli::add_weight_flags(app, &c->repack, &c->reread);
              uma::cli::add_kv_type_flag(app, &c->kv_type);
              uma::cli::add_attn_bf16_flag(app, &c->attn_bf16);
              return [c] { return run(*c); };
            });
