// `uma perplexity -m MODEL -f TEXT_FILE [--ctx N] [--json] [--kl-save F | --kl-base F]`:
// perplexity over non-overlapping windows of N tokens, scoring the second half of each
// (src/engine/perplexity.h); --kl-save / --kl-base save the scored positions' distributions and
// compare another run with them (src/engine/kl_divergence.h).
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "engine/kl_divergence.h"
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
  std::string kl_save, kl_base;  // --kl-save, --kl-base
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
  // --kl-save / --kl-base: the header this run's scored positions make.
  const uma::engine::kl_header kh{static_cast<uint32_t>((*m)->config().n_vocab),
                                  static_cast<uint64_t>(c.ctx),
                                  static_cast<uint64_t>(uma::engine::kl_scored_rows(
                                      static_cast<int64_t>(tokens.size()), c.ctx)),
                                  uma::engine::kl_tokens_hash(tokens, c.ctx)};
  std::unique_ptr<uma::engine::kl_writer> save;
  std::unique_ptr<uma::engine::kl_reader> base;
  uma::engine::scored_row_fn on_row;
  if (!c.kl_save.empty()) {
    auto w = uma::engine::kl_writer::create(c.kl_save, kh);
    if (!w) return uma::cli::fail(cmd, w.message());
    save = std::move(*w);
    std::fprintf(stderr, "saving %llu positions x %u log-probabilities (%.2f GB) to %s\n",
                 static_cast<unsigned long long>(kh.rows), kh.n_vocab,
                 uma::engine::kl_file_bytes(kh) / 1e9, c.kl_save.c_str());
    on_row = [&](const float* l) { return save->write_row(l); };
  } else if (!c.kl_base.empty()) {
    auto b = uma::engine::kl_reader::open(c.kl_base, kh);
    if (!b) return uma::cli::fail(cmd, b.message());
    base = std::move(*b);
    on_row = [&](const float* l) { return base->compare_row(l); };
  }
  auto r = uma::engine::perplexity(**m, tokens, c.ctx, bos, uma::engine::prefill_chunk, on_row);
  if (!r) return uma::cli::fail(cmd, r.message());
  if (save) {
    if (auto st = save->finish(); !st.ok()) return uma::cli::fail(cmd, st.message());
  }
  const uma::engine::kl_summary kl = base ? base->summary() : uma::engine::kl_summary{};
  if (c.json) {
    nlohmann::ordered_json j = {{"perplexity", r->perplexity},
                                {"mean_nll", r->mean_nll},
                                {"windows", r->windows},
                                {"ctx", c.ctx},
                                {"scored_tokens", r->scored_tokens},
                                {"text_tokens", tokens.size()},
                                {"seconds", r->seconds}};
    if (base) {
      j["kl_base"] = c.kl_base;
      j["kl_mean"] = kl.kl_mean;
      j["kl_median"] = kl.kl_median;
      j["kl_p99"] = kl.kl_p99;
      j["kl_max"] = kl.kl_max;
      j["top1_agree"] = kl.top1_agree;
    }
    if (save) j["kl_saved"] = c.kl_save;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::fprintf(stderr, "%lld windows of %lld tokens, %lld tokens scored, %.2f s (%.1f tok/s)\n",
                 static_cast<long long>(r->windows), static_cast<long long>(c.ctx),
                 static_cast<long long>(r->scored_tokens), r->seconds,
                 r->seconds > 0 ? double(r->windows * c.ctx) / r->seconds : 0.0);
    std::printf("perplexity: %.4f\n", r->perplexity);
    if (base)
      std::printf(
          "KL divergence from %s over %lld positions: mean %.6g, median %.6g, p99 %.6g, max "
          "%.6g; same top token %.2f %%\n",
          c.kl_base.c_str(), static_cast<long long>(kl.rows), kl.kl_mean, kl.kl_median, kl.kl_p99,
          kl.kl_max, 100 * kl.top1_agree);
    if (save)
      std::fprintf(stderr, "saved %lld positions' log-probabilities to %s\n",
                   static_cast<long long>(r->scored_tokens), c.kl_save.c_str());
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
              auto* save = app.add_option(
                  "--kl-save", c->kl_save,
                  "save every scored position's log-probabilities to this file (n_vocab floats "
                  "each: 0.6 MB a position for a 152k vocabulary), for --kl-base");
              app.add_option("--kl-base", c->kl_base,
                             "compare with a --kl-save file of the same text and --ctx: KL "
                             "divergence per position (mean, median, p99, max) and how often the "
                             "top token is the same, as llama-perplexity's --kl-divergence")
                  ->excludes(save);
              return [c] { return run_perplexity(*c); };
            });
