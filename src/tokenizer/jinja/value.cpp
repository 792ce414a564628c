// Python-compatible printing, comparison and JSON for interpreter values (see value.h).
#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <utf8proc.h>
#include <nlohmann/json.hpp>

namespace uma::jinja {

void fail(std::string message, int line) {
  throw jinja_error{std::move(message), line, false};
}

value value::undef(std::string hint) {
  value v;
  if (!hint.empty()) v.s = std::make_shared<const std::string>(std::move(hint));
  return v;
}
value value::boolean(bool x) {
  value v = of_kind(kind::boolean);
  v.b = x;
  return v;
}
value value::integer(int64_t x) {
  value v = of_kind(kind::integer);
  v.i = x;
  return v;
}
value value::floating(double x) {
  value v = of_kind(kind::floating);
  v.f = x;
  return v;
}
value value::string(std::string x, bool markup) {
  value v = of_kind(kind::string);
  v.s = std::make_shared<const std::string>(std::move(x));
  v.b = markup;
  return v;
}
static uint32_t depth_of(const std::vector<value>& items) {
  uint32_t d = 0;
  for (const auto& x : items) d = std::max(d, x.depth);
  if (d + 1 > max_value_depth) fail("value nested too deeply");
  return d + 1;
}

value value::list(std::vector<value> items) {
  value v = of_kind(kind::list);
  v.depth = depth_of(items);
  v.l = std::make_shared<std::vector<value>>(std::move(items));
  return v;
}
value value::tuple(std::vector<value> items) {
  value v = list(std::move(items));
  v.k = kind::tuple;
  return v;
}
value value::dict_of(dict_ptr d) {
  value v = of_kind(kind::dict);
  uint32_t dep = 0;
  for (const auto& kv : d->items) dep = std::max(dep, kv.second.depth);
  if (dep + 1 > max_value_depth) fail("value nested too deeply");
  v.depth = dep + 1;
  v.d = std::move(d);
  return v;
}
value value::new_dict() {
  return dict_of(std::make_shared<dict>());
}
value value::callable_of(callable_ptr c) {
  value v = of_kind(kind::callable);
  v.c = std::move(c);
  return v;
}

const value* dict::find(const value& key) const {
  for (const auto& [k, v] : items)
    if (equals(k, key)) return &v;
  return nullptr;
}
const value* dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k.k == kind::string && *k.s == key) return &v;
  return nullptr;
}
void dict::set(const value& key, value v) {
  for (auto& [k, old] : items)
    if (equals(k, key)) {
      old = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

const value* call_args::get(size_t idx, std::string_view name) const {
  if (idx < pos.size()) return &pos[idx];
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

// ---- UTF-8 ----

std::vector<uint32_t> utf8_decode(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    uint32_t cp = n == 4 ? (c & 0x07u) : n == 3 ? (c & 0x0Fu) : n == 2 ? (c & 0x1Fu) : c;
    if (i + n > s.size()) n = 1, cp = c;  // truncated sequence: keep the byte
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    out.push_back(cp);
    i += n;
  }
  return out;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string utf8_encode(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) utf8_append(out, cps[i]);
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

bool py_isspace(uint32_t cp) {
  switch (cp) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200a;
  }
}

// ---- printing ----

namespace {
// Bounds recursion through values (namespaces can form cycles).
thread_local int recursion = 0;
struct recursion_guard {
  recursion_guard() {
    if (++recursion > 2 * static_cast<int>(max_value_depth)) {
      recursion = 0;
      fail("value nested too deeply (or recursive)");
    }
  }
  ~recursion_guard() {
    if (recursion > 0) --recursion;
  }
};
}  // namespace

std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  // sci = [-]d[.ddd]e(+|-)XX
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t epos = sci.find('e');
  int exp10 = std::stoi(sci.substr(epos + 1));
  std::string digits;
  for (size_t i = 0; i < epos; ++i)
    if (sci[i] != '.') digits += sci[i];
  int decpt = exp10 + 1;  // value = 0.digits * 10^decpt
  std::string out = neg ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(static_cast<size_t>(-decpt), '0') + digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(decpt) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt)) + "." +
             digits.substr(static_cast<size_t>(decpt));
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    int e = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    out += eb;
  }
  return out;
}

