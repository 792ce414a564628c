// Public API of uma's Jinja interpreter: compile a template once, render it many times with a
// context of named values. Renders like Jinja2's ImmutableSandboxedEnvironment as HF transformers
// configures it (trim_blocks, lstrip_blocks, loopcontrols, HF's tojson, raise_exception and
// strftime_now globals). Rendering is bounded: step, output, call-depth and nesting limits turn
// hostile templates into errors instead of hangs or crashes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"
#include "util/status.h"

namespace uma::jinja {

struct render_limits {
  uint64_t max_steps = 4'000'000;        // statements + loop iterations + calls
  size_t max_output_bytes = 64u << 20;   // rendered text (and any string or captured block)
  uint64_t max_work_bytes = 1ull << 30;  // bytes of all strings built while rendering
  int max_call_depth = 100;              // nested macro calls
  int64_t max_range = 100'000;           // items of one range() (as jinja2.sandbox.MAX_RANGE)
  int max_namespaces = 4096;             // namespace() objects per render
};

struct render_options {
  render_limits limits;
  // strftime_now(): seconds since the epoch, formatted in UTC; unset = the current local time.
  std::optional<int64_t> now;
};

struct body_holder;

class compiled_template {
 public:
  // Parses `source`; errors name the line ("line 3: unexpected '}'").
  static result<compiled_template> compile(std::string_view source);

  // Renders with `context` (e.g. messages, tools, bos_token). Errors name the line; an error raised
  // by the template through raise_exception() starts with "raise_exception: ".
  result<std::string> render(const std::vector<std::pair<std::string, value>>& context,
                             const render_options& options = {}) const;

 private:
  std::shared_ptr<const body_holder> body_;
};

}  // namespace uma::jinja
