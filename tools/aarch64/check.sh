#!/usr/bin/env bash
# Cross-compile the CPU kernels for aarch64 (the Jetson's CPU), run their numerical checks under
# QEMU user-mode emulation and compare with the same checks built for this x86-64 machine.
#
#   bash tools/aarch64/check.sh [BUILD_DIR]        (default: build/aarch64-check)
#
# Needs (Debian/Ubuntu): apt-get install -y g++-aarch64-linux-gnu qemu-user-static
# Steps: (1) x86-64 build of tools/aarch64/kernel_check.cpp + the kernel sources, run;
# (2) aarch64 NEON build, run under qemu-aarch64-static, compare with (1);
# (3) aarch64 portable build (RPPG_DISABLE_SIMD), run, compare with (2);
# (4) the NEON instructions in the aarch64 GEMM / vector-math objects (fmla by element, vector
#     log/exp), so that a build that silently lost the NEON path fails.
# Exit status 0 only when every check and comparison passes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-$ROOT/build/aarch64-check}
mkdir -p "$B"
CXX_X86=${CXX_X86:-g++}
CXX_ARM=${CXX_ARM:-aarch64-linux-gnu-g++}
QEMU=${QEMU:-qemu-aarch64-static}
SYSROOT=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}
for tool in "$CXX_X86" "$CXX_ARM" "$QEMU"; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y g++-aarch64-linux-gnu qemu-user-static" >&2; exit 2; }
done
# The kernel sources (no Python bindings) and the flags of CMakeLists.txt (-O3 -fno-math-errno).
KERNELS=(basis dft gemm vecmath parallel band_psd psd_kl rpm peak)
SRCS=("$ROOT/tools/aarch64/kernel_check.cpp")
for k in "${KERNELS[@]}"; do SRCS+=("$ROOT/cpp/src/$k.cpp"); done
FLAGS=(-std=c++17 -O3 -fno-math-errno -Wall -Wextra -Werror -I"$ROOT/cpp/include")
export RPPG_NUM_THREADS=2 QEMU_LD_PREFIX=$SYSROOT
t0=$(date +%s)

echo "== build: x86-64 ($($CXX_X86 -dumpfullversion)), aarch64 NEON and aarch64 portable ($($CXX_ARM -dumpfullversion))"
"$CXX_X86" "${FLAGS[@]}" "${SRCS[@]}" -o "$B/kernel_check_x86_64" -pthread -ldl &
"$CXX_ARM" "${FLAGS[@]}" "${SRCS[@]}" -o "$B/kernel_check_aarch64" -pthread -ldl &
"$CXX_ARM" "${FLAGS[@]}" -DRPPG_DISABLE_SIMD "${SRCS[@]}" -o "$B/kernel_check_aarch64_portable" -pthread -ldl &
wait %1 && wait %2 && wait %3
"$CXX_ARM" "${FLAGS[@]}" -c "$ROOT/cpp/src/gemm.cpp" -o "$B/gemm_aarch64.o"
"$CXX_ARM" "${FLAGS[@]}" -c "$ROOT/cpp/src/vecmath.cpp" -o "$B/vecmath_aarch64.o"
file "$B/kernel_check_aarch64" | sed "s|$B/||"

echo "== x86-64 (native)"
"$B/kernel_check_x86_64" run "$B/x86_64.bin"
echo "== aarch64 NEON (qemu-aarch64-static)"
"$QEMU" "$B/kernel_check_aarch64" run "$B/aarch64.bin"
echo "== aarch64 portable C++ (qemu-aarch64-static)"
"$QEMU" "$B/kernel_check_aarch64_portable" run "$B/aarch64_portable.bin"
echo "== x86-64 vs aarch64 NEON"
"$B/kernel_check_x86_64" compare "$B/x86_64.bin" "$B/aarch64.bin"
echo "== aarch64 NEON vs aarch64 portable"
"$B/kernel_check_x86_64" compare "$B/aarch64_portable.bin" "$B/aarch64.bin"

echo "== NEON in the aarch64 objects (objdump)"
OBJDUMP=${OBJDUMP:-aarch64-linux-gnu-objdump}
lane=$($OBJDUMP -d "$B/gemm_aarch64.o" | grep -cE 'fmla\s+v[0-9]+\.4s, v[0-9]+\.4s, v[0-9]+\.s\[[0-3]\]' || true)
vfma=$($OBJDUMP -d "$B/vecmath_aarch64.o" | grep -cE 'fml[as]\s+v[0-9]+\.4s' || true)
vdiv=$($OBJDUMP -d "$B/vecmath_aarch64.o" | grep -cE 'fdiv\s+v[0-9]+\.4s' || true)
echo "gemm.o: $lane fmla-by-element (4s); vecmath.o: $vfma vector fmla/fmls (4s), $vdiv vector fdiv (4s)"
if [ "$lane" -lt 24 ] || [ "$vfma" -lt 10 ] || [ "$vdiv" -lt 2 ]; then
  echo "FAIL: the NEON kernels are missing from the aarch64 build" >&2
  exit 1
fi
echo "aarch64 check passed in $(( $(date +%s) - t0 )) s"
