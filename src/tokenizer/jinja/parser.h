// Parses Jinja template source into a statement tree (ast.h), following jinja2.parser's grammar
// and operator precedence. Errors carry the template line.
#pragma once

#include <string_view>

#include "tokenizer/jinja/ast.h"

namespace uma::jinja {

inline constexpr int max_nesting = 200;  // statements + expressions; deeper input is rejected

// Throws jinja_error on a syntax error or an unsupported construct.
body parse_template(std::string_view source);

}  // namespace uma::jinja
