"""Small Jinja snippets covering the interpreter's constructs one by one, rendered by Python's
Jinja2 (configured as HF transformers does) and by `uma template --batch` (one process for all),
compared byte for byte; a snippet that raises in Jinja2 must raise in uma too."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_templates import jinja2_compile, jinja2_render, make_env, uma_render_cases  # noqa: E402

D = {"d": {"b": 1, "a": [2.5, None, True], "c": {"x": "é"}},
     "xs": [{"n": 3, "s": "B", "ok": True}, {"n": 1, "s": "a", "ok": False}, {"n": 2, "s": "c"}],
     "s": "  Héllo, Wörld! 🚀 ", "i": 7, "f": 2.0, "e": "", "z": None, "l": [3, 1, 2],
     "big": 12345678901234, "neg": -3.5, "u": "ÀÉ ß ǅ"}

SNIPPETS = [
    # printing of Python values
    "{{ d }}|{{ xs }}|{{ l }}|{{ z }}|{{ f }}|{{ i }}|{{ big }}|{{ neg }}",
    "{{ 0.1 + 0.2 }}|{{ 1e300 * 10 }}|{{ -0.0 }}|{{ 3.0 * 1.5 }}|{{ 2 ** 0.5 }}|{{ 10 / 4 }}|{{ 1e-7 }}",
    "{{ 123456789012345678.0 }}|{{ 0.000123 }}|{{ 1.5e16 }}|{{ 100.0 }}|{{ 7 / 7 }}",
    "{{ ['a\\'b', \"q\\\"\", 'tab\\t', 'nl\\n', 'bs\\\\', 'é', '\\x01', '\\u00a0'] }}",
    "{{ (1, 'a') }}|{{ ('x',) }}|{{ {'k': (1, 2)} }}|{{ [[], {}, ()] }}",
    "{{ true }}{{ false }}{{ none }}{{ True }}{{ None }}",
    # operators
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 3 ** 2 }}",
    "{{ 'a' ~ 1 ~ 2.0 ~ none ~ [1] }}|{{ 'ab' * 2 }}|{{ 2 * 'ab' }}|{{ [1] + [2] }}|{{ (1,) + (2,) }}",
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 == true }}",
    "{{ 'é' in s }} {{ 'x' not in s }} {{ 3 in l }} {{ 'b' in d }} {{ 'q' in z|default([]) }}",
    "{{ i and f }} {{ e or 'dflt' }} {{ z or e }} {{ not i }} {{ -i }} {{ +f }} {{ - - i }}",
    "{{ 'yes' if i > 5 else 'no' }}|{{ 'y' if e }}|{{ ('a' if false else 'b') ~ 'c' }}",
    "{{ 1 + 2 * 3 - 4 / 2 }} {{ (1 + 2) * 3 }} {{ 2 * 3 ~ 4 }} {{ -2 ** 2 }}",
    # strings and methods
    "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ s.strip(' H🚀') }}]",
    "{{ s.split() }}|{{ s.split(',') }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a  b'.split(' ') }}|{{ ''.split() }}",
    "{{ 'a.b.c'.rsplit('.', 1) }}|{{ 'x\\ny\\r\\nz'.splitlines() }}|{{ 'abc'.startswith('ab') }}",
    "{{ u.upper() }}|{{ u.lower() }}|{{ u.title() }}|{{ 'hello WORLD'.capitalize() }}|{{ \"they're bill's\".title() }}",
    "{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'abc'.replace('', '-') }}|{{ 'héllo'.find('l') }}|{{ 'héllo'.rfind('l') }}",
    "{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}|{{ '12'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ '  '.isspace() }}",
    "{{ 'Hi {} and {name}'.format('x', name='y') }}|{{ 'AB'.isupper() }}|{{ 'ab'.islower() }}",
    "{{ s[1:4] }}|{{ s[-3:] }}|{{ s[::2] }}|{{ s[::-1] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[5:] }}|{{ s[100] }}",
    "{{ l[0] }}{{ l[-1] }}{{ d['b'] }}{{ d.b }}{{ d.c.x }}{{ d['c']['x'] }}{{ d.a.0 }}{{ d.a[1] }}",
    "{{ '%s-%d' % ('a', 3) }}|{{ '%.2f' % 3.14159 }}|{{ '%05d' % 42 }}|{{ 'x=%s' % none }}",
    # filters
    "{{ s|length }} {{ l|length }} {{ d|length }} {{ missing|length }} {{ l|count }}",
    "{{ l|join(',') }}|{{ l|join }}|{{ xs|join(',', attribute='n') }}|{{ 'abc'|join('.') }}",
    "{{ missing|default('x') }}|{{ z|default('x') }}|{{ e|default('x', true) }}|{{ missing|d('y') }}",
    "{{ xs|map(attribute='n')|list }}|{{ xs|map(attribute='q', default=0)|list }}|{{ ['a', 'B']|map('upper')|list }}",
    "{{ xs|selectattr('ok')|list|length }}|{{ xs|rejectattr('ok')|map(attribute='s')|join }}",
    "{{ xs|selectattr('n', 'gt', 1)|map(attribute='n')|list }}|{{ xs|selectattr('s', 'in', ['a', 'c'])|list|length }}",
    "{{ l|select('odd')|list }}|{{ l|reject('even')|list }}|{{ [0, 1, '', 'a']|select|list }}",
    "{{ xs|sort(attribute='n')|map(attribute='n')|list }}|{{ xs|sort(attribute='s')|map(attribute='s')|join }}",
    "{{ ['b', 'A', 'a', 'C']|sort }}|{{ ['b', 'A', 'a']|sort(case_sensitive=true) }}|{{ l|sort(reverse=true) }}",
    "{{ d|dictsort }}|{{ {'b': 2, 'A': 1}|dictsort(by='value', reverse=true) }}",
    "{{ ['a', 'A', 'b', 'a']|unique|list }}|{{ xs|unique(attribute='ok')|list|length }}",
    "{{ l|first }}|{{ l|last }}|{{ 'abc'|first }}|{{ []|first }}|{{ l|min }}|{{ l|max }}|{{ l|sum }}",
    "{{ d|items|list }}|{{ d.items()|list }}|{{ d|list }}|{{ 'ab'|list }}|{{ l|reverse|list }}|{{ 'abc'|reverse }}",
    "{{ ' x '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ 42|string }}|{{ none|string }}|{{ [1]|string }}",
    "{{ '3'|int + 1 }}|{{ 'x'|int }}|{{ 'x'|int(5) }}|{{ 3.9|int }}|{{ '4.5'|int }}|{{ '2.5'|float }}|{{ 3|float }}",
    "{{ 'hello world'|title }}|{{ 'hELLO'|capitalize }}|{{ 'x-y z(w'|title }}|{{ 'aB'|upper }}{{ 'aB'|lower }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(1, blank=true) }}|{{ 'x'|indent('> ', first=true) }}",
    "{{ 'aXbX'|replace('X', '-') }}|{{ 'aaa'|replace('a', 'b', 1) }}|{{ 12|replace('1', '9') }}",
    "{{ -3|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 2.1|round(0, 'ceil') }}|{{ 1|round }}",
    "{{ l|batch(2)|list }}|{{ l|batch(2, 0)|list }}|{{ 'a b  c'|wordcount }}|{{ 'ab'|center(6) }}|",
    "{{ '<a>'|safe }}|{{ '<a>'|e }}|{{ '<a>'|escape|safe }}|{{ ('<' | safe) + '<' }}|{{ '<' + ('<' | safe) }}",
    "{{ ('<b>'|safe).strip() + '&' }}|{{ ('a'|safe).upper() + '<' }}|{{ ('<x>'|safe|trim) + '>' }}",
    "{{ d|tojson }}|{{ xs|tojson }}|{{ 'é\"\\n<'|tojson }}|{{ none|tojson }}|{{ 1.0|tojson }}|{{ (1, 2)|tojson }}",
    "{{ d|tojson(indent=2) }}|{{ {}|tojson(indent=4) }}|{{ [[]]|tojson(indent=1) }}",
    "{{ d|tojson(ensure_ascii=true) }}|{{ '🚀'|tojson(ensure_ascii=true) }}|{{ d|tojson(sort_keys=true) }}",
    "{{ l|tojson(separators=(',', ':')) }}|{{ d|tojson(indent=2, separators=(', ', ' = ')) }}",
    "{{ 'x'|attr('upper')() }}|{{ d|attr('b') }}|{{ '%s+%s'|format(1, 2) }}",
    # tests
    "{{ i is defined }}{{ missing is defined }}{{ missing is undefined }}{{ z is none }}{{ i is not none }}",
    "{{ s is string }}{{ d is mapping }}{{ l is mapping }}{{ l is iterable }}{{ i is iterable }}{{ missing is iterable }}",
    "{{ s is sequence }}{{ d is sequence }}{{ i is sequence }}{{ i is number }}{{ f is number }}{{ true is number }}",
    "{{ i is integer }}{{ f is integer }}{{ f is float }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 0 is false }}",
    "{{ i is odd }}{{ i is even }}{{ 9 is divisibleby 3 }}{{ i is eq 7 }}{{ i is ne 7 }}{{ i is lt 8 }}{{ i is ge 7 }}",
    "{{ 'ab' is lower }}{{ 'AB' is upper }}{{ range is callable }}{{ none is sameas none }}{{ 'upper' is filter }}{{ 'odd' is test }}",
    "{{ 2 is in l }}{{ i is equalto 7 }}{{ xs|selectattr('ok', 'defined')|list|length }}{{ (xs|selectattr('ok', 'true')|list)[0].n }}",
    # statements and loops
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
    "{% for x in l %}{{ loop.previtem }}/{{ loop.nextitem }}/{{ loop.cycle('a', 'b', 'c') }}/{{ loop.depth }};{% endfor %}",
    "{% for x in l if x > 1 %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% else %}none{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in l if x > 10 %}x{% else %}filtered{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}",
    "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }},{% endfor %}{% for x in missing %}never{% endfor %}",
    "{% for x in range(10) %}{% if x is even %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for x in l %}{% for y in l %}{{ loop.index }}{% endfor %}.{{ loop.index }} {% endfor %}",
    "{% set x = 1 %}{% for i in l %}{% set x = x + i %}{{ x }},{% endfor %}{{ x }}",
    "{% set ns = namespace(t=0, items=[]) %}{% for i in l %}{% set ns.t = ns.t + i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.t }}{{ ns.items }}",
    "{% set a, b = 'xy' %}{{ b }}{{ a }}{% set (c, e2) = [1, 2] %}{{ c }}{{ e2 }}",
    "{% if i > 10 %}a{% elif i > 5 %}b{% elif i > 1 %}c{% else %}d{% endif %}{% if e %}x{% else %}y{% endif %}",
    "{% set blk %}line1\n  {{ i }}\n{% endset %}[{{ blk }}]{% set up | upper | trim %} a b {% endset %}[{{ up }}]",
    "{% macro m(a, b=2, c='x') %}{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|{{ m(1, c='z') }}",
    "{% macro outer() %}[{{ caller() }}]{% endmacro %}{% call outer() %}inner {{ i }}{% endcall %}",
    "{% macro li(x) %}<{{ caller(x * 2) }}>{% endmacro %}{% call(v) li(21) %}v={{ v }}{% endcall %}",
    "{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}",
    "{% filter upper %}abc {{ s|trim }}{% endfilter %}|{% filter replace('a', 'o') %}banana{% endfilter %}",
    "{{ range(3)|list }}{{ range(1, 10, 3)|list }}{{ range(5, 0, -2)|list }}{{ dict(a=1, b=[2]) }}{{ dict(d, z=0)|length }}",
    "{% set n = namespace(d) %}{{ n.b }}{{ n.zz }}|{% set m = namespace() %}{% set m.x = 3 %}{{ m.x }}",
    "{{ strftime_now('%Y-%m-%d %A %B %j') }}|{{ bos_token }}{{ eos_token }}",
    # whitespace control
    "a\n  {% if true %}\n    b\n  {% endif %}\nc\n",
    "a\n\t {% for x in l %}\n\t {{ x }}\n\t {% endfor %}\nend",
    "a  {%- if true %}  b  {% endif -%}  c\n\n",
    "x {{- ' y ' -}} z {#- comment -#} w\n  {# c2 #}\nv",
    "  {%+ if true %}keep{% endif %}\n  {% if true +%}\nnext{% endif %}",
    "line\r\nwin\rmac\n",
    "{% raw %}{{ raw }} {% if %}{% endraw %}\n{%- raw -%}  x  {%- endraw %}",
    "{{ 'a' }}\n{{ 'b' }}\n\n{% set q = 1 %}\n{{ q }}   \n",
    "{%- for m in xs -%}\n  {{- m.n -}}\n{%- endfor -%}\n",
    "<{% if true %}{% endif %}>\n    {% if true %}x{% endif %}   \n",
    # found by random differential runs against Jinja2
    "{{ [1, missing] }}|{{ [false, 1]|map(attribute='n')|list }}|{{ [1, 'x']|map(attribute='n')|list|sort|length }}",
    "{{ 0.5 is odd }}{{ 3.0 is odd }}{{ -3 is odd }}{{ 'Hé' % missing }}|{{ 'x' % [1] }}|{{ ('a'|safe) * true }}",
    "{{ xs|sort(attribute='ok,n')|map(attribute='n')|list }}|{{ [(2, 'b'), (1, 'z'), (2, 'a')]|sort }}",
    "{{ l|indent }}",
    "{{ xs|unique|list }}",
    "{{ missing|int }}",
    "{{ missing|float }}",
    "{{ d in {'k': 1} }}",
    # undefined and errors (must raise in both)
    "{{ missing }}|{{ d.missing }}|{{ d['missing'] }}|{{ l[10] }}|{{ z.attr }}",
    "{{ missing.attr }}",
    "{{ d.missing.deeper }}",
    "{{ missing + 1 }}",
    "{{ 'a' + 1 }}",
    "{{ 1 / 0 }}",
    "{{ l.append(4) }}",
    "{{ d.pop('b') }}",
    "{{ raise_exception('boom') }}",
    "{{ xs|map(attribute='n')|length }}",
    "{% for x in i %}{% endfor %}",
    "{{ [1, 2] < 'a' }}",
    "{{ 'x' is nosuchtest }}",
    "{{ 'x'|nosuchfilter }}",
    "{% if true %}unclosed",
    "{% endif %}",
    "{{ 'a' 'b' }}",
    "{{ range(200000)|length }}",
    "{{ (d|tojson).foo() }}",
]


def main():
    binary = os.environ.get("UMA_BINARY")
    if not binary:
        print("UMA_BINARY must be set", file=sys.stderr)
        return 1
    env = make_env()
    cases = [{"template": src, "messages": [], "kwargs": D} for src in SNIPPETS]
    expected = []
    for c in cases:
        tmpl, err = jinja2_compile(env, c["template"])
        expected.append(jinja2_render(tmpl, err, c))
    got = uma_render_cases(binary, None, cases)
    failures, n_text, n_raise = [], 0, 0
    for src, exp, act in zip(SNIPPETS, expected, got):
        if "text" in exp and "text" in act and exp["text"] == act["text"]:
            n_text += 1
        elif "error" in exp and "error" in act:
            n_raise += 1
        else:
            failures.append(f"{src!r}\n  jinja2: {exp}\n  uma:    {act}")
    print(f"snippets: {len(SNIPPETS)}; identical: {n_text}, raise in both: {n_raise}, "
          f"failures: {len(failures)}")
    for fl in failures:
        print("FAIL", fl)
    return 1 if failures or n_text < len(SNIPPETS) * 3 // 4 else 0


if __name__ == "__main__":
    sys.exit(main())
