// `uma perplexity -m MODEL -f TEXT_FILE [--ctx N] [--json]`: perplexity over non-overlapping
// windows of N tokens, scoring the second half of each (src/engine/perplexity.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/perplexity.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

struct ppl_cli {
  std::string model;
  std::string file;
  int64_t ctx = 512;
  int threads = 0;
  bool json = false;
  std::string repack;           // --repack's value, "" when not given
  std::string kv_type = "f16";  // --kv-type
  bool attn_bf16 = false;       // --attn-bf16
  bool reread = false;
};

int run_perplexity(const ppl_cli& c) {
  const std::string cmd = "perplexity";
  if (c.ctx < 4) return uma::cli::fail(cmd, "--ctx must be at least 4");
  if (int code = 0; uma::cli::bad_threads(cmd, c.threads, &code)) return code;
  std::ifstream in(c.file, std::ios::binary);
  if (!in) return uma::cli::fail(cmd, "cannot open text file " + c.file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();

  auto m = uma::model::load_model(c.model,
                                  {.n_threads = c.threads,
                                   .max_context = c.ctx,
                                   .repack = uma::cli::repack_mode_of(c.repack),
                                   .reread_huge = c.reread,
                                   .kv_format = uma::cli::kv_format_of(c.kv_type),
                                   .attn_bf16 = uma::cli::attn_bf16_of(c.attn_bf16, cmd.c_str())});
  if (!m) return uma::cli::fail(cmd, m.message());
  auto v = uma::tok::load_vocab((*m)->file());
  if (!v) return uma::cli::fail(cmd, c.model + ": no usable tokenizer: " + v.message());
  auto tk = uma::tok::tokenizer::create(std::move(*v));
  if (!tk) return uma::cli::fail(cmd, c.model + ": no usable tokenizer: " + tk.message());
  const auto tokens = tk->encode(text, {.add_special = false, .parse_special = false});
  const auto& vocab = tk->get_vocab();
  const int32_t bos = vocab.add_bos ? vocab.bos : -1;
  auto r = uma::engine::perplexity(**m, tokens, c.ctx, bos);
  if (!r) return uma::cli::fail(cmd, r.message());
  if (c.json) {
    nlohmann::ordered_json j = {{"perplexity", r->perplexity},
                                {"mean_nll", r->mean_nll},
                                {"windows", r->windows},
                                {"ctx", c.ctx},
                                {"scored_tokens", r->scored_tokens},
                                {"text_tokens", tokens.size()},
                                {"seconds", r->seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::fprintf(stderr, "%lld windows of %lld tokens, %lld tokens scored, %.2f s (%.1f tok/s)\n",
                 static_cast<long long>(r->windows), static_cast<long long>(c.ctx),
                 static_cast<long long>(r->scored_tokens), r->seconds,
                 r->seconds > 0 ? double(r->windows * c.ctx) / r->seconds : 0.0);
    std::printf("perplexity: %.4f\n", r->perplexity);
  }
  return 0;
}

}  // namespace

UMA_COMMAND(perplexity, "perplexity of a model on a text file",
            [](CLI::App& app) -> uma::cli::runner {
              auto c = std::make_shared<ppl_cli>();
              app.add_option("-m,--model", c->model, "GGUF model file")->required();
              app.add_option("-f,--file", c->file, "text file")->required();
              app.add_option("-c,--ctx", c->ctx, "window length in tokens (default 512)");
              app.add_option("-t,--threads", c->threads, "threads (default: physical cores)");
              app.add_flag("--json", c->json, "print the result as JSON");
              uma::cli::add_weight_flags(app, &c->repack, &c->reread);
              uma::cli::add_kv_type_flag(app, &c->kv_type);
              uma::cli::add_attn_bf16_flag(app, &c->attn_bf16);
              return [c] { return run_perplexity(*c); };
            });
