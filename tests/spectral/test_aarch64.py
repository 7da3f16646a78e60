"""The CPU kernels cross-compiled for aarch64 (NEON) give the x86-64 results under QEMU.

Runs tools/aarch64/check.sh: x86-64, aarch64 NEON and aarch64 portable builds of the kernels with
tools/aarch64/kernel_check.cpp, each checked against float64, then compared with each other
(float32 tolerance), plus the NEON instructions present in the aarch64 objects. About 1 min of CPU
(5 min wall on a loaded 2-core machine): slow-marked. Needs g++-aarch64-linux-gnu and
qemu-user-static (apt); skipped where they are missing.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("g++", "aarch64-linux-gnu-g++", "aarch64-linux-gnu-objdump", "qemu-aarch64-static")


@pytest.mark.slow
def test_aarch64_kernels_match_x86_under_qemu(tmp_path):
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {missing}: apt-get install -y g++-aarch64-linux-gnu qemu-user-static")
    r = subprocess.run(["bash", str(ROOT / "tools/aarch64/check.sh"), str(tmp_path)],
                       capture_output=True, text=True, timeout=1800, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "kernel_check: simd=neon" in r.stdout  # the aarch64 build took the NEON path
    assert "aarch64 check passed" in r.stdout
