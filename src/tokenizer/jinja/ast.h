// Syntax tree of a compiled Jinja template: expressions and statements, each with its source line
// for error messages. Built by parser.cpp, walked by interpreter.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace uma::jinja {

enum class ex : uint8_t {
  literal,  // lit
  name,     // name
  list,     // args
  tuple,    // args
  dict,     // args: k0, v0, k1, v1, ...
  getattr,  // args[0].name
  getitem,  // args[0][args[1]]
  slice,    // args[0][args[1]:args[2]:args[3]] (null = omitted)
  call,     // args[0](args[1..], kw)
  filter,   // args[0] | name(args[1..], kw)
  test,     // args[0] is [not] name(args[1..])   (negated)
  neg,      // -args[0]
  pos,      // +args[0]
  not_,     // not args[0]
  binop,    // args[0] name args[1]: + - * / // % ** ~
  and_,
  or_,
  compare,      // args[0] ops[0] args[1] ops[1] args[2] ...
  cond,         // args[0] if args[1] else args[2] (args[2] may be null)
  block_input,  // the body of a {% filter %} / {% set x | f %} block
};

struct expr;
using expr_ptr = std::unique_ptr<expr>;

struct expr {
  ex k = ex::literal;
  int line = 0;
  bool negated = false;
  uint16_t depth = 1;  // height of this subtree (bounded by the parser)
  value lit;
  std::string name;
  std::vector<expr_ptr> args;
  std::vector<std::string> kw_names;  // names of the last kw_names.size() args (calls, filters)
  std::vector<std::string> ops;       // compare operators
};

enum class st : uint8_t {
  text,          // text
  print,         // {{ exprs[0] }}
  if_,           // exprs[i] -> bodies[i]; bodies.size() == exprs.size() + 1 with else
  for_,          // for targets in exprs[0] [if exprs[1]]: bodies[0] else bodies[1]
  set,           // targets (or name.attr) = exprs[0]
  set_block,     // targets = body rendered (through exprs[0] filter chain if any)
  macro,         // name(params = defaults) bodies[0]
  call_block,    // {% call [(params)] exprs[0] %} bodies[0] {% endcall %}
  filter_block,  // exprs[0] applied to bodies[0]
  break_,
  continue_,
};

struct stmt;
using stmt_ptr = std::unique_ptr<stmt>;
using body = std::vector<stmt_ptr>;

struct stmt {
  st k = st::text;
  int line = 0;
  std::string text;
  std::vector<expr_ptr> exprs;
  std::vector<body> bodies;
  std::vector<std::string> targets;  // for/set names; set ns.attr: targets = {ns}, attr
  std::string attr;
  bool target_tuple = false;
  std::string name;                 // macro name
  std::vector<std::string> params;  // macro / call-block parameters
  std::vector<expr_ptr> defaults;   // same size as params (null = required)
};

}  // namespace uma::jinja
