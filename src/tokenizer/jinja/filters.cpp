// Jinja2's builtin filters (the subset chat templates use), with HF's tojson override.
// Filters that return generators in Jinja2 (map, select, items, ...) return lists flagged as
// generators so truthiness and |length behave as in Python.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace uma::jinja {

namespace {

using args_t = const call_args&;

value generator(std::vector<value> items) {
  value v = value::list(std::move(items));
  v.b = true;
  return v;
}

const value* arg(args_t a, size_t i, std::string_view name) {
  return a.get(i, name);
}
bool arg_bool(args_t a, size_t i, std::string_view name, bool def) {
  const value* v = arg(a, i, name);
  return v ? truthy(*v) : def;
}
std::optional<std::string> arg_str(args_t a, size_t i, std::string_view name) {
  const value* v = arg(a, i, name);
  if (!v || v->is_none() || v->is_undefined()) return std::nullopt;
  return to_str(*v);
}

// Jinja2's make_attrgetter: "a.b.0" looked up with getitem semantics.
value get_path(interpreter& in, const value& item, const std::string& path, int line) {
  value cur = item;
  size_t pos = 0;
  while (true) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = in.getitem(cur, digits ? value::integer(std::atoll(part.c_str())) : value::string(part),
                     line);
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

value lower_if_string(const value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return value::string(py::lower(v.str()));
  return v;
}

int64_t len_of(const value& v, int line) {
  switch (v.k) {
    case kind::undefined:
      return 0;
    case kind::string:
      return static_cast<int64_t>(utf8_length(v.str()));
    case kind::list:
    case kind::tuple:
      if (v.b) fail("object of type 'generator' has no len()", line);
      return static_cast<int64_t>(v.l->size());
    case kind::dict:
      return static_cast<int64_t>(v.d->items.size());
    default:
      fail("object of type '" + type_name(v) + "' has no len()", line);
  }
}

value f_length(interpreter&, const value& v, args_t, int line) {
  return value::integer(len_of(v, line));
}

value f_tojson(interpreter&, const value& v, args_t a, int line) {
  json_options o;
  const value* ind = arg(a, 0, "indent");
  if (ind && !ind->is_none()) {
    if (ind->k != kind::integer) fail("tojson: indent must be an integer", line);
    o.indent = static_cast<int>(std::clamp<int64_t>(ind->i, 0, 64));
  }
  o.ensure_ascii = arg_bool(a, 1, "ensure_ascii", false);
  o.sort_keys = arg_bool(a, 3, "sort_keys", false);
  o.item_sep = o.indent < 0 ? ", " : ",";
  o.key_sep = ": ";
  const value* seps = arg(a, 2, "separators");
  if (seps && !seps->is_none()) {
    if (!seps->is_list_like() || seps->l->size() != 2)
      fail("tojson: separators must be a pair", line);
    o.item_sep = to_str((*seps->l)[0]);
    o.key_sep = to_str((*seps->l)[1]);
  }
  return value::string(to_json(v, o));
}

value keep_markup(const value& in, std::string s) {
  return value::string(std::move(s), in.is_string() && in.b);
}

value f_trim(interpreter&, const value& v, args_t a, int) {
  return keep_markup(v, py::strip(to_str(v), arg_str(a, 0, "chars"), py::side::both));
}
value f_string(interpreter&, const value& v, args_t, int) {
  if (v.is_string()) return v;
  return value::string(to_str(v));
}
value f_default(interpreter&, const value& v, args_t a, int) {
  bool boolean = arg_bool(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !truthy(v))) {
    const value* d = arg(a, 0, "default_value");
    return d ? *d : value::string("");
  }
  return v;
}
value f_items(interpreter&, const value& v, args_t, int line) {
  if (v.is_undefined()) return generator({});
  if (v.k != kind::dict) fail("Can only get item pairs from a mapping.", line);
  std::vector<value> out;
  for (const auto& [k, x] : v.d->items) out.push_back(value::tuple({k, x}));
  return generator(std::move(out));
}
value f_join(interpreter& in, const value& v, args_t a, int line) {
  std::string sep = arg_str(a, 0, "d").value_or("");
  auto attr = arg_str(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& x : in.iterate(v, line)) {
    if (!first) out += sep;
    first = false;
    std::string piece = to_str(attr ? get_path(in, x, *attr, line) : x);
    out += piece;
    in.check_append(out.size(), piece.size() + sep.size(), line);
  }
  return value::string(std::move(out));
}
value f_upper(interpreter&, const value& v, args_t, int) {
  return keep_markup(v, py::upper(to_str(v)));
}
value f_lower(interpreter&, const value& v, args_t, int) {
  return keep_markup(v, py::lower(to_str(v)));
}
value f_capitalize(interpreter&, const value& v, args_t, int) {
  return keep_markup(v, py::capitalize(to_str(v)));
}
value f_title(interpreter&, const value& v, args_t, int) {
  // jinja2 do_title: split on runs of [-\s({[<], capitalize the first char of each piece.
  std::string s = to_str(v), out;
  auto cps = utf8_decode(s);
  bool at_start = true;
  for (uint32_t c : cps) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
    std::string one;
    utf8_append(one, c);
    if (sep) {
      out += one;
      at_start = true;
    } else {
      out += at_start ? py::upper(one) : py::lower(one);
      at_start = false;
    }
  }
  return keep_markup(v, std::move(out));
}
value f_safe(interpreter&, const value& v, args_t, int) {
  return value::string(to_str(v), true);
}
value f_escape(interpreter&, const value& v, args_t, int) {
  if (v.is_string() && v.b) return v;
  return value::string(html_escape(to_str(v)), true);
}
value f_list(interpreter& in, const value& v, args_t, int line) {
  return value::list(in.iterate(v, line));
}

