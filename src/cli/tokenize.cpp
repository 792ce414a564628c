// `uma tokenize -m MODEL (--text TEXT | --file F)`: show how a model's tokenizer splits text.
// MODEL is a GGUF file or a Hugging Face tokenizer.json. Prints one id per line, or with --json
// {"ids": [...], "pieces": [...]}. --batch treats the input as NUL-separated texts and prints one
// JSON object per text per line (used by the reference-tokenizer tests). --timing reports
// throughput on stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

struct tokenize_cli {
  std::string model;
  std::string text;
  std::string file;
  bool has_text = false;
  bool no_special = false;
  bool add_special = false;
  bool json = false;
  bool batch = false;
  bool timing = false;
};

nlohmann::json to_json(const uma::tok::tokenizer& t, const std::vector<int32_t>& ids) {
  nlohmann::json pieces = nlohmann::json::array();
  for (int32_t id : ids) pieces.push_back(t.token_to_piece(id, /*special=*/true));
  return nlohmann::json{{"ids", ids}, {"pieces", std::move(pieces)}};
}

void print_json(const nlohmann::json& j) {
  // Pieces may hold part of a UTF-8 character: replace invalid bytes rather than fail.
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s += '\n';
  std::fwrite(s.data(), 1, s.size(), stdout);
}

int run_tokenize(const tokenize_cli& c) {
  const std::string cmd = "tokenize";
  if (c.has_text == !c.file.empty())
    return uma::cli::fail(cmd, "give exactly one of --text or --file");
  std::string input;
  if (c.has_text) {
    input = c.text;
  } else {
    std::ifstream in(c.file, std::ios::binary);
    if (!in) return uma::cli::fail(cmd, "cannot open " + c.file);
    std::stringstream ss;
    ss << in.rdbuf();
    input = ss.str();
  }
  auto v = uma::tok::load_vocab_file(c.model);
  if (!v.ok()) return uma::cli::fail(cmd, v.message());
  auto t = uma::tok::tokenizer::create(std::move(v).value());
  if (!t.ok()) return uma::cli::fail(cmd, t.message());
  const uma::tok::encode_options opts{.add_special = c.add_special, .parse_special = !c.no_special};

  auto start = std::chrono::steady_clock::now();
  size_t n_tokens = 0;
  if (c.batch) {
    size_t pos = 0;
    std::vector<int32_t> ids;
    std::vector<nlohmann::json> results;
    for (;;) {
      size_t end = input.find('\0', pos);
      std::string_view one(input.data() + pos,
                           (end == std::string::npos ? input.size() : end) - pos);
      ids.clear();
      t->encode(one, opts, ids);
      n_tokens += ids.size();
      print_json(to_json(*t, ids));
      if (end == std::string::npos) break;
      pos = end + 1;
    }
  } else {
    std::vector<int32_t> ids = t->encode(input, opts);
    n_tokens = ids.size();
    if (!c.timing || c.json) {
      if (c.json) {
        print_json(to_json(*t, ids));
      } else {
        std::string out;
        for (int32_t id : ids) out += std::to_string(id) + '\n';
        std::fwrite(out.data(), 1, out.size(), stdout);
      }
    }
  }
  if (c.timing) {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "tokenized %zu bytes into %zu tokens in %.3f s: %.2f MB/s\n", input.size(),
                 n_tokens, s, s > 0 ? static_cast<double>(input.size()) / 1e6 / s : 0.0);
  }
  return 0;
}

}  // namespace

UMA_COMMAND(tokenize, "show the token ids a model's tokenizer gives a text",
            [](CLI::App& app) -> uma::cli::runner {
              auto o = std::make_shared<tokenize_cli>();
              app.add_option("-m,--model", o->model, "GGUF file or Hugging Face tokenizer.json")
                  ->required();
              app.add_option("--text", o->text, "text to tokenize")->each([o](const std::string&) {
                o->has_text = true;
              });
              app.add_option("--file", o->file, "file whose bytes are tokenized");
              app.add_flag("--no-special", o->no_special,
                           "treat control-token text (\"<|im_start|>\") as plain text");
              app.add_flag("--add-special", o->add_special, "add BOS/EOS as the model asks");
              app.add_flag("--json", o->json, "print {\"ids\": [...], \"pieces\": [...]}");
              app.add_flag("--batch", o->batch,
                           "input holds NUL-separated texts; print one JSON object per line");
              app.add_flag(
                  "--timing", o->timing,
                  "report bytes, tokens and MB/s on stderr (ids are not printed unless --json)");
              return [o] { return run_tokenize(*o); };
            });
