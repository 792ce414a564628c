#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/<name>_fuzz.cpp) with clang and runs them briefly on
# their checked-in seed corpora (tests/fuzz/corpus/<name>/). Called by `uma.sh test` for CI.
#
#   tests/fuzz/run.sh SECONDS   total wall-clock budget, clang build included: what is left after
#                               the build is split evenly among the harnesses (at least 5 s each)
#   tests/fuzz/run.sh --seeds   regenerate the checked-in seed corpora
#
# Each harness names the only sources it needs on "// fuzz-sources:" lines (several allowed), so the build compiles
# a handful of files (cached in build/fuzz/obj), never the whole project. Inputs found while fuzzing
# go to build/fuzz/corpus/<name>/, crashes to build/fuzz/artifacts/. Exit status 1 on any finding.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."

OUT=build/fuzz
CXX=${UMA_FUZZ_CXX:-clang++}
FLAGS=(-std=c++20 -O1 -gline-tables-only -fno-omit-frame-pointer -Isrc -fsanitize=fuzzer-no-link,address,undefined
  -fno-sanitize-recover=undefined)
LINK=(-fsanitize=fuzzer,address,undefined -lfmt -lpthread)
start=$(date +%s)
log() { printf '[fuzz] %s\n' "$*" >&2; }

# True if $1 (an object) is missing or older than any file its .d dependency list names.
stale() {
  local obj=$1 dep=${1%.o}.d
  [ -f "$obj" ] && [ -f "$dep" ] || return 0
  local f
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
    [ "$f" -nt "$obj" ] && return 0
  done
  return 1
}

# build NAME -> $OUT/NAME, from its harness and its fuzz-sources (2 compiles at a time).
build() {
  local name=$1 h=tests/fuzz/$1_fuzz.cpp
  local srcs
  srcs=$(sed -n 's|^// fuzz-sources: *||p' "$h")
  local objs=() pids=() src obj
  mkdir -p "$OUT/obj/$name"
  for src in "$h" $srcs; do
    obj=$OUT/obj/$name/$(echo "$src" | tr / _).o
    objs+=("$obj")
    if stale "$obj"; then
      "$CXX" "${FLAGS[@]}" -MMD -MF "${obj%.o}.d" -c "$src" -o "$obj" &
      pids+=($!)
      if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
    fi
  done
  for p in "${pids[@]}"; do wait "$p"; done
  local rebuild=0
  for obj in "${objs[@]}"; do [ "$obj" -nt "$OUT/$name" ] && rebuild=1; done
  [ -f "$OUT/$name" ] || rebuild=1
  if [ $rebuild = 1 ]; then "$CXX" "${objs[@]}" "${LINK[@]}" -o "$OUT/$name"; fi
}

if [ "${1:-}" = "--seeds" ]; then
  mkdir -p "$OUT" tests/fuzz/corpus/gguf
  g++ -std=c++20 -O1 -Isrc tests/fuzz/make_gguf_seeds.cpp src/gguf/*.cpp src/tensor/dtype.cpp \
    src/util/mapped_file.cpp src/util/pages.cpp -lfmt -o "$OUT/make_gguf_seeds"
  "$OUT/make_gguf_seeds" tests/fuzz/corpus/gguf "${UMA_SHARED:-../shared}/data"
  ls -l tests/fuzz/corpus/gguf
  exit 0
fi

# Objects are reused only if built with the same compiler and flags.
stamp="$CXX ${FLAGS[*]}"
if [ "$(cat "$OUT/obj/flags" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$OUT/obj"
  mkdir -p "$OUT/obj"
  echo "$stamp" >"$OUT/obj/flags"
fi

budget=${1:?usage: tests/fuzz/run.sh SECONDS | --seeds}
if ! command -v "$CXX" >/dev/null; then
  log "$CXX not found: install clang and libclang-rt-14-dev (uma.sh does)"
  exit 1
fi
mkdir -p "$OUT/artifacts"
names=()
for h in tests/fuzz/*_fuzz.cpp; do
  n=$(basename "$h" _fuzz.cpp)
  names+=("$n")
  log "building $n"
  build "$n"
done
built=$(date +%s)
left=$((budget - (built - start)))
each=$((left / ${#names[@]}))
[ $each -lt 5 ] && each=5
log "built in $((built - start)) s; fuzzing each harness for $each s"

status=0
for n in "${names[@]}"; do
  work=$OUT/corpus/$n
  mkdir -p "$work"
  seeds=tests/fuzz/corpus/$n
  dict=()
  [ -f "tests/fuzz/$n.dict" ] && dict=(-dict="tests/fuzz/$n.dict")
  if "$OUT/$n" -max_total_time="$each" -max_len=16384 -timeout=10 -malloc_limit_mb=128 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$n-" \
      "${dict[@]}" "$work" "$seeds" >"$OUT/$n.log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$n.log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$OUT/$n.log")
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$n.log" | tail -1)
    log "$n: OK, $runs runs ($speed/s), $cov, corpus $(ls "$work" | wc -l) files"
  else
    status=1
    log "$n: FAILED (log: $OUT/$n.log, artifacts: $OUT/artifacts/)"
    tail -40 "$OUT/$n.log" >&2
  fi
done
log "total $(($(date +%s) - start)) s"
exit $status