value sorted(interpreter& in, std::vector<value> items, bool reverse, bool case_sensitive,
             const std::optional<std::string>& attr, int line) {
  std::vector<std::pair<value, value>> keyed;
  std::vector<std::string> parts;  // "a,b.c": several keys, compared in order
  if (attr) {
    size_t pos = 0;
    for (size_t c; (c = attr->find(',', pos)) != std::string::npos; pos = c + 1)
      parts.push_back(attr->substr(pos, c - pos));
    parts.push_back(attr->substr(pos));
  }
  for (auto& x : items) {
    std::vector<value> key;
    if (parts.empty()) key.push_back(lower_if_string(x, case_sensitive));
    for (const auto& p : parts)
      key.push_back(lower_if_string(get_path(in, x, p, line), case_sensitive));
    keyed.emplace_back(value::tuple(std::move(key)), std::move(x));
  }
  // Keys are lists in jinja2, so equal keys (even Undefined ones) are never ordered with '<'.
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& p, const auto& q) {
    return reverse ? compare(q.first, p.first) < 0 : compare(p.first, q.first) < 0;
  });
  std::vector<value> out;
  for (auto& p : keyed) out.push_back(std::move(p.second));
  return value::list(std::move(out));
}

value f_sort(interpreter& in, const value& v, args_t a, int line) {
  return sorted(in, in.iterate(v, line), arg_bool(a, 0, "reverse", false),
                arg_bool(a, 1, "case_sensitive", false), arg_str(a, 2, "attribute"), line);
}
value f_dictsort(interpreter&, const value& v, args_t a, int line) {
  if (v.k != kind::dict) fail("dictsort: expected a mapping", line);
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  std::string by = arg_str(a, 1, "by").value_or("key");
  bool reverse = arg_bool(a, 2, "reverse", false);
  size_t pos = by == "key" ? 0 : by == "value" ? 1 : 2;
  if (pos == 2) fail("You can only sort by either \"key\" or \"value\"", line);
  std::vector<value> items;
  for (const auto& [k, x] : v.d->items) items.push_back(value::tuple({k, x}));
  std::stable_sort(items.begin(), items.end(), [&](const value& p, const value& q) {
    value kp = lower_if_string((*p.l)[pos], cs), kq = lower_if_string((*q.l)[pos], cs);
    return reverse ? compare(kq, kp) < 0 : compare(kp, kq) < 0;
  });
  return value::list(std::move(items));
}
bool hashable(const value& v) {
  if (v.k == kind::list || v.k == kind::dict || v.k == kind::ns) return false;
  if (v.k == kind::tuple)
    return std::all_of(v.l->begin(), v.l->end(), [](const value& x) { return hashable(x); });
  return true;
}
value f_unique(interpreter& in, const value& v, args_t a, int line) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  auto attr = arg_str(a, 1, "attribute");
  std::vector<value> seen, out;
  for (auto& x : in.iterate(v, line)) {
    value k = lower_if_string(attr ? get_path(in, x, *attr, line) : x, cs);
    if (!hashable(k)) fail("unhashable type: '" + type_name(k) + "'", line);
    if (std::any_of(seen.begin(), seen.end(), [&](const value& s) { return equals(s, k); }))
      continue;
    seen.push_back(std::move(k));
    out.push_back(std::move(x));
  }
  return generator(std::move(out));
}

