// Evaluates the Jinja AST with Python/Jinja2 semantics: scoping (loop bodies and macros get their
// own frames, namespaces are the only mutable objects), Undefined, chained comparisons, operator
// rules, and the resource limits of render_limits.
#include "tokenizer/jinja/interpreter.h"

#include <cmath>

#include "tokenizer/jinja/parser.h"

namespace uma::jinja {

namespace {

constexpr int max_eval_depth = 1500;

struct depth_guard {
  depth_guard(int& d, int line) : d(d) {
    if (++d > max_eval_depth) fail("template recursion too deep", line);
  }
  ~depth_guard() { --d; }
  int& d;
};

int64_t int_of(const value& v) {
  return v.k == kind::boolean ? v.b : v.i;
}
bool is_int_like(const value& v) {
  return v.k == kind::integer || v.k == kind::boolean;
}

// Python's slice index normalization.
void slice_indices(int64_t n, const value* start, const value* stop, const value* step, int64_t& b,
                   int64_t& e, int64_t& st, int line) {
  st = 1;
  if (step && !step->is_none()) {
    if (!is_int_like(*step)) fail("slice indices must be integers or None", line);
    st = int_of(*step);
    if (st == 0) fail("slice step cannot be zero", line);
  }
  auto norm = [&](const value* v, int64_t def, bool is_stop) -> int64_t {
    if (!v || v->is_none()) return def;
    if (!is_int_like(*v)) fail("slice indices must be integers or None", line);
    int64_t x = int_of(*v);
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    (void)is_stop;
    return x;
  };
  b = norm(start, st < 0 ? n - 1 : 0, false);
  e = norm(stop, st < 0 ? -1 : n, true);
}

}  // namespace

const value* frame::find(const std::string& name) const {
  for (const frame* f = this; f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return &it->second;
  }
  return nullptr;
}

std::string interpreter::undefined_message(const value& v) {
  if (v.s && !v.s->empty()) return *v.s;
  return "value is undefined";
}

void interpreter::step(int line) {
  if (++steps_ > opts_.limits.max_steps) fail("template exceeded its step limit", line);
}

void interpreter::check_size(size_t bytes, int line) {
  check_append(bytes, bytes, line);
}

void interpreter::check_append(size_t total, size_t added, int line) {
  work_bytes_ += added;
  if (total > opts_.limits.max_output_bytes) fail("template output exceeded its size limit", line);
  if (work_bytes_ > opts_.limits.max_work_bytes)
    fail("template exceeded its work limit (bytes of strings built)", line);
}

std::string interpreter::run(const body& b, frame_ptr globals) {
  auto root = std::make_shared<frame>();
  root->parent = std::move(globals);
  std::string out;
  exec_body(b, root, out);
  return out;
}

interpreter::flow interpreter::exec_body(const body& b, const frame_ptr& f, std::string& out) {
  for (const auto& s : b) {
    flow r = exec(*s, f, out);
    if (r != flow::normal) return r;
  }
  return flow::normal;
}

interpreter::flow interpreter::exec(const stmt& s, const frame_ptr& f, std::string& out) {
  step(s.line);
  depth_guard g(eval_depth_, s.line);
  try {
    switch (s.k) {
      case st::text:
        out += s.text;
        check_append(out.size(), s.text.size(), s.line);
        break;
      case st::print: {
        std::string piece = to_str(eval(*s.exprs[0], f));
        out += piece;
        check_append(out.size(), piece.size(), s.line);
        break;
      }
      case st::if_:
        for (size_t i = 0; i < s.exprs.size(); ++i)
          if (truthy(eval(*s.exprs[i], f))) return exec_body(s.bodies[i], f, out);
        if (s.bodies.size() > s.exprs.size()) return exec_body(s.bodies.back(), f, out);
        break;
      case st::for_:
        exec_for(s, f, out);
        break;
      case st::set:
        assign(s, f, eval(*s.exprs[0], f));
        break;
      case st::set_block: {
        std::string buf;
        exec_body(s.bodies[0], f, buf);
        value v = value::string(std::move(buf));
        if (s.exprs[0]) {
          const value* saved = block_input_;
          block_input_ = &v;
          value r = eval(*s.exprs[0], f);
          block_input_ = saved;
          v = std::move(r);
        }
        assign(s, f, std::move(v));
        break;
      }
      case st::macro:
        f->vars[s.name] = define_macro(s, f);
        break;
      case st::call_block: {
        // caller(): renders the block body, with the block's parameters bound.
        auto c = std::make_shared<callable>();
        c->name = "caller";
        const stmt* sp = &s;
        std::weak_ptr<frame> wf = f;
        c->fn = [sp, wf](interpreter& in, call_args& a) -> value {
          return in.invoke_macro(*sp, wf, a);  // the block's parameters act like a macro's
        };
        const expr& call = *s.exprs[0];
        value fn = eval(*call.args[0], f);
        call_args a = eval_args(call, f, 1);
        a.kw.emplace_back("caller", value::callable_of(std::move(c)));
        std::string piece = to_str(this->call(fn, a, s.line));
        out += piece;
        check_append(out.size(), piece.size(), s.line);
        break;
      }
      case st::filter_block: {
        std::string buf;
        exec_body(s.bodies[0], f, buf);
        value v = value::string(std::move(buf));
        const value* saved = block_input_;
        block_input_ = &v;
        value r = eval(*s.exprs[0], f);
        block_input_ = saved;
        std::string piece = to_str(r);
        out += piece;
        check_append(out.size(), piece.size(), s.line);
        break;
      }
      case st::break_:
        return flow::brk;
      case st::continue_:
        return flow::cont;
    }
  } catch (jinja_error& e) {
    if (e.line == 0) e.line = s.line;
    throw;
  }
  return flow::normal;
}

void interpreter::bind_targets(const stmt& s, frame& fr, const value& item) {
  if (!s.target_tuple) {
    fr.vars[s.targets[0]] = item;
    return;
  }
  std::vector<value> parts = iterate(item, s.line);
  if (parts.size() != s.targets.size())
    fail(parts.size() < s.targets.size()
             ? "not enough values to unpack (expected " + std::to_string(s.targets.size()) +
                   ", got " + std::to_string(parts.size()) + ")"
             : "too many values to unpack (expected " + std::to_string(s.targets.size()) + ")",
         s.line);
  for (size_t i = 0; i < parts.size(); ++i) fr.vars[s.targets[i]] = parts[i];
}

void interpreter::assign(const stmt& s, const frame_ptr& f, value v) {
  if (!s.attr.empty()) {
    const value* ns = f->find(s.targets[0]);
    if (!ns || ns->k != kind::ns) fail("cannot assign attribute on non-namespace object", s.line);
    if (v.depth + 1 > max_value_depth) fail("value nested too deeply", s.line);
    ns->d->set(value::string(s.attr), std::move(v));
    return;
  }
  bind_targets(s, *f, v);
}

void interpreter::exec_for(const stmt& s, const frame_ptr& f, std::string& out) {
  value seq = eval(*s.exprs[0], f);
  std::vector<value> items = iterate(seq, s.line);
  if (s.exprs[1]) {
    std::vector<value> kept;
    for (auto& it : items) {
      step(s.line);
      auto fr = std::make_shared<frame>();
      fr->parent = f;
      bind_targets(s, *fr, it);
      if (truthy(eval(*s.exprs[1], fr))) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    if (s.bodies.size() > 1) exec_body(s.bodies[1], f, out);
    return;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  auto keys = std::make_shared<std::vector<value>>();
  for (const char* k : {"index", "index0", "revindex", "revindex0", "first", "last", "length",
                        "depth", "depth0", "previtem", "nextitem", "cycle"})
    keys->push_back(value::string(k));
  for (int64_t i = 0; i < n; ++i) {
    step(s.line);
    auto fr = std::make_shared<frame>();
    fr->parent = f;
    bind_targets(s, *fr, items[static_cast<size_t>(i)]);
    auto loop = std::make_shared<dict>();
    auto& k = *keys;
    loop->items.reserve(12);
    loop->items.emplace_back(k[0], value::integer(i + 1));
    loop->items.emplace_back(k[1], value::integer(i));
    loop->items.emplace_back(k[2], value::integer(n - i));
    loop->items.emplace_back(k[3], value::integer(n - i - 1));
    loop->items.emplace_back(k[4], value::boolean(i == 0));
    loop->items.emplace_back(k[5], value::boolean(i == n - 1));
    loop->items.emplace_back(k[6], value::integer(n));
    loop->items.emplace_back(k[7], value::integer(1));
    loop->items.emplace_back(k[8], value::integer(0));
    loop->items.emplace_back(k[9], i > 0 ? items[static_cast<size_t>(i - 1)]
                                         : value::undef("'loop' has no previous item"));
    loop->items.emplace_back(k[10], i + 1 < n ? items[static_cast<size_t>(i + 1)]
                                              : value::undef("'loop' has no next item"));
    auto cyc = std::make_shared<callable>();
    cyc->name = "cycle";
    cyc->fn = [i](interpreter&, call_args& a) -> value {
      if (a.pos.empty()) fail("no items for cycling given");
      return a.pos[static_cast<size_t>(i) % a.pos.size()];
    };
    loop->items.emplace_back(k[11], value::callable_of(std::move(cyc)));
    value lv;
    lv.k = kind::dict;
    lv.d = std::move(loop);
    fr->vars["loop"] = std::move(lv);
    if (exec_body(s.bodies[0], fr, out) == flow::brk) break;
  }
}

value interpreter::define_macro(const stmt& s, const frame_ptr& f) {
  auto c = std::make_shared<callable>();
  c->name = s.name;
  const stmt* sp = &s;
  std::weak_ptr<frame> wf = f;  // weak: the frame owns the macro
  c->fn = [sp, wf](interpreter& in, call_args& a) -> value { return in.invoke_macro(*sp, wf, a); };
  return value::callable_of(std::move(c));
}

value interpreter::invoke_macro(const stmt& s, const std::weak_ptr<frame>& def, call_args& a) {
  frame_ptr parent = def.lock();
  if (!parent) fail("macro '" + s.name + "' called outside the scope that defined it", s.line);
  if (++call_depth_ > opts_.limits.max_call_depth) {
    --call_depth_;
    fail(
        "macro calls nested too deeply (limit " + std::to_string(opts_.limits.max_call_depth) + ")",
        s.line);
  }
  struct dec {
    int& d;
    ~dec() { --d; }
  } guard{call_depth_};
  auto fr = std::make_shared<frame>();
  fr->parent = parent;
  std::vector<value> varargs;
  for (size_t i = 0; i < a.pos.size(); ++i) {
    if (i < s.params.size())
      fr->vars[s.params[i]] = a.pos[i];
    else
      varargs.push_back(a.pos[i]);
  }
  auto kwargs = std::make_shared<dict>();
  for (auto& [name, v] : a.kw) {
    bool is_param = false;
    for (size_t i = 0; i < s.params.size(); ++i) {
      if (s.params[i] != name) continue;
      if (i < a.pos.size())
        fail("macro '" + s.name + "' got multiple values for argument '" + name + "'", s.line);
      is_param = true;
    }
    if (is_param || name == "caller")
      fr->vars[name] = v;
    else
      kwargs->items.emplace_back(value::string(name), v);
  }
  for (size_t i = 0; i < s.params.size(); ++i) {
    if (fr->vars.count(s.params[i])) continue;
    if (s.defaults[i])
      fr->vars[s.params[i]] = eval(*s.defaults[i], fr);
    else
      fr->vars[s.params[i]] = value::undef("parameter '" + s.params[i] + "' was not provided");
  }
  fr->vars["varargs"] = value::tuple(std::move(varargs));
  fr->vars["kwargs"] = value::dict_of(std::move(kwargs));
  std::string out;
  exec_body(s.bodies[0], fr, out);
  return value::string(std::move(out));
}

call_args interpreter::eval_args(const expr& e, const frame_ptr& f, size_t first) {
  call_args a;
  size_t n_kw = e.kw_names.size();
  size_t n_pos = e.args.size() - first - n_kw;
  for (size_t i = 0; i < n_pos; ++i) a.pos.push_back(eval(*e.args[first + i], f));
  for (size_t i = 0; i < n_kw; ++i)
    a.kw.emplace_back(e.kw_names[i], eval(*e.args[first + n_pos + i], f));
  return a;
}

value interpreter::call(const value& fn, call_args& args, int line) {
  step(line);
  if (fn.k == kind::callable) return fn.c->fn(*this, args);
  if (fn.is_undefined()) fail(undefined_message(fn), line);
  fail("'" + type_name(fn) + "' object is not callable", line);
}

value interpreter::getattr(const value& obj, const std::string& name, int line) {
  switch (obj.k) {
    case kind::undefined:
      fail(undefined_message(obj), line);
    case kind::ns: {
      const value* v = obj.d->find(name);
      if (v) return *v;
      return value::undef("'Namespace' object has no attribute '" + name + "'");
    }
    case kind::dict: {
      value m = builtin_attribute(*this, obj, name);
      if (!m.is_undefined()) return m;
      const value* v = obj.d->find(name);
      if (v) return *v;
      return value::undef("'dict object' has no attribute '" + name + "'");
    }
    default: {
      value m = builtin_attribute(*this, obj, name);
      if (!m.is_undefined()) return m;
      std::string tn = obj.is_none() ? "None" : type_name(obj) + " object";
      return value::undef("'" + tn + "' has no attribute '" + name + "'");
    }
  }
}

value interpreter::getitem(const value& obj, const value& key, int line) {
  switch (obj.k) {
    case kind::undefined:
      fail(undefined_message(obj), line);
    case kind::dict: {
      const value* v = obj.d->find(key);
      if (v) return *v;
      if (key.is_string()) {
        value m = builtin_attribute(*this, obj, key.str());
        if (!m.is_undefined()) return m;
      }
      return value::undef("'dict object' has no attribute '" + to_str(key) + "'");
    }
    case kind::ns:
      if (key.is_string()) return getattr(obj, key.str(), line);
      break;
    case kind::list:
    case kind::tuple: {
      if (obj.b) fail("'generator' object is not subscriptable", line);
      if (!is_int_like(key)) break;
      int64_t n = static_cast<int64_t>(obj.l->size()), i = int_of(key);
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        return value::undef(type_name(obj) + " object has no element " + to_str(key));
      return (*obj.l)[static_cast<size_t>(i)];
    }
    case kind::string: {
      if (!is_int_like(key)) break;
      auto cps = utf8_decode(obj.str());
      int64_t n = static_cast<int64_t>(cps.size()), i = int_of(key);
      if (i < 0) i += n;
      if (i < 0 || i >= n) return value::undef("str object has no element " + to_str(key));
      return value::string(utf8_encode(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
    }
    default:
      break;
  }
  if (key.is_string()) return getattr(obj, key.str(), line);
  std::string tn = obj.is_none() ? "None" : type_name(obj) + " object";
  return value::undef("'" + tn + "' has no attribute '" + to_str(key) + "'");
}

std::vector<value> interpreter::iterate(const value& v, int line) {
  switch (v.k) {
    case kind::undefined:
      return {};
    case kind::list:
    case kind::tuple:
      return *v.l;
    case kind::dict: {
      std::vector<value> keys;
      keys.reserve(v.d->items.size());
      for (const auto& kv : v.d->items) keys.push_back(kv.first);
      return keys;
    }
    case kind::string: {
      std::vector<value> chars;
      auto cps = utf8_decode(v.str());
      chars.reserve(cps.size());
      for (size_t i = 0; i < cps.size(); ++i)
        chars.push_back(value::string(utf8_encode(cps, i, i + 1)));
      return chars;
    }
    default:
      fail("'" + type_name(v) + "' object is not iterable", line);
  }
}

value interpreter::apply_filter(const std::string& name, const value& input, const call_args& args,
                                int line) {
  filter_fn fn = find_filter(name);
  if (!fn) fail("no filter named '" + name + "'", line);
  step(line);
  return fn(*this, input, args, line);
}

bool interpreter::apply_test(const std::string& name, const value& input, const call_args& args,
                             int line) {
  test_fn fn = find_test(name);
  if (!fn) fail("no test named '" + name + "'", line);
  return fn(*this, input, args, line);
}

value interpreter::make_namespace(call_args& args, int line) {
  if (++namespaces_ > opts_.limits.max_namespaces) fail("too many namespace() objects", line);
  auto d = std::make_shared<dict>();
  for (const auto& p : args.pos) {
    if (p.k != kind::dict && p.k != kind::ns) fail("namespace() takes a mapping", line);
    for (const auto& kv : p.d->items) d->set(kv.first, kv.second);
  }
  for (auto& [k, v] : args.kw) d->set(value::string(k), v);
  value v = value::dict_of(std::move(d));
  v.k = kind::ns;
  return v;
}

value interpreter::eval(const expr& e, const frame_ptr& f) {
  depth_guard g(eval_depth_, e.line);
  try {
    switch (e.k) {
      case ex::literal:
        return e.lit;
      case ex::name: {
        const value* v = f->find(e.name);
        if (v) return *v;
        return value::undef("'" + e.name + "' is undefined");
      }
      case ex::list:
      case ex::tuple: {
        std::vector<value> items;
        items.reserve(e.args.size());
        for (const auto& a : e.args) items.push_back(eval(*a, f));
        return e.k == ex::list ? value::list(std::move(items)) : value::tuple(std::move(items));
      }
      case ex::dict: {
        auto d = std::make_shared<dict>();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          value k = eval(*e.args[i], f);
          d->set(k, eval(*e.args[i + 1], f));
        }
        return value::dict_of(std::move(d));
      }
      case ex::getattr:
        return getattr(eval(*e.args[0], f), e.name, e.line);
      case ex::getitem: {
        value obj = eval(*e.args[0], f);
        return getitem(obj, eval(*e.args[1], f), e.line);
      }
      case ex::slice: {
        value obj = eval(*e.args[0], f);
        value parts[3];
        for (int i = 0; i < 3; ++i)
          if (e.args[static_cast<size_t>(i) + 1])
            parts[i] = eval(*e.args[static_cast<size_t>(i) + 1], f);
        if (obj.is_undefined()) fail(undefined_message(obj), e.line);
        if (!obj.is_string() && !(obj.is_list_like() && !obj.b))
          fail("'" + type_name(obj) + "' object is not subscriptable", e.line);
        std::vector<uint32_t> cps;
        int64_t n;
        if (obj.is_string()) {
          cps = utf8_decode(obj.str());
          n = static_cast<int64_t>(cps.size());
        } else {
          n = static_cast<int64_t>(obj.l->size());
        }
        int64_t b, en, stp;
        auto opt = [&](int i) -> const value* {
          return e.args[static_cast<size_t>(i) + 1] ? &parts[i] : nullptr;
        };
        slice_indices(n, opt(0), opt(1), opt(2), b, en, stp, e.line);
        std::vector<size_t> idx;
        for (int64_t i = b; stp > 0 ? i < en : i > en; i += stp)
          idx.push_back(static_cast<size_t>(i));
        if (obj.is_string()) {
          std::string s;
          for (size_t i : idx) utf8_append(s, cps[i]);
          return value::string(std::move(s), obj.b);
        }
        std::vector<value> items;
        for (size_t i : idx) items.push_back((*obj.l)[i]);
        return obj.k == kind::list ? value::list(std::move(items)) : value::tuple(std::move(items));
      }
      case ex::call: {
        value fn = eval(*e.args[0], f);
        call_args a = eval_args(e, f, 1);
        return call(fn, a, e.line);
      }
      case ex::filter: {
        value in = eval(*e.args[0], f);
        call_args a = eval_args(e, f, 1);
        return apply_filter(e.name, in, a, e.line);
      }
      case ex::test: {
        value in = eval(*e.args[0], f);
        call_args a = eval_args(e, f, 1);
        bool r = apply_test(e.name, in, a, e.line);
        return value::boolean(e.negated ? !r : r);
      }
      case ex::neg:
      case ex::pos: {
        value v = eval(*e.args[0], f);
        if (v.k == kind::floating) return value::floating(e.k == ex::neg ? -v.f : v.f);
        if (is_int_like(v)) {
          int64_t x = int_of(v);
          if (e.k == ex::pos) return value::integer(x);
          if (x == INT64_MIN) fail("integer overflow", e.line);
          return value::integer(-x);
        }
        if (v.is_undefined()) fail(undefined_message(v), e.line);
        fail("bad operand type for unary " + std::string(e.k == ex::neg ? "-" : "+") + ": '" +
                 type_name(v) + "'",
             e.line);
      }
      case ex::not_:
        return value::boolean(!truthy(eval(*e.args[0], f)));
      case ex::binop: {
        value a = eval(*e.args[0], f);
        value b = eval(*e.args[1], f);
        return eval_binop(e, a, b);
      }
      case ex::and_: {
        value a = eval(*e.args[0], f);
        if (!truthy(a)) return a;
        return eval(*e.args[1], f);
      }
      case ex::or_: {
        value a = eval(*e.args[0], f);
        if (truthy(a)) return a;
        return eval(*e.args[1], f);
      }
      case ex::compare: {
        value left = eval(*e.args[0], f);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          value right = eval(*e.args[i + 1], f);
          if (!eval_compare(e.ops[i], left, right, e.line)) return value::boolean(false);
          left = std::move(right);
        }
        return value::boolean(true);
      }
      case ex::cond:
        if (truthy(eval(*e.args[1], f))) return eval(*e.args[0], f);
        if (e.args[2]) return eval(*e.args[2], f);
        return value::undef("the inline if-expression on line " + std::to_string(e.line) +
                            " evaluated to false and no else section was defined.");
      case ex::block_input:
        return block_input_ ? *block_input_ : value::string("");
    }
  } catch (jinja_error& err) {
    if (err.line == 0) err.line = e.line;
    throw;
  }
  return value::undef();
}

// ---- public API ----

struct body_holder {
  body b;
};

result<compiled_template> compiled_template::compile(std::string_view source) {
  try {
    auto h = std::make_shared<body_holder>();
    h->b = parse_template(source);
    compiled_template t;
    t.body_ = std::move(h);
    return t;
  } catch (const jinja_error& e) {
    return make_error("template syntax error: line {}: {}", e.line, e.message);
  }
}

result<std::string> compiled_template::render(
    const std::vector<std::pair<std::string, value>>& context,
    const render_options& options) const {
  try {
    auto globals = std::make_shared<frame>();
    add_builtin_globals(*globals);
    for (const auto& [k, v] : context) globals->vars[k] = v;
    interpreter in(options);
    return in.run(body_->b, std::move(globals));
  } catch (const jinja_error& e) {
    if (e.raised) return make_error("raise_exception: {}", e.message);
    return make_error("template error: line {}: {}", e.line, e.message);
  }
}

}  // namespace uma::jinja
