// Chat templates: turn an OpenAI-style conversation (messages, tools) into the prompt text a model
// expects, by rendering the model's Jinja chat template the way HF transformers'
// apply_chat_template does. Compile once (chat_template), render per request (render_chat).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/jinja.h"
#include "util/status.h"

namespace uma::gguf {
class file;
}

namespace uma::tok {

class chat_template {
 public:
  // Compiles `source`; bos/eos are the strings the template sees as bos_token / eos_token.
  static result<chat_template> compile(std::string_view source, std::string bos_token = {},
                                       std::string eos_token = {});
  // tokenizer.chat_template, with bos/eos from tokenizer.ggml.tokens[bos_token_id/eos_token_id].
  static result<chat_template> from_gguf(const gguf::file& f);

  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }
  const jinja::compiled_template& compiled() const { return tmpl_; }

 private:
  jinja::compiled_template tmpl_;
  std::string bos_, eos_;
};

struct chat_render_options {
  jinja::render_limits limits;
  std::optional<int64_t> now;  // fixed strftime_now() time (UTC seconds); unset = local now
};

// Checks that messages is an array of objects with a string "role", content that is a string,
// null or an array of parts, and tool_calls (if any) an array of objects; tools an array of
// objects or null; extra_context an object or null. Errors name the offending message.
status validate_chat_input(const nlohmann::ordered_json& messages,
                           const nlohmann::ordered_json& tools,
                           const nlohmann::ordered_json& extra_context);

// Renders like transformers: render(messages=..., tools=tools or None, documents=None,
// add_generation_prompt=..., bos_token=..., eos_token=..., **extra_context).
result<std::string> render_chat(const chat_template& tmpl, const nlohmann::ordered_json& messages,
                                const nlohmann::ordered_json& tools, bool add_generation_prompt,
                                const nlohmann::ordered_json& extra_context = nullptr,
                                const chat_render_options& options = {});

}  // namespace uma::tok
