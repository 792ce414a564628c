// Recursive-descent parser for Jinja templates (see parser.h).
#include "tokenizer/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "tokenizer/jinja/lexer.h"

namespace uma::jinja {

namespace {

class parser {
 public:
  explicit parser(std::vector<token> toks) : t_(std::move(toks)) {}

  body parse_all() {
    std::string end;
    body b = parse_body({}, end);
    if (!end.empty()) fail("unexpected '" + end + "'", cur().line);
    return b;
  }

 private:
  struct depth_guard {
    explicit depth_guard(parser& p) : p(p) {
      if (++p.depth_ > max_nesting) fail("template nested too deeply", p.cur().line);
    }
    ~depth_guard() { --p.depth_; }
    parser& p;
  };

  const token& cur() const { return t_[i_]; }
  const token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool is_op(const char* op) const { return cur().t == tok::op && cur().s == op; }
  bool is_name(const char* n) const { return cur().t == tok::name && cur().s == n; }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  [[noreturn]] void unexpected(const char* what) {
    std::string got;
    switch (cur().t) {
      case tok::name:
        got = "'" + cur().s + "'";
        break;
      case tok::op:
        got = "'" + cur().s + "'";
        break;
      case tok::string:
        got = "string";
        break;
      case tok::integer:
      case tok::floating:
        got = "number";
        break;
      case tok::block_end:
        got = "end of statement block";
        break;
      case tok::var_end:
        got = "end of print statement";
        break;
      case tok::eof:
        got = "end of template";
        break;
      default:
        got = "token";
        break;
    }
    fail(std::string("expected ") + what + ", got " + got, cur().line);
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) unexpected((std::string("'") + op + "'").c_str());
  }
  std::string expect_name() {
    if (cur().t != tok::name) unexpected("name");
    std::string s = cur().s;
    next();
    return s;
  }
  void expect_block_end() {
    if (cur().t != tok::block_end) unexpected("end of statement block");
    next();
  }

  // Left-associative chains (a - b - c ..., a.b.c ..., x|f|g ...) are built iteratively; this
  // bounds their height so evaluating and destroying them cannot exhaust the stack.
  static expr_ptr track(expr_ptr e) {
    int d = 0;
    for (const auto& a : e->args)
      if (a) d = std::max<int>(d, a->depth);
    if (d + 1 > max_nesting) fail("expression nested too deeply", e->line);
    e->depth = static_cast<uint16_t>(d + 1);
    return e;
  }

  static expr_ptr make(ex k, int line) {
    auto e = std::make_unique<expr>();
    e->k = k;
    e->line = line;
    return e;
  }

  // ---- statements ----

  // Parses until a block tag whose name is in `ends` (consumed; returned in `end`) or eof.
  body parse_body(std::initializer_list<const char*> ends, std::string& end) {
    depth_guard g(*this);
    body out;
    end.clear();
    while (true) {
      const token& tk = cur();
      if (tk.t == tok::eof) {
        if (ends.size() != 0) {
          std::string names;
          for (const char* n : ends)
            names += (names.empty() ? "'" : " or '") + std::string(n) + "'";
          fail("unexpected end of template, expected " + names, tk.line);
        }
        return out;
      }
      if (tk.t == tok::text) {
        auto s = std::make_unique<stmt>();
        s->k = st::text;
        s->line = tk.line;
        s->text = tk.s;
        out.push_back(std::move(s));
        next();
      } else if (tk.t == tok::var_begin) {
        auto s = std::make_unique<stmt>();
        s->k = st::print;
        s->line = tk.line;
        next();
        s->exprs.push_back(parse_tuple(true));
        if (cur().t != tok::var_end) unexpected("end of print statement");
        next();
        out.push_back(std::move(s));
      } else if (tk.t == tok::block_begin) {
        const token& nm = peek();
        if (nm.t != tok::name) {
          next();
          unexpected("statement name");
        }
        for (const char* e : ends) {
          if (nm.s == e) {
            next();
            next();
            end = e;
            return out;
          }
        }
        next();
        out.push_back(parse_statement());
      } else {
        unexpected("template data");
      }
    }
  }

