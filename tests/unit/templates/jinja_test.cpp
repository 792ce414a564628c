// Unit tests of the Jinja interpreter: expressions with Python semantics, filters, tests,
// statements, whitespace control, error messages with lines, and limits on hostile templates.
// (Byte-identity with Jinja2 on real chat templates is checked by tests/py/test_templates.py.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/jinja.h"

namespace {

using uma::jinja::compiled_template;

uma::result<std::string> try_render(const std::string& src, const std::string& ctx_json = "{}",
                                    uma::jinja::render_options opts = {}) {
  auto t = compiled_template::compile(src);
  if (!t) return t.err();
  std::vector<std::pair<std::string, uma::jinja::value>> ctx;
  auto j = nlohmann::ordered_json::parse(ctx_json);
  for (auto it = j.begin(); it != j.end(); ++it)
    ctx.emplace_back(it.key(), uma::jinja::from_json(it.value()));
  return t->render(ctx, opts);
}

std::string render(const std::string& src, const std::string& ctx_json = "{}") {
  auto r = try_render(src, ctx_json);
  EXPECT_TRUE(r.ok()) << src << " -> " << (r.ok() ? "" : r.message());
  return r.ok() ? *r : "<error>";
}

std::string error_of(const std::string& src, const std::string& ctx_json = "{}",
                     uma::jinja::render_options opts = {}) {
  auto r = try_render(src, ctx_json, opts);
  EXPECT_FALSE(r.ok()) << src << " rendered " << (r.ok() ? *r : "");
  return r.ok() ? "" : r.message();
}

TEST(jinja_expr, arithmetic_follows_python) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % -3 }}|{{ -7 % 3 }}"),
            "7|3|-4|-2|2");
  EXPECT_EQ(render("{{ 2 ** 10 }}|{{ 1 / 2 }}|{{ 10 / 2 }}|{{ 1.5 + 1 }}|{{ true + 1 }}"),
            "1024|0.5|5.0|2.5|2");
  EXPECT_EQ(render("{{ 'ab' * 3 }}|{{ [1] * 2 }}|{{ 'a' ~ 1 ~ none ~ true }}"),
            "ababab|[1, 1]|a1NoneTrue");
  EXPECT_NE(error_of("{{ 1 // 0 }}").find("division"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a' + 1 }}").find("unsupported operand"), std::string::npos);
}

TEST(jinja_expr, python_printing) {
  EXPECT_EQ(render("{{ [1, 'a', none, true, 2.0] }}"), "[1, 'a', None, True, 2.0]");
  EXPECT_EQ(render("{{ {'k': [1, {'n': false}], 2: 'x'} }}"), "{'k': [1, {'n': False}], 2: 'x'}");
  EXPECT_EQ(render("{{ (1,) }}|{{ (1, 2) }}|{{ () }}"), "(1,)|(1, 2)|()");
  EXPECT_EQ(render("{{ 0.1 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1/3 }}"),
            "0.1|1e+16|1000000000000000.0|0.0001|1e-05|0.3333333333333333");
  EXPECT_EQ(render("{{ [\"it's\", 'say \"hi\"', 'a\\nb'] }}"), "[\"it's\", 'say \"hi\"', 'a\\nb']");
  EXPECT_EQ(render("{{ x }}", R"({"x": {"b": 1, "a": [2.5, null]}})"),
            "{'b': 1, 'a': [2.5, None]}");
}

TEST(jinja_expr, logic_and_comparisons) {
  EXPECT_EQ(render("{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ 1 == 1.0 }}|{{ 'a' != 'b' }}"),
            "True|False|True|True");
  EXPECT_EQ(render("{{ 'b' in 'abc' }}|{{ 2 not in [1, 2] }}|{{ 'k' in {'k': 1} }}"),
            "True|False|True");
  EXPECT_EQ(render("{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ [] and 1 }}|{{ not none }}"),
            "x|b|[]|True");
  EXPECT_EQ(render("{{ 'y' if 1 else 'n' }}|{{ 'y' if 0 else 'n' }}|{{ 'y' if 0 }}."), "y|n|.");
}

TEST(jinja_expr, subscripts_slices_and_methods) {
  EXPECT_EQ(render("{{ 'hello'[1:3] }}|{{ [1, 2, 3][::-1] }}|{{ 'héllo'[1] }}|{{ [1, 2, 3][-1] }}"),
            "el|[3, 2, 1]|é|3");
  EXPECT_EQ(render("{{ 'héllo wörld'[-5:] }}|{{ 'abc'[5] }}|{{ [1][3] is defined }}"),
            "wörld||False");
  EXPECT_EQ(render("{{ '  x y  '.strip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}"),
            "x y|['a', 'b', '', 'c']|['a', 'b']");
  EXPECT_EQ(
      render("{{ 'a b c'.split(' ', 1) }}|{{ 'a.b.c'.rsplit('.', 1) }}|{{ 'xxhixx'.strip('x') }}"),
      "['a', 'b c']|['a.b', 'c']|hi");
  EXPECT_EQ(render("{{ 'abc'.startswith(('x', 'a')) }}|{{ 'abc'.endswith('bc') }}|{{ "
                   "'aXa'.replace('a', 'b') }}"),
            "True|True|bXb");
  EXPECT_EQ(render("{{ 'hello world'.title() }}|{{ 'ABC'.lower() }}|{{ 'abc'.upper() }}"),
            "Hello World|abc|ABC");
  EXPECT_EQ(render("{{ d.get('a') }}|{{ d.get('z', 5) }}|{{ d.get('z') }}|{{ d.items() | list }}",
                   R"({"d": {"a": 1, "b": 2}})"),
            "1|5|None|[('a', 1), ('b', 2)]");
  EXPECT_EQ(render("{{ d.keys() | list }}|{{ d.values() | list }}|{{ d['a'] }}|{{ d.a }}",
                   R"({"d": {"a": 1}})"),
            "['a']|[1]|1|1");
}

TEST(jinja_filters, common_filters) {
  EXPECT_EQ(render("{{ 'héllo' | length }}|{{ [1, 2] | length }}|{{ nope | length }}"), "5|2|0");
  EXPECT_EQ(
      render(
          "{{ [1, 2, 3] | join(', ') }}|{{ nope | default('d') }}|{{ '' | default('d', true) }}"),
      "1, 2, 3|d|d");
  EXPECT_EQ(
      render("{{ xs | map(attribute='n') | list }}|{{ xs | selectattr('n', 'equalto', 2) | list }}",
             R"({"xs": [{"n": 1}, {"n": 2}]})"),
      "[1, 2]|[{'n': 2}]");
  EXPECT_EQ(render("{{ xs | rejectattr('ok') | map(attribute='n') | join }}",
                   R"({"xs": [{"n": 1, "ok": true}, {"n": 2, "ok": false}, {"n": 3}]})"),
            "23");
  EXPECT_EQ(render("{{ ' x ' | trim }}|{{ 42 | string }}|{{ '7' | int + 1 }}|{{ 'z' | int }}|{{ "
                   "'2.5' | float }}"),
            "x|42|8|0|2.5");
  EXPECT_EQ(render("{{ {'b': 1, 'A': 2} | dictsort }}|{{ ['b', 'A', 'a'] | unique | list }}"),
            "[('A', 2), ('b', 1)]|['b', 'A']");
  EXPECT_EQ(
      render("{{ [3, 1, 2] | sort }}|{{ [3, 1] | first }}|{{ [3, 1] | last }}|{{ 'ab' | list }}"),
      "[1, 2, 3]|3|1|['a', 'b']");
  EXPECT_EQ(render("{{ 'a\nb\n\nc' | indent(2) }}|{{ 'x' | indent(2, first=true) }}"),
            "a\n  b\n\n  c|  x");
  EXPECT_EQ(render("{{ 'hello world' | title }}|{{ 'hELLO' | capitalize }}|{{ 'ab' | upper }}"),
            "Hello World|Hello|AB");
}

TEST(jinja_filters, tojson_matches_python_json_dumps) {
  EXPECT_EQ(render("{{ x | tojson }}", R"({"x": {"a": [1, 2.0, "é\"<"], "b": null, "c": true}})"),
            R"({"a": [1, 2.0, "é\"<"], "b": null, "c": true})");
  EXPECT_EQ(render("{{ x | tojson(indent=2) }}", R"({"x": {"a": [1], "e": {}, "l": []}})"),
            "{\n  \"a\": [\n    1\n  ],\n  \"e\": {},\n  \"l\": []\n}");
  EXPECT_EQ(render("{{ 'a\\tb\\u0001' | tojson }}|{{ 'é' | tojson(ensure_ascii=true) }}"),
            "\"a\\tb\\u0001\"|\"\\u00e9\"");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2} | tojson(separators=(',', ':'), sort_keys=true) }}"),
            R"({"a":2,"b":1})");
  EXPECT_NE(error_of("{{ nope | tojson }}").find("not JSON serializable"), std::string::npos);
}

