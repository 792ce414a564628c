// Methods templates call on values (str.strip(), dict.get(), dict.items(), ...) and the globals
// HF provides (range, dict, namespace, raise_exception, strftime_now). Methods that would mutate
// a list or dict are refused, as in jinja2's ImmutableSandboxedEnvironment.
#include <ctime>
#include <unordered_set>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/strings.h"

namespace uma::jinja {

namespace {

using method_fn = value (*)(interpreter&, const value& self, call_args& a);

value bind(const value& self, const std::string& name, method_fn fn) {
  auto c = std::make_shared<callable>();
  c->name = name;
  c->fn = [self, fn](interpreter& in, call_args& a) { return fn(in, self, a); };
  return value::callable_of(std::move(c));
}

value unsafe(const value& self, const std::string& name) {
  auto c = std::make_shared<callable>();
  c->name = name;
  std::string msg =
      "access to attribute '" + name + "' of '" + type_name(self) + "' object is unsafe.";
  c->fn = [msg](interpreter&, call_args&) -> value { fail(msg); };
  return value::callable_of(std::move(c));
}

std::optional<std::string> opt_str(const call_args& a, size_t i, std::string_view name) {
  const value* v = a.get(i, name);
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) fail("expected a string argument, got " + type_name(*v));
  return v->str();
}
std::string req_str(const call_args& a, size_t i, std::string_view name) {
  auto s = opt_str(a, i, name);
  if (!s) fail("missing string argument '" + std::string(name) + "'");
  return *s;
}
long opt_int(const call_args& a, size_t i, std::string_view name, long def) {
  const value* v = a.get(i, name);
  if (!v || v->is_none()) return def;
  if (v->k != kind::integer) fail("expected an integer argument, got " + type_name(*v));
  return static_cast<long>(v->i);
}
value str_list(std::vector<std::string> parts, bool markup) {
  std::vector<value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.push_back(value::string(std::move(p), markup));
  return value::list(std::move(out));
}
value esc_arg(const value& self, const std::string& s) {
  return value::string(self.b ? html_escape(s) : s);  // Markup methods escape str arguments
}

// ---- str ----
value s_strip(interpreter&, const value& s, call_args& a) {
  return value::string(py::strip(s.str(), opt_str(a, 0, "chars"), py::side::both), s.b);
}
value s_lstrip(interpreter&, const value& s, call_args& a) {
  return value::string(py::strip(s.str(), opt_str(a, 0, "chars"), py::side::left), s.b);
}
value s_rstrip(interpreter&, const value& s, call_args& a) {
  return value::string(py::strip(s.str(), opt_str(a, 0, "chars"), py::side::right), s.b);
}
value s_split(interpreter&, const value& s, call_args& a) {
  return str_list(py::split(s.str(), opt_str(a, 0, "sep"), opt_int(a, 1, "maxsplit", -1), false),
                  s.b);
}
value s_rsplit(interpreter&, const value& s, call_args& a) {
  return str_list(py::split(s.str(), opt_str(a, 0, "sep"), opt_int(a, 1, "maxsplit", -1), true),
                  s.b);
}
value s_splitlines(interpreter&, const value& s, call_args& a) {
  const value* k = a.get(0, "keepends");
  return str_list(py::splitlines(s.str(), k && truthy(*k)), s.b);
}
bool affix(const value& s, const call_args& a, bool start) {
  const value* p = a.get(0, start ? "prefix" : "suffix");
  if (!p) fail(std::string(start ? "startswith" : "endswith") + "() takes at least 1 argument");
  auto check = [&](const value& x) {
    if (!x.is_string()) fail("expected str or a tuple of str, not " + type_name(x));
    const std::string& h = s.str();
    const std::string& n = x.str();
    if (n.size() > h.size()) return false;
    return start ? h.compare(0, n.size(), n) == 0
                 : h.compare(h.size() - n.size(), n.size(), n) == 0;
  };
  if (p->k == kind::tuple) {
    for (const auto& x : *p->l)
      if (check(x)) return true;
    return false;
  }
  return check(*p);
}
value s_startswith(interpreter&, const value& s, call_args& a) {
  return value::boolean(affix(s, a, true));
}
value s_endswith(interpreter&, const value& s, call_args& a) {
  return value::boolean(affix(s, a, false));
}
value s_upper(interpreter&, const value& s, call_args&) {
  return value::string(py::upper(s.str()), s.b);
}
value s_lower(interpreter&, const value& s, call_args&) {
  return value::string(py::lower(s.str()), s.b);
}
value s_title(interpreter&, const value& s, call_args&) {
  return value::string(py::title(s.str()), s.b);
}
value s_capitalize(interpreter&, const value& s, call_args&) {
  return value::string(py::capitalize(s.str()), s.b);
}
value s_replace(interpreter& in, const value& s, call_args& a) {
  std::string old = esc_arg(s, req_str(a, 0, "old")).str(),
              repl = esc_arg(s, req_str(a, 1, "new")).str();
  std::string r = py::replace(s.str(), old, repl, opt_int(a, 2, "count", -1));
  in.check_size(r.size(), 0);
  return value::string(std::move(r), s.b);
}
value s_find(interpreter&, const value& s, call_args& a) {
  return value::integer(py::find(s.str(), req_str(a, 0, "sub"), false));
}
value s_rfind(interpreter&, const value& s, call_args& a) {
  return value::integer(py::find(s.str(), req_str(a, 0, "sub"), true));
}
value s_index(interpreter&, const value& s, call_args& a) {
  long r = py::find(s.str(), req_str(a, 0, "sub"), false);
  if (r < 0) fail("substring not found");
  return value::integer(r);
}
value s_count(interpreter&, const value& s, call_args& a) {
  return value::integer(py::count(s.str(), req_str(a, 0, "sub")));
}
value s_join(interpreter& in, const value& s, call_args& a) {
  if (a.pos.empty()) fail("join() takes exactly one argument");
  std::string out;
  bool first = true;
  for (const auto& x : in.iterate(a.pos[0], 0)) {
    if (!x.is_string()) fail("sequence item: expected str instance, " + type_name(x) + " found");
    if (!first) out += s.str();
    first = false;
    out += s.b && !x.b ? html_escape(x.str()) : x.str();
    in.check_append(out.size(), x.str().size() + s.str().size(), 0);
  }
  return value::string(std::move(out), s.b);
}
template <bool (*pred)(uint32_t)>
value s_is(interpreter&, const value& s, call_args&) {
  auto cps = utf8_decode(s.str());
  if (cps.empty()) return value::boolean(false);
  for (uint32_t c : cps)
    if (!pred(c)) return value::boolean(false);
  return value::boolean(true);
}
bool is_digit(uint32_t c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c > 0x7f && (py::is_cased_lower(c) || py::is_cased_upper(c)));
}
bool is_alnum(uint32_t c) {
  return is_digit(c) || is_alpha(c);
}
value s_isupper(interpreter&, const value& s, call_args&) {
  bool cased = false;
  for (uint32_t c : utf8_decode(s.str())) {
    if (py::is_cased_lower(c)) return value::boolean(false);
    cased = cased || py::is_cased_upper(c);
  }
  return value::boolean(cased);
}
value s_islower(interpreter&, const value& s, call_args&) {
  bool cased = false;
  for (uint32_t c : utf8_decode(s.str())) {
    if (py::is_cased_upper(c)) return value::boolean(false);
    cased = cased || py::is_cased_lower(c);
  }
  return value::boolean(cased);
}
value s_format(interpreter&, const value& s, call_args& a) {
  // str.format with {} / {0} / {name} fields and no format specs.
  const std::string& f = s.str();
  std::string out;
  size_t auto_idx = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '{' && i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t e = f.find('}', i);
      if (e == std::string::npos) fail("Single '{' encountered in format string");
      std::string field = f.substr(i + 1, e - i - 1);
      if (field.find_first_of(":!.[") != std::string::npos)
        fail("format specs are not supported in str.format");
      const value* v = nullptr;
      if (field.empty()) {
        if (auto_idx < a.pos.size()) v = &a.pos[auto_idx];
        ++auto_idx;
      } else if (std::isdigit(static_cast<unsigned char>(field[0]))) {
        size_t k = std::stoul(field);
        if (k < a.pos.size()) v = &a.pos[k];
      } else {
        for (const auto& [n, x] : a.kw)
          if (n == field) v = &x;
      }
      if (!v) fail("Replacement index out of range for positional args tuple");
      out += to_str(*v);
      i = e;
    } else if (c == '}') {
      fail("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return value::string(std::move(out));
}

// ---- dict ----
value d_get(interpreter&, const value& d, call_args& a) {
  if (a.pos.empty()) fail("get expected at least 1 argument, got 0");
  const value* v = d.d->find(a.pos[0]);
  if (v) return *v;
  return a.pos.size() > 1 ? a.pos[1] : value::none();
}
value d_items(interpreter&, const value& d, call_args&) {
  std::vector<value> out;
  for (const auto& [k, v] : d.d->items) out.push_back(value::tuple({k, v}));
  return value::list(std::move(out));
}
value d_keys(interpreter&, const value& d, call_args&) {
  std::vector<value> out;
  for (const auto& kv : d.d->items) out.push_back(kv.first);
  return value::list(std::move(out));
}
value d_values(interpreter&, const value& d, call_args&) {
  std::vector<value> out;
  for (const auto& kv : d.d->items) out.push_back(kv.second);
  return value::list(std::move(out));
}
value d_copy(interpreter&, const value& d, call_args&) {
  return value::dict_of(std::make_shared<dict>(*d.d));
}

// ---- list ----
value l_index(interpreter&, const value& l, call_args& a) {
  if (a.pos.empty()) fail("index expected at least 1 argument");
  for (size_t i = 0; i < l.l->size(); ++i)
    if (equals((*l.l)[i], a.pos[0])) return value::integer(static_cast<int64_t>(i));
  fail(repr(a.pos[0]) + " is not in list");
}
value l_count(interpreter&, const value& l, call_args& a) {
  if (a.pos.empty()) fail("count expected 1 argument");
  int64_t n = 0;
  for (const auto& x : *l.l) n += equals(x, a.pos[0]);
  return value::integer(n);
}

// ---- globals ----
value g_range(interpreter& in, call_args& a) {
  int64_t start = 0, stop = 0, stp = 1;
  for (const auto& v : a.pos)
    if (v.k != kind::integer && v.k != kind::boolean)
      fail("range() expects integers, got " + type_name(v));
  auto iv = [](const value& v) -> int64_t { return v.k == kind::boolean ? v.b : v.i; };
  if (a.pos.size() == 1) {
    stop = iv(a.pos[0]);
  } else if (a.pos.size() == 2 || a.pos.size() == 3) {
    start = iv(a.pos[0]);
    stop = iv(a.pos[1]);
    if (a.pos.size() == 3) stp = iv(a.pos[2]);
  } else {
    fail("range expected 1 to 3 arguments");
  }
  if (stp == 0) fail("range() arg 3 must not be zero");
  std::vector<value> out;
  for (int64_t i = start; stp > 0 ? i < stop : i > stop; i += stp) {
    if (static_cast<int64_t>(out.size()) >= in.options().limits.max_range)
      fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" +
           std::to_string(in.options().limits.max_range) + ").");
    out.push_back(value::integer(i));
    if ((stp > 0 && i > INT64_MAX - stp) || (stp < 0 && i < INT64_MIN - stp)) break;
  }
  return value::list(std::move(out));
}
value g_dict(interpreter&, call_args& a) {
  auto d = std::make_shared<dict>();
  for (const auto& p : a.pos) {
    if (p.k == kind::dict) {
      for (const auto& kv : p.d->items) d->set(kv.first, kv.second);
    } else if (p.is_list_like()) {
      for (const auto& kv : *p.l) {
        if (!kv.is_list_like() || kv.l->size() != 2)
          fail("dictionary update sequence element has wrong length");
        d->set((*kv.l)[0], (*kv.l)[1]);
      }
    } else {
      fail("'" + type_name(p) + "' object is not iterable");
    }
  }
  for (auto& [k, v] : a.kw) d->set(value::string(k), v);
  return value::dict_of(std::move(d));
}
value g_raise(interpreter&, call_args& a) {
  std::string msg = a.pos.empty() ? "" : to_str(a.pos[0]);
  throw jinja_error{msg, 0, true};
}
value g_strftime_now(interpreter& in, call_args& a) {
  if (a.pos.empty() || !a.pos[0].is_string()) fail("strftime_now expects a format string");
  std::time_t t;
  std::tm tm{};
  if (in.options().now) {
    t = static_cast<std::time_t>(*in.options().now);
    gmtime_r(&t, &tm);
  } else {
    t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  char buf[512];
  size_t n = std::strftime(buf, sizeof buf, a.pos[0].str().c_str(), &tm);
  return value::string(std::string(buf, n));
}

void add_global(frame& g, const char* name, value (*fn)(interpreter&, call_args&)) {
  auto c = std::make_shared<callable>();
  c->name = name;
  c->fn = fn;
  g.vars[name] = value::callable_of(std::move(c));
}

}  // namespace