// select / reject / selectattr / rejectattr
value select_impl(interpreter& in, const value& v, args_t a, int line, bool with_attr, bool keep) {
  size_t first = 0;
  std::optional<std::string> attr;
  if (with_attr) {
    if (a.pos.empty()) fail("selectattr/rejectattr need an attribute name", line);
    attr = to_str(a.pos[0]);
    first = 1;
  }
  std::optional<std::string> test;
  call_args targs;
  if (a.pos.size() > first) {
    test = to_str(a.pos[first]);
    targs.pos.assign(a.pos.begin() + static_cast<long>(first) + 1, a.pos.end());
    targs.kw = a.kw;
  }
  std::vector<value> out;
  if (!truthy(v)) return generator({});  // jinja2: `if value:` before iterating
  for (auto& x : in.iterate(v, line)) {
    value subject = attr ? get_path(in, x, *attr, line) : x;
    bool r = test ? in.apply_test(*test, subject, targs, line) : truthy(subject);
    if (r == keep) out.push_back(std::move(x));
  }
  return generator(std::move(out));
}
value f_select(interpreter& in, const value& v, args_t a, int line) {
  return select_impl(in, v, a, line, false, true);
}
value f_reject(interpreter& in, const value& v, args_t a, int line) {
  return select_impl(in, v, a, line, false, false);
}
value f_selectattr(interpreter& in, const value& v, args_t a, int line) {
  return select_impl(in, v, a, line, true, true);
}
value f_rejectattr(interpreter& in, const value& v, args_t a, int line) {
  return select_impl(in, v, a, line, true, false);
}

value f_map(interpreter& in, const value& v, args_t a, int line) {
  std::vector<value> out;
  if (!truthy(v)) return generator({});  // jinja2: `if value:` before iterating
  const value* attr = nullptr;
  for (const auto& [k, x] : a.kw)
    if (k == "attribute") attr = &x;
  if (attr) {
    const value* def = nullptr;
    for (const auto& [k, x] : a.kw)
      if (k == "default") def = &x;
    for (auto& x : in.iterate(v, line)) {
      value r = get_path(in, x, to_str(*attr), line);
      out.push_back(r.is_undefined() && def ? *def : r);
    }
    return generator(std::move(out));
  }
  if (a.pos.empty()) fail("map: expected a filter name or attribute=", line);
  std::string name = to_str(a.pos[0]);
  call_args fargs;
  fargs.pos.assign(a.pos.begin() + 1, a.pos.end());
  fargs.kw = a.kw;
  for (auto& x : in.iterate(v, line)) out.push_back(in.apply_filter(name, x, fargs, line));
  return generator(std::move(out));
}

value f_replace(interpreter&, const value& v, args_t a, int line) {
  if (a.pos.size() + a.kw.size() < 2) fail("replace: expected old and new", line);
  const value* c = arg(a, 2, "count");
  long count = c && c->k == kind::integer ? static_cast<long>(c->i) : -1;
  return value::string(
      py::replace(to_str(v), to_str(*arg(a, 0, "old")), to_str(*arg(a, 1, "new")), count));
}

