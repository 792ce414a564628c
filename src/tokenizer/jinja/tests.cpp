// Jinja2's builtin tests (`x is defined`, `is mapping`, `is divisibleby 3`, ...), with Python
// semantics for the types chat templates pass (numbers, strings, lists, dicts, Undefined).
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace uma::jinja {

namespace {

using args_t = const call_args&;

using tfn = test_fn;
bool t_defined(interpreter&, const value& v, args_t, int) {
  return !v.is_undefined();
}
bool t_undefined(interpreter&, const value& v, args_t, int) {
  return v.is_undefined();
}
bool t_none(interpreter&, const value& v, args_t, int) {
  return v.is_none();
}
bool t_string(interpreter&, const value& v, args_t, int) {
  return v.is_string();
}
bool t_mapping(interpreter&, const value& v, args_t, int) {
  return v.k == kind::dict;
}
bool t_iterable(interpreter&, const value& v, args_t, int) {
  return v.is_undefined() || v.is_string() || v.is_list_like() || v.k == kind::dict;
}
bool t_sequence(interpreter&, const value& v, args_t, int) {
  return v.is_undefined() || v.is_string() || (v.is_list_like() && !v.b) || v.k == kind::dict;
}
bool t_number(interpreter&, const value& v, args_t, int) {
  return v.is_number();
}
bool t_integer(interpreter&, const value& v, args_t, int) {
  return v.k == kind::integer;
}
bool t_float(interpreter&, const value& v, args_t, int) {
  return v.k == kind::floating;
}
bool t_boolean(interpreter&, const value& v, args_t, int) {
  return v.k == kind::boolean;
}
bool t_true(interpreter&, const value& v, args_t, int) {
  return v.k == kind::boolean && v.b;
}
bool t_false(interpreter&, const value& v, args_t, int) {
  return v.k == kind::boolean && !v.b;
}
bool t_callable(interpreter&, const value& v, args_t, int) {
  return v.k == kind::callable;
}
bool t_escaped(interpreter&, const value& v, args_t, int) {
  return v.is_string() && v.b;
}
int64_t int_arg(const value& v, args_t a, int line) {
  const value* x = a.get(0, "num");
  if (!v.is_number() || !x || !x->is_number()) fail("test expects numbers", line);
  return x->k == kind::boolean ? x->b : x->i;
}
// jinja2: value % 2 == 0 / == 1 with Python's modulo (floats allowed).
double py_mod2(const value& v, int line) {
  if (!v.is_number())
    fail("unsupported operand type(s) for %: '" + type_name(v) + "' and 'int'", line);
  if (v.k != kind::floating) {
    int64_t x = v.k == kind::boolean ? v.b : v.i;
    return static_cast<double>(((x % 2) + 2) % 2);
  }
  double m = std::fmod(v.f, 2.0);
  return m < 0 ? m + 2.0 : m;
}
bool t_even(interpreter&, const value& v, args_t, int line) {
  return py_mod2(v, line) == 0;
}
bool t_odd(interpreter&, const value& v, args_t, int line) {
  return py_mod2(v, line) == 1;
}
bool t_divisibleby(interpreter&, const value& v, args_t a, int line) {
  int64_t n = int_arg(v, a, line);
  if (n == 0) fail("integer division or modulo by zero", line);
  return (v.k == kind::boolean ? v.b : v.i) % n == 0;
}
const value& other(args_t a, int line) {
  const value* x = a.get(0, "other");
  if (!x) fail("test expects an argument", line);
  return *x;
}
bool t_eq(interpreter&, const value& v, args_t a, int line) {
  return equals(v, other(a, line));
}
bool t_ne(interpreter&, const value& v, args_t a, int line) {
  return !equals(v, other(a, line));
}
bool t_lt(interpreter&, const value& v, args_t a, int line) {
  return compare(v, other(a, line)) < 0;
}
bool t_le(interpreter&, const value& v, args_t a, int line) {
  return compare(v, other(a, line)) <= 0;
}
bool t_gt(interpreter&, const value& v, args_t a, int line) {
  return compare(v, other(a, line)) > 0;
}
bool t_ge(interpreter&, const value& v, args_t a, int line) {
  return compare(v, other(a, line)) >= 0;
}
bool t_sameas(interpreter&, const value& v, args_t a, int line) {
  const value& o = other(a, line);
  if (v.k != o.k) return false;
  switch (v.k) {
    case kind::none:
    case kind::undefined:
      return true;
    case kind::boolean:
      return v.b == o.b;
    case kind::integer:
      return v.i == o.i && v.i >= -5 && v.i <= 256;
    case kind::list:
    case kind::tuple:
      return v.l == o.l;
    case kind::dict:
    case kind::ns:
      return v.d == o.d;
    case kind::callable:
      return v.c == o.c;
    case kind::string:
      return v.s == o.s;
    default:
      return false;
  }
}
bool t_in(interpreter&, const value& v, args_t a, int line) {
  const value& seq = other(a, line);
  if (seq.is_string()) return v.is_string() && seq.str().find(v.str()) != std::string::npos;
  if (seq.is_list_like())
    return std::any_of(seq.l->begin(), seq.l->end(), [&](const value& x) { return equals(x, v); });
  if (seq.k == kind::dict) return seq.d->find(v) != nullptr;
  fail("argument of type '" + type_name(seq) + "' is not iterable", line);
}
bool t_lower(interpreter&, const value& v, args_t, int) {
  if (!v.is_string()) return false;
  std::string s = to_str(v);
  return py::lower(s) == s && py::upper(s) != s;
}
bool t_upper(interpreter&, const value& v, args_t, int) {
  if (!v.is_string()) return false;
  std::string s = to_str(v);
  return py::upper(s) == s && py::lower(s) != s;
}
bool t_filter(interpreter&, const value& v, args_t, int) {
  return v.is_string() && find_filter(v.str()) != nullptr;
}
bool t_test(interpreter&, const value& v, args_t, int) {
  return v.is_string() && find_test(v.str()) != nullptr;
}

}  // namespace

test_fn find_test(const std::string& name) {
  static const std::unordered_map<std::string, tfn> tests = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_sequence},
      {"number", t_number},
      {"integer", t_integer},
      {"float", t_float},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"callable", t_callable},
      {"escaped", t_escaped},
      {"even", t_even},
      {"odd", t_odd},
      {"divisibleby", t_divisibleby},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"sameas", t_sameas},
      {"in", t_in},
      {"lower", t_lower},
      {"upper", t_upper},
      {"filter", t_filter},
      {"test", t_test},
  };
  auto it = tests.find(name);
  return it == tests.end() ? nullptr : it->second;
}

}  // namespace uma::jinja