TEST(jinja_filters, markup_escapes_plain_strings_on_concatenation) {
  EXPECT_EQ(render("{{ '<a>' | safe + '<b>' }}|{{ '<c>' + '&' | safe }}|{{ '<' | safe ~ '<' }}"),
            "<a>&lt;b&gt;|&lt;c&gt;&|<<");
}

TEST(jinja_tests, type_tests) {
  EXPECT_EQ(render("{{ x is defined }}{{ y is defined }}{{ none is none }}{{ 'a' is string }}",
                   R"({"x": 1})"),
            "TrueFalseTrueTrue");
  EXPECT_EQ(render("{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 1 is iterable }}"),
            "TrueFalseTrueFalse");
  EXPECT_EQ(
      render("{{ 'a' is sequence }}{{ 1 is number }}{{ 1.0 is integer }}{{ true is boolean }}"),
      "TrueTrueFalseTrue");
  EXPECT_EQ(render("{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ x is not none }}{{ 2 is in [1, 2] }}",
                   R"({"x": 0})"),
            "TrueTrueTrueTrue");
}

TEST(jinja_statements, for_loop_variables) {
  EXPECT_EQ(
      render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
             "{{ loop.length }}{{ loop.revindex }};{% endfor %}",
             R"({"xs": ["a", "b"]})"),
      "10TrueFalse22;21FalseTrue21;");
  EXPECT_EQ(render("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }},{% endfor %}"),
            "-2,1-3,2-,");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in range(10) if x is odd %}{{ x }}{{ loop.length }} {% endfor %}"),
            "15 35 55 75 95 ");
  EXPECT_EQ(render("{% for x in range(9) %}{% if x == 2 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "013");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=2;");
  EXPECT_EQ(render("{% for x in 'ab' %}{{ loop.cycle('o', 'e') }}{% endfor %}"), "oe");
}