value f_indent(interpreter&, const value& v, args_t a, int line) {
  if (!v.is_string()) fail("indent: expected a string, got " + type_name(v), line);
  const value* w = arg(a, 0, "width");
  std::string ind =
      !w ? "    "
      : w->is_string()
          ? w->str()
          : std::string(static_cast<size_t>(std::clamp<int64_t>(w->i, 0, 1 << 16)), ' ');
  bool first = arg_bool(a, 1, "first", false), blank = arg_bool(a, 2, "blank", false);
  std::string s = to_str(v) + "\n";
  auto lines = py::splitlines(s, false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  if (first) rv = ind + rv;
  return keep_markup(v, std::move(rv));
}

value f_first(interpreter& in, const value& v, args_t, int line) {
  auto items = in.iterate(v, line);
  if (items.empty()) return value::undef("No first item, sequence was empty.");
  return items.front();
}
value f_last(interpreter& in, const value& v, args_t, int line) {
  if (v.is_list_like() && v.b) fail("'generator' object is not reversible", line);
  auto items = in.iterate(v, line);
  if (items.empty()) return value::undef("No last item, sequence was empty.");
  return items.back();
}
value f_reverse(interpreter& in, const value& v, args_t, int line) {
  if (v.is_string()) {
    auto cps = utf8_decode(v.str());
    std::reverse(cps.begin(), cps.end());
    return value::string(utf8_encode(cps, 0, cps.size()));
  }
  auto items = in.iterate(v, line);
  std::reverse(items.begin(), items.end());
  return generator(std::move(items));
}

value f_int(interpreter&, const value& v, args_t a, int line) {
  if (v.is_undefined())
    fail(interpreter::undefined_message(v), line);  // int/float(Undefined) raise
  const value* d = arg(a, 0, "default");
  value def = d ? *d : value::integer(0);
  if (v.k == kind::integer) return v;
  if (v.k == kind::boolean) return value::integer(v.b);
  if (v.k == kind::floating) {
    if (!std::isfinite(v.f) || std::fabs(v.f) > 9.2e18) return def;
    return value::integer(static_cast<int64_t>(v.f));
  }
  if (v.is_string()) {
    std::string s = py::strip(v.str(), std::nullopt, py::side::both);
    std::string t;
    for (char c : s)
      if (c != '_') t += c;
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(t.c_str(), &end, 10);
    if (!t.empty() && end && *end == 0 && errno == 0) return value::integer(x);
    double f = std::strtod(t.c_str(), &end);
    if (!t.empty() && end && *end == 0 && std::isfinite(f) && std::fabs(f) < 9.2e18)
      return value::integer(static_cast<int64_t>(f));
  }
  return def;
}
value f_float(interpreter&, const value& v, args_t a, int line) {
  if (v.is_undefined())
    fail(interpreter::undefined_message(v), line);  // int/float(Undefined) raise
  const value* d = arg(a, 0, "default");
  value def = d ? *d : value::floating(0.0);
  if (v.is_number()) return value::floating(v.as_double());
  if (v.is_string()) {
    std::string t = py::strip(v.str(), std::nullopt, py::side::both);
    char* end = nullptr;
    double f = std::strtod(t.c_str(), &end);
    if (!t.empty() && end && *end == 0) return value::floating(f);
  }
  return def;
}
value f_abs(interpreter&, const value& v, args_t, int line) {
  if (v.k == kind::floating) return value::floating(std::fabs(v.f));
  if (v.k == kind::integer || v.k == kind::boolean) {
    int64_t x = v.k == kind::boolean ? v.b : v.i;
    if (x == INT64_MIN) fail("integer overflow", line);
    return value::integer(x < 0 ? -x : x);
  }
  fail("bad operand type for abs(): '" + type_name(v) + "'", line);
}
value f_round(interpreter&, const value& v, args_t a, int line) {
  if (!v.is_number()) fail("round: expected a number", line);
  const value* p = arg(a, 0, "precision");
  int64_t prec = p && p->k == kind::integer ? std::clamp<int64_t>(p->i, -300, 300) : 0;
  std::string method = arg_str(a, 1, "method").value_or("common");
  if (method != "common" && method != "ceil" && method != "floor")
    fail("method must be common, ceil or floor", line);
  if (method == "common") {
    // Python's round(): ints stay ints, floats round half to even on the exact binary value.
    if (v.k != kind::floating && prec >= 0) return value::integer(v.k == kind::boolean ? v.b : v.i);
    double x = v.as_double();
    if (!std::isfinite(x)) return value::floating(x);
    if (prec >= 0) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(prec, 100)), x);
      return value::floating(std::strtod(buf, nullptr));
    }
    double m = std::pow(10.0, static_cast<double>(-prec));
    return value::floating(std::nearbyint(x / m) * m);
  }
  double m = std::pow(10.0, static_cast<double>(prec)), x = v.as_double() * m;
  return value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / m);
}
value f_sum(interpreter& in, const value& v, args_t a, int line) {
  auto attr = arg_str(a, 0, "attribute");
  const value* st = arg(a, 1, "start");
  value acc = st ? *st : value::integer(0);
  for (auto& x : in.iterate(v, line)) {
    value item = attr ? get_path(in, x, *attr, line) : x;
    if (acc.is_number() && item.is_number()) {
      if (acc.k == kind::floating || item.k == kind::floating)
        acc = value::floating(acc.as_double() + item.as_double());
      else
        acc = value::integer((acc.k == kind::boolean ? acc.b : acc.i) +
                             (item.k == kind::boolean ? item.b : item.i));
    } else {
      fail("unsupported operand type(s) for +: '" + type_name(acc) + "' and '" + type_name(item) +
               "'",
           line);
    }
  }
  return acc;
}
value min_max(interpreter& in, const value& v, args_t a, int line, bool want_max) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  auto attr = arg_str(a, 1, "attribute");
  auto items = in.iterate(v, line);
  if (items.empty()) return value::undef(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    value ki = lower_if_string(attr ? get_path(in, items[i], *attr, line) : items[i], cs);
    value kb = lower_if_string(attr ? get_path(in, items[best], *attr, line) : items[best], cs);
    int c = compare(ki, kb);
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}
value f_min(interpreter& in, const value& v, args_t a, int line) {
  return min_max(in, v, a, line, false);
}
value f_max(interpreter& in, const value& v, args_t a, int line) {
  return min_max(in, v, a, line, true);
}
value f_attr(interpreter& in, const value& v, args_t a, int line) {
  if (a.pos.empty()) fail("attr: expected a name", line);
  if (v.k == kind::dict) {  // attribute lookup only: dict keys are not attributes
    value m = builtin_attribute(in, v, to_str(a.pos[0]));
    return m.is_undefined()
               ? value::undef("'dict object' has no attribute '" + to_str(a.pos[0]) + "'")
               : m;
  }
  return in.getattr(v, to_str(a.pos[0]), line);
}
value f_batch(interpreter& in, const value& v, args_t a, int line) {
  const value* n = arg(a, 0, "linecount");
  if (!n || n->k != kind::integer || n->i <= 0) fail("batch: expected a positive count", line);
  const value* fill = arg(a, 1, "fill_with");
  std::vector<value> out, cur;
  for (auto& x : in.iterate(v, line)) {
    cur.push_back(std::move(x));
    if (static_cast<int64_t>(cur.size()) == n->i)
      out.push_back(value::list(std::exchange(cur, {})));
  }
  if (!cur.empty()) {
    if (fill && !fill->is_none())
      while (static_cast<int64_t>(cur.size()) < n->i) cur.push_back(*fill);
    out.push_back(value::list(std::move(cur)));
  }
  return generator(std::move(out));
}
value f_wordcount(interpreter&, const value& v, args_t, int) {
  return value::integer(static_cast<int64_t>(py::split(to_str(v), std::nullopt, -1, false).size()));
}
value f_center(interpreter&, const value& v, args_t a, int) {
  const value* w = arg(a, 0, "width");
  int64_t width = w && w->k == kind::integer ? std::min<int64_t>(w->i, 1 << 16) : 80;
  std::string s = to_str(v);
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return value::string(s);
  int64_t pad = width - len, left = pad / 2 + (pad & width & 1);
  return value::string(std::string(static_cast<size_t>(left), ' ') + s +
                       std::string(static_cast<size_t>(pad - left), ' '));
}

