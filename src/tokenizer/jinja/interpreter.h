// Tree-walking evaluator for the Jinja AST (internal to src/tokenizer/jinja). The builtins
// (filters, tests, methods, globals) live in builtins.cpp and call back into it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/jinja.h"

namespace uma::jinja {

struct frame {
  std::unordered_map<std::string, value> vars;
  std::shared_ptr<frame> parent;
  const value* find(const std::string& name) const;
};
using frame_ptr = std::shared_ptr<frame>;

using filter_fn = value (*)(interpreter&, const value& input, const call_args& args, int line);
using test_fn = bool (*)(interpreter&, const value& input, const call_args& args, int line);

filter_fn find_filter(const std::string& name);
test_fn find_test(const std::string& name);
// `obj.name` for builtin types (dict/str/list methods); undefined when there is none.
value builtin_attribute(interpreter& in, const value& obj, const std::string& name);
// The globals every template sees (range, dict, namespace, raise_exception, strftime_now, ...).
void add_builtin_globals(frame& globals);

class interpreter {
 public:
  explicit interpreter(const render_options& opts) : opts_(opts) {}

  std::string run(const body& b, frame_ptr globals);

  value call(const value& fn, call_args& args, int line);
  value getattr(const value& obj, const std::string& name, int line);  // obj.name
  value getitem(const value& obj, const value& key, int line);         // obj[key]
  // Items of an iterable (list/tuple: elements, dict: keys, str: characters, undefined: none).
  std::vector<value> iterate(const value& v, int line);
  value apply_filter(const std::string& name, const value& input, const call_args& args, int line);
  bool apply_test(const std::string& name, const value& input, const call_args& args, int line);
  void step(int line);  // counts work against max_steps
  // A string of `bytes` was built: bounds its size and the total bytes built by this render.
  void check_size(size_t bytes, int line);
  // `added` bytes were appended to a buffer that is now `total` bytes long.
  void check_append(size_t total, size_t added, int line);
  value make_namespace(call_args& args, int line);
  value invoke_macro(const stmt& s, const std::weak_ptr<frame>& def, call_args& args);
  // Message of the error raised when `v` (undefined) is used.
  static std::string undefined_message(const value& v);
  const render_options& options() const { return opts_; }

 private:
  enum class flow { normal, brk, cont };
  flow exec_body(const body& b, const frame_ptr& f, std::string& out);
  flow exec(const stmt& s, const frame_ptr& f, std::string& out);
  value eval(const expr& e, const frame_ptr& f);
  value eval_binop(const expr& e, const value& a, const value& b);
  bool eval_compare(const std::string& op, const value& a, const value& b, int line);
  void assign(const stmt& s, const frame_ptr& f, value v);
  value define_macro(const stmt& s, const frame_ptr& f);
  void exec_for(const stmt& s, const frame_ptr& f, std::string& out);
  void bind_targets(const stmt& s, frame& fr, const value& item);
  call_args eval_args(const expr& e, const frame_ptr& f, size_t first);

  const render_options& opts_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  int eval_depth_ = 0;
  int namespaces_ = 0;
  uint64_t work_bytes_ = 0;
  const value* block_input_ = nullptr;
};

}  // namespace uma::jinja
