// Chat-template rendering on top of the Jinja interpreter (see chat_template.h).
#include "tokenizer/chat_template.h"

#include "gguf/gguf.h"

namespace uma::tok {

result<chat_template> chat_template::compile(std::string_view source, std::string bos_token,
                                             std::string eos_token) {
  UMA_ASSIGN(auto t, jinja::compiled_template::compile(source));
  chat_template c;
  c.tmpl_ = std::move(t);
  c.bos_ = std::move(bos_token);
  c.eos_ = std::move(eos_token);
  return c;
}

static std::string token_string(const gguf::file& f, std::string_view id_key) {
  auto id = f.get_uint(id_key);
  const gguf::value* toks = f.find("tokenizer.ggml.tokens");
  if (!id || !toks || !toks->is_array() || toks->elem_type != gguf::value_type::string) return {};
  if (*id >= toks->strs.size()) return {};
  return std::string(toks->strs[*id]);
}

result<chat_template> chat_template::from_gguf(const gguf::file& f) {
  auto src = f.get_string("tokenizer.chat_template");
  if (!src) return make_error("the model has no tokenizer.chat_template");
  auto r = compile(*src, token_string(f, "tokenizer.ggml.bos_token_id"),
                   token_string(f, "tokenizer.ggml.eos_token_id"));
  if (!r) return make_error("tokenizer.chat_template: {}", r.message());
  return r;
}

status validate_chat_input(const nlohmann::ordered_json& messages,
                           const nlohmann::ordered_json& tools,
                           const nlohmann::ordered_json& extra_context) {
  if (!messages.is_array()) return make_error("messages must be a JSON array");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.is_object()) return make_error("messages[{}] must be an object", i);
    auto role = m.find("role");
    if (role == m.end() || !role->is_string())
      return make_error("messages[{}] needs a string \"role\"", i);
    auto content = m.find("content");
    if (content != m.end() && !content->is_string() && !content->is_null() && !content->is_array())
      return make_error("messages[{}].content must be a string, null or an array of parts", i);
    if (content != m.end() && content->is_array())
      for (const auto& part : *content)
        if (!part.is_object()) return make_error("messages[{}].content parts must be objects", i);
    auto calls = m.find("tool_calls");
    if (calls != m.end() && !calls->is_null()) {
      if (!calls->is_array()) return make_error("messages[{}].tool_calls must be an array", i);
      for (const auto& c : *calls)
        if (!c.is_object()) return make_error("messages[{}].tool_calls entries must be objects", i);
    }
  }
  if (!tools.is_null()) {
    if (!tools.is_array()) return make_error("tools must be a JSON array");
    for (size_t i = 0; i < tools.size(); ++i)
      if (!tools[i].is_object()) return make_error("tools[{}] must be an object", i);
  }
  if (!extra_context.is_null() && !extra_context.is_object())
    return make_error("extra context must be a JSON object");
  return {};
}

result<std::string> render_chat(const chat_template& tmpl, const nlohmann::ordered_json& messages,
                                const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                const nlohmann::ordered_json& extra_context,
                                const chat_render_options& options) {
  UMA_TRY(validate_chat_input(messages, tools, extra_context));
  std::vector<std::pair<std::string, jinja::value>> ctx;
  try {
    ctx.emplace_back("messages", jinja::from_json(messages));
    ctx.emplace_back("tools", tools.is_null() ? jinja::value::none() : jinja::from_json(tools));
  } catch (const jinja::jinja_error& e) {
    return make_error("{}", e.message);
  }
  ctx.emplace_back("documents", jinja::value::none());
  ctx.emplace_back("add_generation_prompt", jinja::value::boolean(add_generation_prompt));
  ctx.emplace_back("bos_token", jinja::value::string(tmpl.bos_token()));
  ctx.emplace_back("eos_token", jinja::value::string(tmpl.eos_token()));
  if (extra_context.is_object()) {
    for (auto it = extra_context.begin(); it != extra_context.end(); ++it) {
      try {
        ctx.emplace_back(it.key(), jinja::from_json(it.value()));
      } catch (const jinja::jinja_error& e) {
        return make_error("{}: {}", it.key(), e.message);
      }
    }
  }
  jinja::render_options ro;
  ro.limits = options.limits;
  ro.now = options.now;
  return tmpl.compiled().render(ctx, ro);
}

}  // namespace uma::tok
