#!/usr/bin/env bash
# The Python runtime on aarch64 without torch, under QEMU: the real extension built for aarch64 by
# CMakeLists.txt (cross toolchain), the runtime's wheels for aarch64, Debian's aarch64 CPython 3.11
# (JetPack 6 has 3.10; Debian bookworm ships 3.11), then tools/aarch64/runtime_aarch64.py: the
# NEON core's results against x86-64 and a full `rppg-distill run` (OpenCV + onnxruntime).
#
#   bash tools/aarch64/runtime_check.sh [WORK_DIR]          (default: build/aarch64-runtime)
#
# Needs: apt-get install -y g++-aarch64-linux-gnu qemu-user-static cmake ninja-build; Debian's and
# PyPI's package servers (downloads ~150 MB: the arm64 CPython .debs into a private apt state
# under WORK_DIR, nothing installed system-wide, and the aarch64 wheels); a Python with this
# package's test dependencies for the x86-64 reference (PYTHON, default python3).
# onnxruntime is pinned to 1.23.2, the version pip resolves for a Jetson's Python 3.10
# (tools/aarch64/pip_resolve.sh); onnxruntime 1.32 crashed on import under qemu-user here.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mkdir -p "${1:-$ROOT/build/aarch64-runtime}" && cd "${1:-$ROOT/build/aarch64-runtime}" && pwd)
PY=${PYTHON:-python3}
QEMU=${QEMU:-qemu-aarch64-static}
t0=$(date +%s)

echo "== Debian bookworm arm64 CPython 3.11 into $W/sysroot (private apt state)"
A=$W/apt
mkdir -p "$A"/lists/partial "$A"/cache/archives/partial "$A"/debs
touch "$A"/status
printf 'deb [arch=arm64] http://deb.debian.org/debian bookworm main\ndeb [arch=arm64] http://deb.debian.org/debian-security bookworm-security main\n' > "$A"/sources.list
APT=(-o APT::Architecture=arm64 -o "APT::Architectures::=arm64" -o Dir::State="$A" -o Dir::State::Lists="$A"/lists
     -o Dir::State::status="$A"/status -o Dir::Cache="$A"/cache -o Dir::Etc::SourceList="$A"/sources.list
     -o Dir::Etc::SourceParts=/nonexistent)
apt-get "${APT[@]}" -qq update
(cd "$A"/debs && apt-get "${APT[@]}" -qq download python3.11-minimal libpython3.11-minimal libpython3.11-stdlib \
  libpython3.11-dev libexpat1 zlib1g libssl3 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6 \
  libreadline8 libuuid1 libcrypt1 libdb5.3 libgdbm6 libnsl2 libtirpc3 libgcc-s1 libstdc++6 libgomp1 \
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 2>/dev/null)
S=$W/sysroot
rm -rf "$S" && mkdir -p "$S"/lib
for deb in "$A"/debs/*.deb; do dpkg -x "$deb" "$S"; done
cp -a /usr/aarch64-linux-gnu/lib/. "$S"/lib/aarch64-linux-gnu/  # glibc of the cross toolchain
cp -a /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 "$S"/lib/
export QEMU_LD_PREFIX=$S
"$QEMU" "$S"/usr/bin/python3.11 -c 'import platform, sys; print("  python", sys.version.split()[0], platform.machine())'

echo "== the runtime's aarch64 wheels into $W/site (pip --platform, no torch, no scikit-image)"
PLAT=()
for v in 35 28 27 26 24 17; do PLAT+=(--platform "manylinux_2_${v}_aarch64"); done
REQS=$("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import re, sys
block = re.search(r"^dependencies = \[(.*?)^\]", open(sys.argv[1]).read(), re.S | re.M).group(1)
print(" ".join(r for r in re.findall(r'"([^"]+)"', block) if not r.startswith(("numpy", "onnxruntime"))))
PYEOF
)
rm -rf "$W"/site
# shellcheck disable=SC2086
"$PY" -m pip install -q --disable-pip-version-check --no-warn-conflicts --target "$W"/site --only-binary=:all: \
  --python-version 3.11 "${PLAT[@]}" --platform manylinux2014_aarch64 "numpy>=1.24,<2" onnxruntime==1.23.2 $REQS
ls "$W"/site | grep -iE '^(numpy|scipy|opencv_python_headless|onnxruntime|matplotlib)-.*dist-info$' | sed 's/^/  /'

echo "== the extension for aarch64 with CMakeLists.txt (cross toolchain)"
cat > "$W"/toolchain.cmake <<TCEOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
TCEOF
cmake -S "$ROOT" -B "$W"/build -G Ninja -DCMAKE_TOOLCHAIN_FILE="$W"/toolchain.cmake -DCMAKE_BUILD_TYPE=Release \
  -DRPPG_CUDA=OFF -DSKBUILD_PROJECT_VERSION=0.1.0 -DPython_EXECUTABLE="$(command -v "$PY")" \
  -DPython_INCLUDE_DIR="$S"/usr/include/python3.11 -DCMAKE_CXX_FLAGS="-I$S/usr/include" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" | grep "rppg_distill:"
cmake --build "$W"/build -j"$(nproc)" >/dev/null
rm -rf "$W"/pkg && mkdir -p "$W"/pkg
cp -r "$ROOT"/python/rppg_distill "$W"/pkg/
find "$W"/pkg -name '__pycache__' -prune -exec rm -rf {} + -o -name '_core*.so' -exec rm -f {} +
cp "$W"/build/_core*.so "$W"/pkg/rppg_distill/_core.cpython-311-aarch64-linux-gnu.so
file -b "$W"/pkg/rppg_distill/_core.cpython-311-aarch64-linux-gnu.so | cut -d, -f1-2 | sed 's/^/  /'

echo "== x86-64 reference"
PYTHONPATH="$ROOT/python" MPLBACKEND=Agg "$PY" "$ROOT"/tools/aarch64/runtime_inputs.py "$W"/data

echo "== aarch64 (qemu-aarch64-static)"
PYTHONPATH="$W/pkg:$W/site" MPLBACKEND=Agg RPPG_NUM_THREADS=2 \
  "$QEMU" "$S"/usr/bin/python3.11 "$ROOT"/tools/aarch64/runtime_aarch64.py "$W"/data
echo "aarch64 runtime check passed in $(( $(date +%s) - t0 )) s"