  stmt_ptr parse_statement() {
    auto s = std::make_unique<stmt>();
    s->line = cur().line;
    std::string kw = expect_name();
    std::string end;
    if (kw == "if") {
      s->k = st::if_;
      s->exprs.push_back(parse_tuple(false));
      expect_block_end();
      while (true) {
        s->bodies.push_back(parse_body({"elif", "else", "endif"}, end));
        if (end == "elif") {
          s->exprs.push_back(parse_tuple(false));
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          s->bodies.push_back(parse_body({"endif"}, end));
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (kw == "for") {
      s->k = st::for_;
      parse_targets(*s, false);
      if (!accept_name("in")) unexpected("'in'");
      s->exprs.push_back(parse_tuple(false));
      s->exprs.push_back(nullptr);
      if (accept_name("if")) s->exprs[1] = parse_tuple(true);
      if (is_name("recursive")) fail("recursive loops are not supported", cur().line);
      expect_block_end();
      ++loop_depth_;
      s->bodies.push_back(parse_body({"endfor", "else"}, end));
      --loop_depth_;
      if (end == "else") {
        expect_block_end();
        s->bodies.push_back(parse_body({"endfor"}, end));
      }
      expect_block_end();
    } else if (kw == "set") {
      parse_targets(*s, true);
      if (accept_op("=")) {
        s->k = st::set;
        s->exprs.push_back(parse_tuple(true));
        expect_block_end();
      } else {
        s->k = st::set_block;
        if (!s->attr.empty() || s->target_tuple) fail("block set needs a single name", s->line);
        s->exprs.push_back(nullptr);
        if (is_op("|")) s->exprs[0] = parse_filters(make(ex::block_input, s->line));
        expect_block_end();
        s->bodies.push_back(parse_body({"endset"}, end));
        expect_block_end();
      }
    } else if (kw == "macro") {
      s->k = st::macro;
      s->name = expect_name();
      parse_params(*s);
      expect_block_end();
      int saved_loops = loop_depth_;
      loop_depth_ = 0;
      s->bodies.push_back(parse_body({"endmacro"}, end));
      loop_depth_ = saved_loops;
      if (cur().t == tok::name) next();  // {% endmacro name %}
      expect_block_end();
    } else if (kw == "call") {
      s->k = st::call_block;
      if (is_op("(")) parse_params(*s);
      auto c = parse_expression(true);
      if (c->k != ex::call) fail("expected call", s->line);
      s->exprs.push_back(std::move(c));
      expect_block_end();
      s->bodies.push_back(parse_body({"endcall"}, end));
      expect_block_end();
    } else if (kw == "filter") {
      s->k = st::filter_block;
      auto f = make(ex::filter, s->line);  // {% filter name(args) | more %}
      f->name = expect_name();
      f->args.push_back(make(ex::block_input, s->line));
      if (is_op("(")) parse_args(*f);
      s->exprs.push_back(parse_filters(std::move(f), false));
      expect_block_end();
      s->bodies.push_back(parse_body({"endfilter"}, end));
      expect_block_end();
    } else if (kw == "break" || kw == "continue") {
      s->k = kw == "break" ? st::break_ : st::continue_;
      if (loop_depth_ == 0) fail("'" + kw + "' outside of a loop", s->line);
      expect_block_end();
    } else {
      fail("unsupported tag '" + kw + "'", s->line);
    }
    return s;
  }

  void parse_targets(stmt& s, bool allow_attr) {
    int line = cur().line;
    bool paren = accept_op("(");
    s.targets.push_back(expect_name());
    if (allow_attr && accept_op(".")) {
      s.attr = expect_name();
      return;
    }
    while (accept_op(",")) {
      s.target_tuple = true;
      if (cur().t != tok::name) break;
      s.targets.push_back(expect_name());
    }
    if (paren) {
      s.target_tuple = true;
      expect_op(")");
    }
    for (const auto& n : s.targets)
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        fail("cannot assign to '" + n + "'", line);
  }

  void parse_params(stmt& s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s.params.empty()) expect_op(",");
      if (is_op(")")) break;
      s.params.push_back(expect_name());
      s.defaults.push_back(accept_op("=") ? parse_expression(true) : nullptr);
    }
    expect_op(")");
  }

  // ---- expressions ----

  expr_ptr parse_tuple(bool with_condexpr) {
    int line = cur().line;
    std::vector<expr_ptr> items;
    bool comma = false;
    while (true) {
      if (!items.empty()) {
        if (!accept_op(",")) break;
        comma = true;
      }
      if (cur().t == tok::var_end || cur().t == tok::block_end || is_op(")") ||
          (is_name("if") && !with_condexpr) || is_name("in") || is_op("="))
        break;
      items.push_back(parse_expression(with_condexpr));
    }
    if (!comma) {
      if (items.empty()) unexpected("expression");
      return std::move(items[0]);
    }
    auto t = make(ex::tuple, line);
    t->args = std::move(items);
    return t;
  }

  expr_ptr parse_expression(bool with_condexpr) {
    depth_guard g(*this);
    if (!with_condexpr) return parse_or();
    auto e = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      next();
      auto c = make(ex::cond, line);
      auto cond = parse_or();
      expr_ptr other;
      if (accept_name("else")) other = parse_expression(true);
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  expr_ptr binary(ex k, expr_ptr a, expr_ptr b, int line, std::string op = {}) {
    auto e = make(k, line);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return track(std::move(e));
  }

  expr_ptr parse_or() {
    auto e = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      next();
      e = binary(ex::or_, std::move(e), parse_and(), line);
    }
    return e;
  }
  expr_ptr parse_and() {
    auto e = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      next();
      e = binary(ex::and_, std::move(e), parse_not(), line);
    }
    return e;
  }
  expr_ptr parse_not() {
    if (is_name("not")) {
      depth_guard g(*this);
      auto e = make(ex::not_, cur().line);
      next();
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  expr_ptr parse_compare() {
    int line = cur().line;
    auto first = parse_math1();
    expr_ptr cmp;
    while (true) {
      std::string op;
      if (cur().t == tok::op && (cur().s == "==" || cur().s == "!=" || cur().s == "<" ||
                                 cur().s == "<=" || cur().s == ">" || cur().s == ">=")) {
        op = cur().s;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && peek().t == tok::name && peek().s == "in") {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ex::compare, line);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }
  expr_ptr parse_math1() {
    auto e = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().s;
      int line = cur().line;
      next();
      e = binary(ex::binop, std::move(e), parse_concat(), line, op);
    }
    return e;
  }
  expr_ptr parse_concat() {
    auto e = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      next();
      e = binary(ex::binop, std::move(e), parse_math2(), line, "~");
    }
    return e;
  }
  expr_ptr parse_math2() {
    auto e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().s;
      int line = cur().line;
      next();
      e = binary(ex::binop, std::move(e), parse_pow(), line, op);
    }
    return e;
  }
  expr_ptr parse_pow() {
    auto e = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      next();
      e = binary(ex::binop, std::move(e), parse_unary(true), line, "**");
    }
    return e;
  }
  expr_ptr parse_unary(bool with_filter) {
    depth_guard g(*this);
    expr_ptr e;
    if (is_op("-") || is_op("+")) {
      auto u = make(is_op("-") ? ex::neg : ex::pos, cur().line);
      next();
      u->args.push_back(parse_unary(false));
      e = std::move(u);
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filters(std::move(e));
    return e;
  }

  expr_ptr parse_primary() {
    const token& tk = cur();
    int line = tk.line;
    if (tk.t == tok::name) {
      const std::string& n = tk.s;
      auto lit = make(ex::literal, line);
      if (n == "true" || n == "True") {
        lit->lit = value::boolean(true);
      } else if (n == "false" || n == "False") {
        lit->lit = value::boolean(false);
      } else if (n == "none" || n == "None") {
        lit->lit = value::none();
      } else {
        auto e = make(ex::name, line);
        e->name = n;
        next();
        return e;
      }
      next();
      return lit;
    }
    if (tk.t == tok::string) {
      std::string s;
      while (cur().t == tok::string) {
        s += cur().s;
        next();
      }
      auto lit = make(ex::literal, line);
      lit->lit = value::string(std::move(s));
      return lit;
    }
    if (tk.t == tok::integer || tk.t == tok::floating) {
      auto lit = make(ex::literal, line);
      lit->lit = tk.t == tok::integer ? value::integer(tk.i) : value::floating(tk.f);
      next();
      return lit;
    }
    if (accept_op("(")) {
      if (accept_op(")")) {
        auto t = make(ex::tuple, line);
        return t;
      }
      auto e = parse_tuple(true);
      expect_op(")");
      return e;
    }
    if (accept_op("[")) {
      auto l = make(ex::list, line);
      while (!is_op("]")) {
        if (!l->args.empty()) expect_op(",");
        if (is_op("]")) break;
        l->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return l;
    }
    if (accept_op("{")) {
      auto d = make(ex::dict, line);
      while (!is_op("}")) {
        if (!d->args.empty()) expect_op(",");
        if (is_op("}")) break;
        d->args.push_back(parse_expression(true));
        expect_op(":");
        d->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return d;
    }
    unexpected("expression");
  }

  expr_ptr parse_postfix(expr_ptr e) {
    while (true) {
      if (is_op(".") || is_op("[")) {
        e = track(parse_subscript(std::move(e)));
      } else if (is_op("(")) {
        e = track(parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  expr_ptr parse_subscript(expr_ptr obj) {
    int line = cur().line;
    if (accept_op(".")) {
      if (cur().t == tok::name) {
        auto e = make(ex::getattr, line);
        e->name = cur().s;
        next();
        e->args.push_back(std::move(obj));
        return e;
      }
      if (cur().t == tok::integer) {
        auto e = make(ex::getitem, line);
        auto idx = make(ex::literal, line);
        idx->lit = value::integer(cur().i);
        next();
        e->args.push_back(std::move(obj));
        e->args.push_back(std::move(idx));
        return e;
      }
      unexpected("name or number");
    }
    expect_op("[");
    std::vector<expr_ptr> parts;
    bool is_slice = false;
    expr_ptr slice_parts[3];
    int n_colon = 0;
    if (!is_op(":")) slice_parts[0] = parse_expression(true);
    while (accept_op(":")) {
      is_slice = true;
      if (++n_colon > 2) unexpected("']'");
      if (!is_op(":") && !is_op("]")) slice_parts[n_colon] = parse_expression(true);
    }
    if (!is_slice && accept_op(",")) {
      auto t = make(ex::tuple, line);
      t->args.push_back(std::move(slice_parts[0]));
      while (!is_op("]")) {
        t->args.push_back(parse_expression(true));
        if (!accept_op(",")) break;
      }
      slice_parts[0] = std::move(t);
    }
    expect_op("]");
    auto e = make(is_slice ? ex::slice : ex::getitem, line);
    e->args.push_back(std::move(obj));
    e->args.push_back(std::move(slice_parts[0]));
    if (is_slice) {
      e->args.push_back(std::move(slice_parts[1]));
      e->args.push_back(std::move(slice_parts[2]));
    } else if (!e->args[1]) {
      unexpected("expression");
    }
    return e;
  }

  // Parses "(args, kw=...)" into e->args / e->kw_names.
  void parse_args(expr& e) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**"))
        fail("*args / **kwargs in calls are not supported", cur().line);
      if (cur().t == tok::name && peek().t == tok::op && peek().s == "=") {
        e.kw_names.push_back(cur().s);
        next();
        next();
        e.args.push_back(parse_expression(true));
      } else {
        if (!e.kw_names.empty()) fail("positional argument follows keyword argument", cur().line);
        e.args.push_back(parse_expression(true));
      }
    }
    expect_op(")");
  }

  expr_ptr parse_call(expr_ptr fn) {
    depth_guard g(*this);
    auto e = make(ex::call, cur().line);
    e->args.push_back(std::move(fn));
    parse_args(*e);
    return e;
  }

  expr_ptr parse_filters(expr_ptr e, bool allow_tests = true) {
    while (true) {
      if (is_op("|")) {
        depth_guard g(*this);
        int line = cur().line;
        next();
        auto f = make(ex::filter, line);
        f->name = expect_name();
        while (is_op(".") && peek().t == tok::name) {
          next();
          f->name += "." + expect_name();
        }
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_args(*f);
        e = track(std::move(f));
      } else if (allow_tests && is_name("is")) {
        depth_guard g(*this);
        int line = cur().line;
        next();
        auto t = make(ex::test, line);
        t->negated = accept_name("not");
        t->name = expect_name();
        while (is_op(".") && peek().t == tok::name) {
          next();
          t->name += "." + expect_name();
        }
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_args(*t);
        } else if ((cur().t == tok::name || cur().t == tok::string || cur().t == tok::integer ||
                    cur().t == tok::floating || is_op("(") || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("You cannot chain multiple tests with is", cur().line);
          t->args.push_back(parse_postfix(parse_primary()));
        }
        e = track(std::move(t));
      } else if (allow_tests && is_op("(")) {
        e = track(parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  std::vector<token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

body parse_template(std::string_view source) {
  return parser(lex(source)).parse_all();
}

}  // namespace uma::jinja
