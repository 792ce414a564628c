// Splits Jinja template source into tokens, applying Jinja2's whitespace rules exactly as HF
// configures them (trim_blocks=True, lstrip_blocks=True, `-`/`+` markers, newline normalization
// and removal of one trailing newline).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace uma::jinja {

enum class tok : uint8_t {
  text,         // literal template data
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,
  string,
  integer,
  floating,
  op,  // operators and punctuation, in `s`
  eof,
};

struct token {
  tok t = tok::eof;
  std::string s;  // text, name, string value, operator
  int64_t i = 0;
  double f = 0;
  int line = 1;
};

// Throws jinja_error (with the line) on malformed input.
std::vector<token> lex(std::string_view source);

// Python str.rstrip() / str.strip() on whitespace.
std::string py_rstrip(std::string_view s);

}  // namespace uma::jinja
