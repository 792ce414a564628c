#!/usr/bin/env bash
# Decode A/B of two commits that code placement fools less easily: on the 2-vCPU dev VM where a
# function lands (its offset from a 64-byte line) moved decode by up to ~7 % between builds of
# the same source, more than most changes measured (docs/performance.md, 2026-12-06). So each
# commit is built twice, with GCC's default alignment and with every function on a 64-byte
# line, and the four binaries run alternately, round by round, so that memory-speed drift
# (the probe reads 37-77 GB/s within minutes there) hits them alike. A change is real when B/A
# agrees under both layouts.
#
#   bench/ab.sh REV_A REV_B [ROUNDS] [MODEL.gguf ...]
#
# Defaults: 4 rounds, the `uma bench` cache's synthesized qwen3-0.6b Q4_0 model. Each round runs
# `uma bench -m MODEL --pp 8 --tg 64 --reps 1 --timeline --json --no-probe`. Prints per binary
# the mean decode tok/s and the per-token µs of attention and of the matmuls, then B/A per
# layout. Sources (git archive) and builds go to ${UMA_AB_DIR:-~/.cache/uma/ab} (kept: a rerun
# with the same commits starts measuring at once). Needs git, cmake, ninja, g++ and python3;
# run ./uma.sh build once first (it installs what is missing).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 2; }
top=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
a=$(git -C "$top" rev-parse --short=9 "$1")
b=$(git -C "$top" rev-parse --short=9 "$2")
rounds=${3:-4}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$rounds'" >&2; exit 2; }
shift $(($# < 3 ? $# : 3))
models=("$@")
for m in "${models[@]}"; do
  [ -f "$m" ] || { echo "no such model file: $m" >&2; exit 2; }
done
dir=${UMA_AB_DIR:-$HOME/.cache/uma/ab}
mkdir -p "$dir"

layouts=(default align64)
flags() { [ "$1" = align64 ] && echo "-falign-functions=64" || echo ""; }

build() {  # commit layout -> path of its uma binary
  local rev=$1 layout=$2 out="$dir/$1-$2"
  if [ ! -x "$out/uma" ]; then
    local src="$dir/src-$rev"
    if [ ! -d "$src" ]; then
      mkdir -p "$src.tmp"
      git -C "$top" archive "$rev" | tar -x -C "$src.tmp"
      mv "$src.tmp" "$src"
    fi
    cmake -S "$src" -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_FLAGS="$(flags "$layout")" >/dev/null
    ninja -C "$out" -j2 uma >/dev/null
  fi
  echo "$out/uma"
}

declare -A bin
for rev in "$a" "$b"; do
  for l in "${layouts[@]}"; do
    echo "building $rev ($l) ..." >&2
    bin["$rev/$l"]=$(build "$rev" "$l")
  done
done
if [ ${#models[@]} -eq 0 ]; then
  "${bin[$a/default]}" bench --pp 1 --tg 1 --reps 1 --no-probe >/dev/null  # synthesizes it once
  models=("${XDG_CACHE_HOME:-$HOME/.cache}/uma/synth-qwen3-0.6b-q4_0.gguf")
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for m in "${models[@]}"; do
  for ((r = 1; r <= rounds; r++)); do
    for key in "$a/default" "$b/default" "$a/align64" "$b/align64"; do
      "${bin[$key]}" bench -m "$m" --pp 8 --tg 64 --reps 1 --timeline --json --no-probe \
        2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin); us = j["decode_timeline_us_per_token"]
mats = sum(us[k] for k in ("qkv", "o", "gate_up", "down", "output"))
print(sys.argv[1], sys.argv[2], j["decode_timeline_tps"], us["attention"], mats)' \
        "$(basename "$m")" "$key" >>"$results"
    done
  done
done

python3 - "$results" "$a" "$b" <<'PY'
import sys
from collections import defaultdict
rows = [l.split() for l in open(sys.argv[1])]
a, b = sys.argv[2], sys.argv[3]
by = defaultdict(list)
for model, key, tps, attn, mats in rows:
    by[(model, key)].append((float(tps), float(attn), float(mats)))
mean = lambda v: sum(v) / len(v)
for model in sorted({r[0] for r in rows}):
    print(f"\n{model}: decode tg64, {len(by[(model, a + '/default')])} rounds")
    print(f"  {'binary':<24} {'tok/s':>8} {'min-max':>13} {'attention us':>13} {'matmuls us':>11}")
    for key in (a + "/default", b + "/default", a + "/align64", b + "/align64"):
        v = by[(model, key)]
        t = [x[0] for x in v]
        print(f"  {key:<24} {mean(t):8.1f} {min(t):6.1f}-{max(t):<6.1f} "
              f"{mean([x[1] for x in v]):13.0f} {mean([x[2] for x in v]):11.0f}")
    for layout in ("default", "align64"):
        ta = mean([x[0] for x in by[(model, a + "/" + layout)]])
        tb = mean([x[0] for x in by[(model, b + "/" + layout)]])
        print(f"  B/A tok/s, {layout}: {tb / ta:.3f}")
PY
