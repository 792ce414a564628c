#!/usr/bin/env bash
# Checks the NEON kernels (src/kernels/*_neon.cpp) against the scalar backend on a machine that is
# not ARM: builds tests/cross/neon_check.cpp and the kernel sources it needs for aarch64 with
# Debian's cross compiler, then runs it under qemu-user. Not part of CI / ctest.
#
#   tests/cross/run_neon.sh                 # from anywhere; installs what is missing (apt-get)
#   JOBS=2 NICE=19 tests/cross/run_neon.sh  # parallel compiles (default 1), niceness (default 19)
#
# Needs: g++-aarch64-linux-gnu and qemu-user (or qemu-user-static); installed with apt-get when
# missing (as root, or through sudo). Builds into build/cross-neon/. Runs the check three times:
# on qemu's "max" CPU (dotprod, fp16 and i8mm: the neon and neon-i8mm backends must match the scalar
# one, neon-i8mm is chosen) and on a Cortex-A76 model (dotprod + fp16, no i8mm: neon is chosen), and on a Cortex-A53 model (no dotprod: dispatch must fall back to scalar,
# and the scalar kernels must run there).
# Exit status is non-zero on any mismatch.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build/cross-neon"
jobs=${JOBS:-1}
nice_cmd=(nice -n "${NICE:-19}")
cxx=${CXX_AARCH64:-aarch64-linux-gnu-g++}
sysroot=${SYSROOT_AARCH64:-/usr/aarch64-linux-gnu}

find_qemu() { command -v qemu-aarch64 || command -v qemu-aarch64-static || true; }

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
apt_install() { DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "$@"; }

if ! command -v "$cxx" >/dev/null || [ -z "$(find_qemu)" ]; then
  "${sudo[@]}" apt-get update
  command -v "$cxx" >/dev/null || apt_install g++-aarch64-linux-gnu
  [ -n "$(find_qemu)" ] || apt_install qemu-user || apt_install qemu-user-static
fi
qemu=$(find_qemu)
[ -n "$qemu" ] || { echo "qemu-aarch64 not found" >&2; exit 1; }

srcs=(
  src/kernels/interleave.cpp
  src/kernels/backend.cpp
  src/kernels/matmul.cpp
  src/kernels/ops.cpp
  src/kernels/matmul_neon.cpp
  src/kernels/matmul_i8mm.cpp
  src/kernels/matmul_sme.cpp
  src/kernels/ops_neon.cpp
  src/kernels/ref/convert_ref.cpp
  src/kernels/ref/matmul_ref.cpp
  src/kernels/ref/ops_ref.cpp
  src/tensor/dtype.cpp
  src/tensor/quant.cpp
  src/tensor/quant_k.cpp
  src/tensor/quant_legacy.cpp
  src/util/cpu_features.cpp
  src/util/thread_pool.cpp
  tests/cross/neon_check.cpp
)
flags=(-std=c++20 -O2 -g0 -DFMT_HEADER_ONLY -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
       -Werror -I"$root/src" -I"$root/tests/unit/kernels")
mkdir -p "$out"

# One object per source; *_neon.cpp get the flags CMake gives them, the rest the aarch64 baseline
# (a dotprod / fp16 instruction leaking outside the neon files faults on the Cortex-A53 run, which
# runs the scalar kernels through the production dispatch).
compile() {
  local extra=()
  [[ $1 == *_neon.cpp ]] && extra=(-march=armv8.2-a+dotprod+fp16)
  [[ $1 == *_i8mm.cpp || $1 == *_sme.cpp ]] && extra=(-march=armv8.2-a+dotprod+fp16+i8mm)
  "${nice_cmd[@]}" "$cxx" "${flags[@]}" "${extra[@]}" -c "$root/$1" -o "$2"
}
objs=()
pids=()
for s in "${srcs[@]}"; do
  obj="$out/$(echo "$s" | tr / _).o"
  objs+=("$obj")
  compile "$s" "$obj" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.2; done
done
for p in "${pids[@]}"; do wait "$p"; done
"${nice_cmd[@]}" "$cxx" -pthread "${objs[@]}" -o "$out/neon_check"

# The cross toolchain's own libraries first: where arm64 multiarch packages are installed too
# (dpkg --add-architecture arm64, for the full cross build), the guest's loader otherwise finds their
# libc through the host's ld.so.cache, a different build from the cross libc6, and the first
# pthread_create hangs.
run() { "${nice_cmd[@]}" "$qemu" -L "$sysroot" -E LD_LIBRARY_PATH="$sysroot/lib" "$@"; }
echo "== qemu cpu max"
run -cpu max "$out/neon_check"
echo "== qemu cpu max, SME vector length 64 bytes (the M4's) and 16 (the least)"
run -cpu max,sme-default-vector-length=64 "$out/neon_check"
run -cpu max,sme-default-vector-length=16 "$out/neon_check"
echo "== qemu cpu cortex-a76"
run -cpu cortex-a76 "$out/neon_check"
echo "== qemu cpu cortex-a53 (no dotprod)"
run -cpu cortex-a53 "$out/neon_check" --expect-no-neon
