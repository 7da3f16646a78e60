#!/usr/bin/env bash
# Does every runtime dependency of rppg-distill have a wheel for a Jetson (aarch64, Python 3.10)?
# Resolves the base dependencies of pyproject.toml (plus the build backend and cuda-python for
# the TensorRT runner) with pip for another platform and lists what it picked. Needs PyPI.
#
#   bash tools/aarch64/pip_resolve.sh [DEST]        (default: build/aarch64-wheels)
#
# Platform tags: JetPack 6 is Ubuntu 22.04 (glibc 2.35), so manylinux_2_17 .. manylinux_2_35 wheels
# install there. (With manylinux2014 alone, onnxruntime >= 1.17 has no aarch64 wheel: they are
# manylinux_2_27/2_28.) NUMPY_SPEC (default "numpy>=1.24,<2", as in the README's Jetson commands)
# keeps numpy 1.x beside JetPack's apt-installed Python extensions.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${1:-$ROOT/build/aarch64-wheels}
PY=${PYTHON:-python3}
NUMPY_SPEC=${NUMPY_SPEC:-numpy>=1.24,<2}
PLAT=()
for v in 35 34 33 32 31 28 27 26 24 17; do PLAT+=(--platform "manylinux_2_${v}_aarch64"); done
PLAT+=(--platform manylinux2014_aarch64)
# the base dependencies, read from pyproject.toml
mapfile -t BASE < <("$PY" - "$ROOT/pyproject.toml" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
for req in re.findall(r'"([^"]+)"', block):
    if not req.startswith("numpy"):
        print(req)
PYEOF
)
mkdir -p "$DEST"
"$PY" -m pip download -q --only-binary=:all: --python-version 3.10 "${PLAT[@]}" -d "$DEST" \
  "$NUMPY_SPEC" "${BASE[@]}" "scikit-build-core>=0.10" "pybind11>=2.12" "cmake>=3.18" ninja \
  "cuda-python==12.6.*"
echo "resolved for aarch64 / CPython 3.10 (${#BASE[@]} base requirements + numpy, build backend, cuda-python):"
ls "$DEST" | sed -E 's/^([A-Za-z0-9_.]+)-([^-]+)-.*/  \1 \2/' | sort -f