value builtin_attribute(interpreter&, const value& obj, const std::string& name) {
  static const std::unordered_set<std::string> dict_mutators = {"pop", "popitem", "setdefault",
                                                                "update", "clear"};
  static const std::unordered_set<std::string> list_mutators = {
      "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  struct entry {
    const char* name;
    method_fn fn;
  };
  if (obj.is_string()) {
    static const entry methods[] = {
        {"strip", s_strip},
        {"lstrip", s_lstrip},
        {"rstrip", s_rstrip},
        {"split", s_split},
        {"rsplit", s_rsplit},
        {"splitlines", s_splitlines},
        {"startswith", s_startswith},
        {"endswith", s_endswith},
        {"upper", s_upper},
        {"lower", s_lower},
        {"title", s_title},
        {"capitalize", s_capitalize},
        {"replace", s_replace},
        {"find", s_find},
        {"rfind", s_rfind},
        {"index", s_index},
        {"count", s_count},
        {"join", s_join},
        {"isdigit", s_is<is_digit>},
        {"isnumeric", s_is<is_digit>},
        {"isdecimal", s_is<is_digit>},
        {"isalpha", s_is<is_alpha>},
        {"isalnum", s_is<is_alnum>},
        {"isspace", s_is<py_isspace>},
        {"isupper", s_isupper},
        {"islower", s_islower},
        {"format", s_format},
    };
    for (const auto& m : methods)
      if (name == m.name) return bind(obj, name, m.fn);
  } else if (obj.k == kind::dict) {
    static const entry methods[] = {
        {"get", d_get},       {"items", d_items}, {"keys", d_keys},
        {"values", d_values}, {"copy", d_copy},
    };
    for (const auto& m : methods)
      if (name == m.name) return bind(obj, name, m.fn);
    if (dict_mutators.count(name)) return unsafe(obj, name);
  } else if (obj.is_list_like() && !obj.b) {
    if (name == "index") return bind(obj, name, l_index);
    if (name == "count") return bind(obj, name, l_count);
    if (obj.k == kind::list && list_mutators.count(name)) return unsafe(obj, name);
  }
  return value::undef();
}

void add_builtin_globals(frame& g) {
  add_global(g, "range", g_range);
  add_global(g, "dict", g_dict);
  add_global(g, "raise_exception", g_raise);
  add_global(g, "strftime_now", g_strftime_now);
  auto ns = std::make_shared<callable>();
  ns->name = "namespace";
  ns->fn = [](interpreter& in, call_args& a) { return in.make_namespace(a, 0); };
  g.vars["namespace"] = value::callable_of(std::move(ns));
}

}  // namespace uma::jinja
