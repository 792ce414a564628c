// Python semantics of Jinja's binary and comparison operators: int/float/bool arithmetic with
// overflow checks, floor division and modulo signs, str/list concatenation and repetition (with
// Markup escaping), membership, chained-comparison steps.
#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/interpreter.h"

namespace uma::jinja {

namespace {

bool checked_add(int64_t a, int64_t b, int64_t& r) {
  return !__builtin_add_overflow(a, b, &r);
}
bool checked_sub(int64_t a, int64_t b, int64_t& r) {
  return !__builtin_sub_overflow(a, b, &r);
}
bool checked_mul(int64_t a, int64_t b, int64_t& r) {
  return !__builtin_mul_overflow(a, b, &r);
}

int64_t int_of(const value& v) {
  return v.k == kind::boolean ? v.b : v.i;
}
bool is_int_like(const value& v) {
  return v.k == kind::integer || v.k == kind::boolean;
}

[[noreturn]] void bad_operands(const std::string& op, const value& a, const value& b, int line) {
  if (a.is_undefined() || b.is_undefined())
    fail(interpreter::undefined_message(a.is_undefined() ? a : b), line);
  fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) +
           "'",
       line);
}

bool hashable(const value& v) {
  if (v.k == kind::list || v.k == kind::dict || v.k == kind::ns) return false;
  if (v.k == kind::tuple) return std::all_of(v.l->begin(), v.l->end(), hashable);
  return true;
}

}  // namespace

bool interpreter::eval_compare(const std::string& op, const value& a, const value& b, int line) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in" || op == "not in") {
    bool found = false;
    switch (b.k) {
      case kind::undefined:
        break;
      case kind::string:
        if (!a.is_string())
          fail("'in <string>' requires string as left operand, not " + type_name(a), line);
        found = b.str().find(a.str()) != std::string::npos;
        break;
      case kind::list:
      case kind::tuple:
        for (const auto& x : *b.l)
          if (equals(x, a)) {
            found = true;
            break;
          }
        break;
      case kind::dict:
        if (!hashable(a)) fail("unhashable type: '" + type_name(a) + "'", line);
        found = b.d->find(a) != nullptr;
        break;
      default:
        fail("argument of type '" + type_name(b) + "' is not iterable", line);
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined() || b.is_undefined()) fail(undefined_message(a.is_undefined() ? a : b), line);
  int c;
  try {
    c = compare(a, b);
  } catch (jinja_error& e) {
    fail("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" +
             type_name(b) + "'",
         line);
  }
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

value interpreter::eval_binop(const expr& e, const value& a, const value& b) {
  const std::string& op = e.name;
  int line = e.line;
  if (op == "~") {
    std::string s = to_str(a);
    s += to_str(b);
    check_size(s.size(), line);
    return value::string(std::move(s));
  }
  if (a.is_number() && b.is_number()) {
    bool ints = is_int_like(a) && is_int_like(b);
    int64_t x = ints ? int_of(a) : 0, y = ints ? int_of(b) : 0, r = 0;
    double fx = a.as_double(), fy = b.as_double();
    if (op == "+") {
      if (!ints) return value::floating(fx + fy);
      if (!checked_add(x, y, r)) fail("integer overflow", line);
      return value::integer(r);
    }
    if (op == "-") {
      if (!ints) return value::floating(fx - fy);
      if (!checked_sub(x, y, r)) fail("integer overflow", line);
      return value::integer(r);
    }
    if (op == "*") {
      if (!ints) return value::floating(fx * fy);
      if (!checked_mul(x, y, r)) fail("integer overflow", line);
      return value::integer(r);
    }
    if (op == "/") {
      if (fy == 0) fail("division by zero", line);
      return value::floating(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (ints) {
        if (y == 0) fail("integer division or modulo by zero", line);
        if (x == INT64_MIN && y == -1) fail("integer overflow", line);
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          q -= 1;
          m += y;
        }
        return value::integer(op == "//" ? q : m);
      }
      if (fy == 0) fail("float division by zero", line);
      double m = std::fmod(fx, fy);
      if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
      if (op == "%") return value::floating(m);
      return value::floating(std::floor(fx / fy));
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t acc = 1;
        for (int64_t k = 0; k < y; ++k) {
          if (!checked_mul(acc, x, acc)) fail("integer overflow", line);
          if (acc == 0 || acc == 1) break;
          if (acc == -1) {
            acc = ((y - k - 1) % 2 == 0) ? -1 : 1;
            break;
          }
        }
        return value::integer(acc);
      }
      return value::floating(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.b || b.b) {
        std::string s =
            (a.b ? a.str() : html_escape(a.str())) + (b.b ? b.str() : html_escape(b.str()));
        check_size(s.size(), line);
        return value::string(std::move(s), true);
      }
      std::string s = a.str() + b.str();
      check_size(s.size(), line);
      return value::string(std::move(s));
    }
    if (a.is_list_like() && a.k == b.k && !a.b && !b.b) {
      std::vector<value> items = *a.l;
      items.insert(items.end(), b.l->begin(), b.l->end());
      check_size(items.size() * sizeof(value), line);
      return a.k == kind::list ? value::list(std::move(items)) : value::tuple(std::move(items));
    }
  }
  if (op == "*") {
    const value* seq =
        a.is_string() || a.is_list_like() ? &a : (b.is_string() || b.is_list_like() ? &b : nullptr);
    const value* cnt = seq == &a ? &b : &a;
    if (seq && is_int_like(*cnt) && !(seq->is_list_like() && seq->b)) {
      int64_t n = std::max<int64_t>(0, int_of(*cnt));
      size_t unit = seq->is_string() ? seq->str().size() : seq->l->size() * sizeof(value);
      if (unit != 0 && static_cast<uint64_t>(n) > opts_.limits.max_output_bytes / unit)
        fail("repeated value exceeds the size limit", line);
      if (seq->is_string()) {
        std::string s;
        for (int64_t i = 0; i < n; ++i) s += seq->str();
        return value::string(std::move(s), seq->b);
      }
      std::vector<value> items;
      for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq->l->begin(), seq->l->end());
      return seq->k == kind::list ? value::list(std::move(items)) : value::tuple(std::move(items));
    }
  }
  if (op == "%" && a.is_string()) {
    call_args fa;
    fa.pos.push_back(b);
    return apply_filter("format", a, fa, line);
  }
  bad_operands(op, a, b, line);
}

}  // namespace uma::jinja