TEST(jinja_statements, scoping_set_namespace_macro) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1, 2] %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "3");
  EXPECT_EQ(render("{% if true %}{% set y = 'in-if' %}{% endif %}{{ y }}"), "in-if");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set s %}  block {{ 1 }}{% endset %}[{{ s }}]"), "[  block 1]");
  EXPECT_EQ(render("{% set s | upper %}abc{% endset %}{{ s }}"), "ABC");
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"),
            "1B12");
  EXPECT_EQ(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"),
            "<in>");
  EXPECT_EQ(render("{% filter upper %}abc{{ 'd' }}{% endfilter %}"), "ABCD");
  EXPECT_EQ(render("{{ dict(a=1, b='x') }}|{{ range(3) | list }}|{{ range(1, 7, 2) | list }}"),
            "{'a': 1, 'b': 'x'}|[0, 1, 2]|[1, 3, 5]");
}

TEST(jinja_whitespace, trim_and_lstrip_blocks_as_hf) {
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\ny"), "  x\ny");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a {{- ' b ' -}} c"), "a b c");
  EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
  EXPECT_EQ(render("x\n"), "x");  // one trailing newline is dropped
  EXPECT_EQ(render("x\n\n"), "x\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");  // newlines normalized
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
  EXPECT_EQ(render("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
}

TEST(jinja_undefined, behaves_like_jinja2_default_undefined) {
  EXPECT_EQ(render("[{{ nope }}][{{ d.missing }}][{{ nope | length }}]", R"({"d": {}})"),
            "[][][0]");
  EXPECT_EQ(render("{% for x in nope %}x{% endfor %}{% if nope %}y{% endif %}ok"), "ok");
  EXPECT_NE(error_of("{{ nope.attr }}").find("'nope' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ d.a.b }}", R"({"d": {}})").find("has no attribute 'a'"),
            std::string::npos);
  EXPECT_NE(error_of("{{ nope + 1 }}").find("undefined"), std::string::npos);
}

TEST(jinja_errors, messages_name_the_line) {
  std::string e = error_of("line1\n{% if x %}\n{{ 1 + }}\n{% endif %}");
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  e = error_of("a\nb\n{% for x in y %}");
  EXPECT_NE(e.find("endfor"), std::string::npos) << e;
  e = error_of("{{ 'x' }}\n\n{{ 'a' | no_such_filter }}");
  EXPECT_NE(e.find("line 3"), std::string::npos) << e;
  EXPECT_NE(e.find("no_such_filter"), std::string::npos) << e;
  e = error_of("{% extends 'base.html' %}");
  EXPECT_NE(e.find("unsupported tag 'extends'"), std::string::npos) << e;
  e = error_of("{{ raise_exception('Only user and assistant roles are supported!') }}");
  EXPECT_EQ(e, "raise_exception: Only user and assistant roles are supported!");
  e = error_of("{% set l = [] %}{{ l.append(1) }}");
  EXPECT_NE(e.find("unsafe"), std::string::npos) << e;
  e = error_of("{% break %}");
  EXPECT_NE(e.find("outside of a loop"), std::string::npos) << e;
  e = error_of("{{ 'unterminated }}");
  EXPECT_NE(e.find("line 1"), std::string::npos) << e;
}

TEST(jinja_limits, hostile_templates_fail_cleanly) {
  EXPECT_NE(error_of("{{ " + std::string(100000, '(') + " }}").find("nested too deeply"),
            std::string::npos);
  std::string nots, chain = "1", attrs = "x";
  for (int i = 0; i < 100000; ++i) nots += "not ";
  for (int i = 0; i < 100000; ++i) chain += " - 1";
  for (int i = 0; i < 100000; ++i) attrs += ".a|trim";
  EXPECT_NE(error_of("{{ " + nots + "1 }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ " + chain + " }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ " + attrs + " }}").find("nested too deeply"), std::string::npos);
  std::string deep_if;
  for (int i = 0; i < 5000; ++i) deep_if += "{% if true %}";
  EXPECT_NE(error_of(deep_if).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ '[' * 100000 }}{{ " + std::string(3000, '[') + " }}").find("nested"),
            std::string::npos);
  uma::jinja::render_options small;
  small.limits.max_steps = 100000;
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                     "{% endfor %}",
                     "{}", small)
                .find("step limit"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(1000000) | length }}").find("MAX_RANGE"), std::string::npos);
  EXPECT_NE(
      error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested too deeply"),
      std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 10000000000 }}").find("size limit"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='xx') %}{% for i in range(100) %}"
                     "{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("size limit"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='') %}{% for i in range(100000) %}"
                     "{% set ns.s = ns.s ~ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}"
                     "{% endfor %}")
                .find("work limit"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(5000) %}"
                     "{% set ns.x = [ns.x] %}{% endfor %}")
                .find("nested too deeply"),
            std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}").find("recursive"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
}

}  // namespace