static bool py_isprintable(uint32_t cp) {
  if (cp == ' ') return true;
  if (cp < 0x20 || cp == 0x7f) return false;
  if (cp < 0x7f) return true;
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  switch (cat) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

static std::string str_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (uint32_t cp : utf8_decode(s)) {
    if (cp == static_cast<uint32_t>(q) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (py_isprintable(cp)) {
      utf8_append(out, cp);
    } else {
      char b[16];
      if (cp < 0x100)
        std::snprintf(b, sizeof b, "\\x%02x", cp);
      else if (cp < 0x10000)
        std::snprintf(b, sizeof b, "\\u%04x", cp);
      else
        std::snprintf(b, sizeof b, "\\U%08x", cp);
      out += b;
    }
  }
  out += q;
  return out;
}

std::string repr(const value& v) {
  recursion_guard g;
  switch (v.k) {
    case kind::string:
      return v.b ? "Markup(" + str_repr(*v.s) + ")" : str_repr(*v.s);
    case kind::list:
    case kind::tuple: {
      std::string out = v.k == kind::list ? "[" : "(";
      for (size_t i = 0; i < v.l->size(); ++i) {
        if (i) out += ", ";
        out += repr((*v.l)[i]);
      }
      if (v.k == kind::tuple && v.l->size() == 1) out += ",";
      out += v.k == kind::list ? "]" : ")";
      return out;
    }
    case kind::dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, x] : v.d->items) {
        if (!first) out += ", ";
        first = false;
        out += repr(k) + ": " + repr(x);
      }
      return out + "}";
    }
    case kind::undefined:
      return "Undefined";
    default:
      return to_str(v);
  }
}

std::string to_str(const value& v) {
  switch (v.k) {
    case kind::undefined:
      return "";
    case kind::none:
      return "None";
    case kind::boolean:
      return v.b ? "True" : "False";
    case kind::integer:
      return std::to_string(v.i);
    case kind::floating:
      return float_repr(v.f);
    case kind::string:
      return *v.s;
    case kind::ns: {
      std::string out = "<Namespace {";
      bool first = true;
      for (const auto& [k, x] : v.d->items) {
        if (!first) out += ", ";
        first = false;
        out += repr(k) + ": " + repr(x);
      }
      return out + "}>";
    }
    case kind::callable:
      return "<function " + v.c->name + ">";
    default:
      return repr(v);
  }
}

std::string type_name(const value& v) {
  switch (v.k) {
    case kind::undefined:
      return "Undefined";
    case kind::none:
      return "NoneType";
    case kind::boolean:
      return "bool";
    case kind::integer:
      return "int";
    case kind::floating:
      return "float";
    case kind::string:
      return v.b ? "Markup" : "str";
    case kind::list:
      return "list";
    case kind::tuple:
      return "tuple";
    case kind::dict:
      return "dict";
    case kind::ns:
      return "Namespace";
    case kind::callable:
      return "function";
  }
  return "object";
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// ---- comparison ----

bool equals(const value& a, const value& b) {
  recursion_guard g;
  if (a.is_number() && b.is_number()) {
    if (a.k == kind::floating || b.k == kind::floating) return a.as_double() == b.as_double();
    int64_t x = a.k == kind::boolean ? a.b : a.i, y = b.k == kind::boolean ? b.b : b.i;
    return x == y;
  }
  if (a.k != b.k) return false;
  switch (a.k) {
    case kind::undefined:
    case kind::none:
      return true;
    case kind::string:
      return *a.s == *b.s;
    case kind::list:
    case kind::tuple:
      if (a.l->size() != b.l->size()) return false;
      for (size_t i = 0; i < a.l->size(); ++i)
        if (!equals((*a.l)[i], (*b.l)[i])) return false;
      return true;
    case kind::dict:
      if (a.d->items.size() != b.d->items.size()) return false;
      for (const auto& [k, x] : a.d->items) {
        const value* y = b.d->find(k);
        if (!y || !equals(x, *y)) return false;
      }
      return true;
    case kind::ns:
      return a.d == b.d;
    case kind::callable:
      return a.c == b.c;
    default:
      return false;
  }
}

int compare(const value& a, const value& b) {
  recursion_guard g;
  if (a.is_number() && b.is_number()) {
    if (a.k == kind::floating || b.k == kind::floating) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.k == kind::boolean ? a.b : a.i, y = b.k == kind::boolean ? b.b : b.i;
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.k == kind::string && b.k == kind::string) {
    int c = a.s->compare(*b.s);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.k == b.k && a.is_list_like()) {
    size_t n = std::min(a.l->size(), b.l->size());
    for (size_t i = 0; i < n; ++i) {
      if (equals((*a.l)[i], (*b.l)[i])) continue;
      return compare((*a.l)[i], (*b.l)[i]);
    }
    return a.l->size() < b.l->size() ? -1 : (a.l->size() > b.l->size() ? 1 : 0);
  }
  fail("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
}

bool truthy(const value& v) {
  switch (v.k) {
    case kind::undefined:
    case kind::none:
      return false;
    case kind::boolean:
      return v.b;
    case kind::integer:
      return v.i != 0;
    case kind::floating:
      return v.f != 0;
    case kind::string:
      return !v.s->empty();
    case kind::list:
    case kind::tuple:
      return !v.l->empty();
    case kind::dict:
      return !v.d->items.empty();
    default:
      return true;
  }
}

// ---- JSON ----

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (uint32_t cp : utf8_decode(s)) {
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    char b[16];
    if (cp < 0x20 || (ensure_ascii && cp > 0x7e)) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(b, sizeof b, "\\u%04x", cp);
      }
      out += b;
    } else {
      utf8_append(out, cp);
    }
  }
  out += '"';
}

