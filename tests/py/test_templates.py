"""Every chat template in $UMA_SHARED_DIR/data/templates, rendered on every conversation of
templates_cases.py by Python's Jinja2 (configured as HF transformers does) and by `uma template
--batch`, must give the same bytes, or both must raise. Run by ctest with UMA_BINARY and
UMA_SHARED_DIR set; also runnable by hand."""

import copy
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from templates_cases import CASES  # noqa: E402

NOW = 1721952000  # 2024-07-26 00:00:00 UTC, the date strftime_now() sees in both renderers
BOS, EOS = "<s>", "</s>"

# Templates that cannot match, with the construct uma lacks. Keep empty unless unavoidable.
KNOWN_GAPS = {}


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(NOW, timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def jinja2_compile(env, source):
    try:
        return env.from_string(source), None
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"


def jinja2_render(tmpl, compile_error, case):
    if tmpl is None:
        return {"error": compile_error}
    case = copy.deepcopy(case)  # Jinja2 filters can mutate inputs in place (list |indent)
    try:
        return {"text": tmpl.render(messages=case["messages"], tools=case.get("tools"),
                                    documents=None,
                                    add_generation_prompt=case.get("add_generation_prompt", False),
                                    bos_token=BOS, eos_token=EOS, **case.get("kwargs", {}))}
    except Exception as e:  # any failure counts as "raises"
        return {"error": f"{type(e).__name__}: {e}"}


def uma_render_cases(binary, template_path, cases):
    """Renders all cases in one `uma template --batch` process; template_path None means each
    case carries its own "template" source."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
        batch = f.name
    args = [binary, "template", "--batch", batch, "--bos", BOS, "--eos", EOS, "--now", str(NOW)]
    if template_path:
        args += ["--template", template_path]
    try:
        p = subprocess.run(args, capture_output=True, timeout=120)
    finally:
        os.unlink(batch)
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        return [{"error": err}] * len(cases)
    return json.loads(p.stdout.decode("utf-8"))


def first_diff(a, b):
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    return i, a[max(0, i - 60):i + 60], b[max(0, i - 60):i + 60]


def main():
    binary = os.environ.get("UMA_BINARY")
    shared = os.environ.get("UMA_SHARED_DIR")
    if not binary or not shared:
        print("UMA_BINARY and UMA_SHARED_DIR must be set", file=sys.stderr)
        return 1
    tdir = os.path.join(shared, "data", "templates")
    names = sorted(n for n in os.listdir(tdir) if n.endswith(".jinja"))
    if not names:
        print(f"no templates in {tdir}", file=sys.stderr)
        return 1
    env = make_env()
    failures, gaps_seen = [], set()
    n_text = n_raise = 0
    only = sys.argv[1:]
    for name in names:
        if only and not any(o in name for o in only):
            continue
        path = os.path.join(tdir, name)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tmpl, compile_error = jinja2_compile(env, source)
        expected = [jinja2_render(tmpl, compile_error, c) for c in CASES]
        got = uma_render_cases(binary, path, CASES)
        for case, exp, act in zip(CASES, expected, got):
            label = f"{name} × {case['name']}"
            if "text" in exp and "text" in act and exp["text"] == act["text"]:
                n_text += 1
                continue
            if "error" in exp and "error" in act:
                n_raise += 1
                if os.environ.get("VERBOSE"):
                    print(f"both raise: {label}: {exp['error'][:100]} | {act['error'][:100]}")
                continue
            if name in KNOWN_GAPS:
                gaps_seen.add(name)
                continue
            if "text" in exp and "text" in act:
                i, e, a = first_diff(exp["text"], act["text"])
                failures.append(f"{label}: output differs at char {i}\n  jinja2: {e!r}\n  uma:    {a!r}")
            else:
                failures.append(f"{label}: jinja2 {str(exp)[:300]!r}\n  uma {str(act)[:300]!r}")
    print(f"templates: {len(names)}, cases each: {len(CASES)}; identical: {n_text}, "
          f"raise in both: {n_raise}, failures: {len(failures)}")
    for g in sorted(gaps_seen):
        print(f"known gap: {g}: {KNOWN_GAPS[g]}")
    for fl in failures:
        print("FAIL", fl)
    # Most renders must produce text, or the comparison proves little.
    if n_text < (n_text + n_raise) * 3 // 4:
        print("FAIL too few successful renders", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
