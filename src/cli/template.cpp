// `uma template (-m MODEL | --template FILE.jinja) --messages FILE.json [--tools FILE.json]
// [--add-generation-prompt] [--kwargs FILE.json]`: print the prompt a chat template renders.
// `--batch FILE.json` renders many cases in one process (used by the Jinja2 comparison test):
// the file is an array of {"messages", "tools", "add_generation_prompt", "kwargs"} and the output
// one JSON array of {"text": ...} or {"error": ...}. A case may carry its own "template" source
// (then -m/--template may be omitted), which the interpreter snippet tests use.
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/vocab.h"

namespace {

using ojson = nlohmann::ordered_json;

struct template_cli {
  std::string model;
  std::string template_file;
  std::string messages;
  std::string tools;
  std::string kwargs;
  std::string batch;
  std::string bos;
  std::string eos;
  bool add_generation_prompt = false;
  std::optional<int64_t> now;
};

uma::result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return uma::make_error("cannot open {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uma::result<ojson> read_json(const std::string& path) {
  UMA_ASSIGN(std::string text, read_file(path));
  ojson j = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return uma::make_error("{}: invalid JSON", path);
  return j;
}

int run_template(const template_cli& c) {
  const std::string cmd = "template";
  if (!c.model.empty() && !c.template_file.empty())
    return uma::cli::fail(cmd, "give only one of -m MODEL or --template FILE");
  if (c.model.empty() && c.template_file.empty() && c.batch.empty())
    return uma::cli::fail(cmd, "give -m MODEL or --template FILE");
  if (c.batch.empty() == c.messages.empty())
    return uma::cli::fail(cmd, "give exactly one of --messages FILE or --batch FILE");

  std::optional<uma::tok::chat_template> tmpl;
  if (!c.model.empty()) {
    // A GGUF file, or (as `uma tokenize` accepts) a Hugging Face tokenizer.json, whose template
    // comes from the tokenizer_config.json beside it.
    if (auto f = uma::gguf::file::open(c.model)) {
      auto t = uma::tok::chat_template::from_gguf(*f);
      if (!t) return uma::cli::fail(cmd, t.message());
      tmpl = std::move(*t);
    } else {
      auto v = uma::tok::load_vocab_file(c.model);
      if (!v) return uma::cli::fail(cmd, v.message());
      if (v->chat_template.empty())
        return uma::cli::fail(cmd, c.model +
                                       ": no chat template (tokenizer_config.json beside "
                                       "a tokenizer.json supplies it)");
      auto token = [&](int32_t id) {
        return id >= 0 && static_cast<size_t>(id) < v->size() ? v->tokens[static_cast<size_t>(id)]
                                                              : std::string();
      };
      auto t = uma::tok::chat_template::compile(v->chat_template, token(v->bos), token(v->eos));
      if (!t) return uma::cli::fail(cmd, c.model + ": chat template: " + t.message());
      tmpl = std::move(*t);
    }
  } else if (!c.template_file.empty()) {
    auto src = read_file(c.template_file);
    if (!src) return uma::cli::fail(cmd, src.message());
    auto t = uma::tok::chat_template::compile(*src, c.bos, c.eos);
    if (!t) return uma::cli::fail(cmd, c.template_file + ": " + t.message());
    tmpl = std::move(*t);
  }
  uma::tok::chat_render_options opts;
  opts.now = c.now;

  if (!c.batch.empty()) {
    auto cases = read_json(c.batch);
    if (!cases) return uma::cli::fail(cmd, cases.message());
    if (!cases->is_array())
      return uma::cli::fail(cmd, c.batch + ": expected a JSON array of cases");
    ojson out = ojson::array();
    for (const auto& cs : *cases) {
      if (!cs.is_object() || !cs.contains("messages"))
        return uma::cli::fail(cmd, c.batch + ": each case needs \"messages\"");
      ojson tools = cs.value("tools", ojson());
      ojson kwargs = cs.value("kwargs", ojson());
      bool agp = cs.value("add_generation_prompt", false);
      auto own = cs.find("template");  // a case may carry its own template source
      std::optional<uma::tok::chat_template> case_tmpl;
      if (own != cs.end() && own->is_string()) {
        auto t = uma::tok::chat_template::compile(own->get<std::string>(), c.bos, c.eos);
        if (!t) {
          out.push_back(ojson{{"error", t.message()}});
          continue;
        }
        case_tmpl = std::move(*t);
      } else if (!tmpl) {
        return uma::cli::fail(cmd, c.batch + ": a case has no \"template\" and no -m/--template");
      }
      auto r = uma::tok::render_chat(case_tmpl ? *case_tmpl : *tmpl, cs["messages"], tools, agp,
                                     kwargs, opts);
      out.push_back(r ? ojson{{"text", *r}} : ojson{{"error", r.message()}});
    }
    std::string s = out.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n";
    std::fwrite(s.data(), 1, s.size(), stdout);
    return 0;
  }

  auto messages = read_json(c.messages);
  if (!messages) return uma::cli::fail(cmd, messages.message());
  ojson tools, kwargs;
  if (!c.tools.empty()) {
    auto t = read_json(c.tools);
    if (!t) return uma::cli::fail(cmd, t.message());
    tools = std::move(*t);
  }
  if (!c.kwargs.empty()) {
    auto k = read_json(c.kwargs);
    if (!k) return uma::cli::fail(cmd, k.message());
    kwargs = std::move(*k);
  }
  auto r = uma::tok::render_chat(*tmpl, *messages, tools, c.add_generation_prompt, kwargs, opts);
  if (!r) return uma::cli::fail(cmd, r.message());
  std::fwrite(r->data(), 1, r->size(), stdout);
  return 0;
}

}  // namespace

UMA_COMMAND(template, "render a chat template for a conversation",
            [](CLI::App& app) -> uma::cli::runner {
              auto o = std::make_shared<template_cli>();
              app.add_option("-m,--model", o->model, "GGUF model (uses tokenizer.chat_template)");
              app.add_option("--template", o->template_file, "Jinja template file instead of -m");
              app.add_option("--messages", o->messages, "JSON file: array of messages");
              app.add_option("--tools", o->tools, "JSON file: array of tool definitions");
              app.add_option("--kwargs", o->kwargs,
                             "JSON file: object of extra template variables (enable_thinking...)");
              app.add_flag("--add-generation-prompt", o->add_generation_prompt,
                           "end with the assistant turn header");
              app.add_option("--bos", o->bos, "bos_token string (with --template)");
              app.add_option("--eos", o->eos, "eos_token string (with --template)");
              app.add_option("--now", o->now,
                             "fixed time for strftime_now(), seconds since the epoch (UTC)");
              app.add_option("--batch", o->batch,
                             "JSON file: array of cases; prints a JSON array of results");
              return [o] { return run_template(*o); };
            });