// Python's printf-style formatting for "%s" / "%d" / "%r" / "%f" (the |format filter and str % x).
value f_format(interpreter&, const value& v, args_t a, int line) {
  std::string fmt = to_str(v), out;
  std::vector<value> args = a.pos;
  if (args.size() == 1 && args[0].k == kind::tuple) args = *args[0].l;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format", line);
    if (fmt[i] == '%') {
      out += '%';
      continue;
    }
    std::string spec;
    while (i < fmt.size() && std::string("0123456789.-+ #").find(fmt[i]) != std::string::npos)
      spec += fmt[i++];
    if (i >= fmt.size()) fail("incomplete format", line);
    if (next >= args.size()) fail("not enough arguments for format string", line);
    const value& x = args[next++];
    char conv = fmt[i];
    char buf[512];
    std::string cs = "%" + spec;
    if (conv == 's') {
      out += to_str(x);
    } else if (conv == 'r') {
      out += repr(x);
    } else if (conv == 'd' || conv == 'i') {
      if (!x.is_number()) fail("%d format: a real number is required, not " + type_name(x), line);
      int64_t n =
          x.k == kind::floating ? static_cast<int64_t>(x.f) : (x.k == kind::boolean ? x.b : x.i);
      std::snprintf(buf, sizeof buf, (cs + "lld").c_str(), static_cast<long long>(n));
      out += buf;
    } else if (conv == 'f' || conv == 'e' || conv == 'g' || conv == 'x' || conv == 'X') {
      if (!x.is_number()) fail("format: a real number is required, not " + type_name(x), line);
      if (conv == 'x' || conv == 'X')
        std::snprintf(buf, sizeof buf, (cs + "ll" + conv).c_str(),
                      static_cast<long long>(x.as_double()));
      else
        std::snprintf(buf, sizeof buf, (cs + conv).c_str(), x.as_double());
      out += buf;
    } else {
      fail(std::string("unsupported format character '") + conv + "'", line);
    }
  }
  // Python treats a single non-tuple subscriptable argument (dict, list) as a mapping.
  bool mapping = a.pos.size() == 1 &&
                 (a.pos[0].k == kind::dict || a.pos[0].k == kind::list || a.pos[0].is_undefined());
  if (next < args.size() && !mapping)
    fail("not all arguments converted during string formatting", line);
  return value::string(std::move(out));
}

}  // namespace

filter_fn find_filter(const std::string& name) {
  static const std::unordered_map<std::string, filter_fn> filters = {
      {"length", f_length},
      {"count", f_length},
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"string", f_string},
      {"default", f_default},
      {"d", f_default},
      {"items", f_items},
      {"join", f_join},
      {"upper", f_upper},
      {"lower", f_lower},
      {"capitalize", f_capitalize},
      {"title", f_title},
      {"safe", f_safe},
      {"escape", f_escape},
      {"e", f_escape},
      {"forceescape", f_escape},
      {"list", f_list},
      {"sort", f_sort},
      {"dictsort", f_dictsort},
      {"unique", f_unique},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"map", f_map},
      {"replace", f_replace},
      {"indent", f_indent},
      {"first", f_first},
      {"last", f_last},
      {"reverse", f_reverse},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"sum", f_sum},
      {"min", f_min},
      {"max", f_max},
      {"attr", f_attr},
      {"batch", f_batch},
      {"wordcount", f_wordcount},
      {"center", f_center},
      {"format", f_format},
  };
  auto it = filters.find(name);
  return it == filters.end() ? nullptr : it->second;
}

}  // namespace uma::jinja