static std::string json_float(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  return float_repr(x);
}

static void json_rec(std::string& out, const value& v, const json_options& o, int level) {
  if (level > 512) fail("tojson: nesting too deep");
  auto newline = [&](int lvl) {
    if (o.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(o.indent) * static_cast<size_t>(lvl), ' ');
  };
  switch (v.k) {
    case kind::none:
      out += "null";
      return;
    case kind::boolean:
      out += v.b ? "true" : "false";
      return;
    case kind::integer:
      out += std::to_string(v.i);
      return;
    case kind::floating:
      out += json_float(v.f);
      return;
    case kind::string:
      json_string(out, *v.s, o.ensure_ascii);
      return;
    case kind::list:
    case kind::tuple: {
      if (v.b) fail("Object of type generator is not JSON serializable");
      if (v.l->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.l->size(); ++i) {
        if (i) out += o.item_sep;
        newline(level + 1);
        json_rec(out, (*v.l)[i], o, level + 1);
      }
      newline(level);
      out += ']';
      return;
    }
    case kind::dict: {
      if (v.d->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<value, value>*> items;
      for (const auto& kv : v.d->items) items.push_back(&kv);
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return compare(a->first, b->first) < 0; });
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += o.item_sep;
        first = false;
        newline(level + 1);
        const value& k = kv->first;
        std::string key;
        switch (k.k) {
          case kind::string:
            key = *k.s;
            break;
          case kind::integer:
            key = std::to_string(k.i);
            break;
          case kind::floating:
            key = json_float(k.f);
            break;
          case kind::boolean:
            key = k.b ? "true" : "false";
            break;
          case kind::none:
            key = "null";
            break;
          default:
            fail("keys must be str, int, float, bool or None, not " + type_name(k));
        }
        json_string(out, key, o.ensure_ascii);
        out += o.key_sep;
        json_rec(out, kv->second, o, level + 1);
      }
      newline(level);
      out += '}';
      return;
    }
    default:
      fail("Object of type " + type_name(v) + " is not JSON serializable");
  }
}

std::string to_json(const value& v, const json_options& o) {
  std::string out;
  json_rec(out, v, o, 0);
  return out;
}

static value from_json_rec(const nlohmann::ordered_json& j, uint32_t level) {
  if (level >= max_value_depth) fail("JSON input nested too deeply");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return value::floating(static_cast<double>(u));
      return value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return value::floating(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json_rec(x, level + 1));
      return value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto d = std::make_shared<dict>();
      d->items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d->items.emplace_back(value::string(it.key()), from_json_rec(it.value(), level + 1));
      return value::dict_of(std::move(d));
    }
    default:
      return value::none();
  }
}

}  // namespace uma::jinja

namespace uma::jinja {
value from_json(const nlohmann::ordered_json& j) {
  return from_json_rec(j, 0);
}
}  // namespace uma::jinja
