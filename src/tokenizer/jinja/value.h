// Runtime values of the Jinja interpreter, modelled on the Python objects Jinja2 sees when HF
// transformers renders a chat template: str() / repr() / json.dumps() must print byte-identically
// to Python, dicts keep insertion order, and Undefined behaves like jinja2.Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace uma::jinja {

// Thrown inside the interpreter and turned into uma::error (with the template line) at the API
// boundary; never escapes jinja::render / jinja::compile.
struct jinja_error {
  std::string message;
  int line = 0;
  bool raised = false;  // raised by the template itself (raise_exception)
};
[[noreturn]] void fail(std::string message, int line = 0);

enum class kind : uint8_t {
  undefined,
  none,
  boolean,
  integer,
  floating,
  string,
  list,
  tuple,
  dict,
  ns,  // jinja2 namespace(): a dict whose attributes can be assigned with {% set ns.x = ... %}
  callable,
};

inline constexpr uint32_t max_value_depth = 512;

struct value;
struct dict;
struct callable;
using list_ptr = std::shared_ptr<std::vector<value>>;
using dict_ptr = std::shared_ptr<dict>;
using callable_ptr = std::shared_ptr<callable>;
using str_ptr = std::shared_ptr<const std::string>;

struct value {
  kind k = kind::undefined;
  bool b = false;      // boolean value; for strings: markupsafe.Markup (the |safe filter)
  int64_t i = 0;       // integer
  double f = 0;        // floating
  str_ptr s;           // string; for undefined: the hint used in error messages
  list_ptr l;          // list and tuple
  dict_ptr d;          // dict and namespace
  callable_ptr c;      // callable
  uint32_t depth = 0;  // container nesting (bounded by max_value_depth)

  value() = default;
  static value undef(std::string hint = {});
  static value none() { return of_kind(kind::none); }
  static value boolean(bool v);
  static value integer(int64_t v);
  static value floating(double v);
  static value string(std::string v, bool markup = false);
  static value list(std::vector<value> items = {});
  static value tuple(std::vector<value> items);
  static value dict_of(dict_ptr d);
  static value new_dict();
  static value callable_of(callable_ptr c);

  bool is_undefined() const { return k == kind::undefined; }
  bool is_none() const { return k == kind::none; }
  bool is_string() const { return k == kind::string; }
  bool is_number() const { return k == kind::integer || k == kind::floating || k == kind::boolean; }
  bool is_list_like() const { return k == kind::list || k == kind::tuple; }
  bool is_mapping() const { return k == kind::dict; }
  const std::string& str() const { return *s; }
  double as_double() const {
    return k == kind::floating ? f : static_cast<double>(k == kind::boolean ? b : i);
  }

 private:
  static value of_kind(kind k) {
    value v;
    v.k = k;
    return v;
  }
};

// An insertion-ordered dict (Python 3.7+ semantics). Small in practice: linear lookup.
struct dict {
  std::vector<std::pair<value, value>> items;
  const value* find(const value& key) const;
  const value* find(std::string_view key) const;
  void set(const value& key, value v);
};

struct call_args {
  std::vector<value> pos;
  std::vector<std::pair<std::string, value>> kw;
  // Positional i or keyword `name`, else undefined; `used` counts consumed arguments.
  const value* get(size_t i, std::string_view name) const;
};

class interpreter;
struct callable {
  std::string name;
  std::function<value(interpreter&, call_args&)> fn;
};

// Python semantics.
bool truthy(const value& v);
std::string to_str(const value& v);     // str(v); undefined -> ""
std::string repr(const value& v);       // repr(v)
std::string type_name(const value& v);  // 'str', 'int', 'dict', ... (for errors)
std::string float_repr(double x);
bool equals(const value& a, const value& b);
int compare(const value& a, const value& b);  // <0, 0, >0; fails on unorderable types
std::string html_escape(std::string_view s);  // markupsafe.escape

struct json_options {
  int indent = -1;  // < 0: compact (single line)
  std::string item_sep;
  std::string key_sep;
  bool sort_keys = false;
  bool ensure_ascii = false;
};
std::string to_json(const value& v, const json_options& o);  // json.dumps
value from_json(const nlohmann::ordered_json& j);            // objects keep key order

// UTF-8 helpers: Python strings index code points.
std::vector<uint32_t> utf8_decode(std::string_view s);
void utf8_append(std::string& out, uint32_t cp);
std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t utf8_length(std::string_view s);
bool py_isspace(uint32_t cp);

}  // namespace uma::jinja
