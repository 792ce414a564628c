#!/usr/bin/env bash
# uma's one entry point on a fresh Debian 12 machine. Each command sets up what it needs
# (missing apt packages, npm test clients, CMake configure, build) and is quick when done already.
#
#   ./uma.sh bench [uma bench args...]   benchmark this machine on a synthesized model (no download)
#   ./uma.sh test                        build and run the whole test suite
#   ./uma.sh build                       just build (Release) into build/release
#   ./uma.sh uma ARGS...                 build, then run the uma binary with ARGS
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"

BUILD_DIR=${UMA_BUILD_DIR:-build/release}
JOBS=${UMA_JOBS:-2}
APT_PACKAGES=(cmake ninja-build g++ clang libclang-rt-14-dev pkg-config libhwy-dev libpcre2-dev
  libutf8proc-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libspdlog-dev libfmt-dev
  libxxhash-dev libgtest-dev libgmock-dev libbenchmark-dev python3 python3-jinja2 nodejs npm
  chromium)

log() { printf '[uma.sh] %s\n' "$*" >&2; }

ensure_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # python3-jinja2 is satisfied by any importable jinja2 (e.g. a pyenv python's own).
  if python3 -c 'import jinja2' 2>/dev/null; then
    missing=("${missing[@]/python3-jinja2/}")
  fi
  # node/npm may come from outside apt (e.g. nodesource); accept a working node + npm.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs/}")
    missing=("${missing[@]/npm/}")
  fi
  local need=()
  for p in "${missing[@]}"; do [ -n "$p" ] && need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    log "installing: ${need[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

ensure_npm() {
  # Reference tokenizers and the openai client for tests; lockfile pins exact versions.
  if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
    log "installing npm test packages"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build() {
  if [ ! -f "$BUILD_DIR/build.ninja" ]; then
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DUMA_WERROR=ON >/dev/null
  fi
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

cmd=${1:-help}
shift || true
case "$cmd" in
  build)
    ensure_packages
    build
    ;;
  bench)
    ensure_packages
    build
    exec "$BUILD_DIR/uma" bench "$@"
    ;;
  test)
    ensure_packages
    ensure_npm
    build
    ctest --test-dir "$BUILD_DIR" -j "$JOBS" --output-on-failure --timeout 900
    if [ -x tests/fuzz/run.sh ]; then
      tests/fuzz/run.sh "${UMA_FUZZ_SECONDS:-30}"
    fi
    ;;
  uma)
    ensure_packages
    build
    exec "$BUILD_DIR/uma" "$@"
    ;;
  *)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
