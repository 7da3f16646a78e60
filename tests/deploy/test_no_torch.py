"""The runtime in a fresh virtual environment without torch (numpy, scipy, OpenCV, onnxruntime).

Slow (creates a venv and pip-installs the runtime dependencies, unless RPPG_NOTORCH_PYTHON points
at an existing interpreter without torch, or /tmp/rppg-notorch-venv exists).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import green_onnx, pulse_frames

ROOT = Path(__file__).resolve().parents[2]
VENV = Path("/tmp/rppg-notorch-venv")
SCRIPT = r"""
import importlib.util, json, sys
assert importlib.util.find_spec("torch") is None, "torch is installed in this venv"
from rppg_distill.cli import main
rc = main(["run", sys.argv[1], "--model", sys.argv[2], "--out", sys.argv[3], "--quiet", "--plot"])
import rppg_distill.deploy.runtime, rppg_distill.deploy.trt_runner, rppg_distill.deploy.precision
print(json.dumps({"rc": rc, "torch_loaded": "torch" in sys.modules}))
"""


def _python() -> str:
    env = os.environ.get("RPPG_NOTORCH_PYTHON")
    if env:
        return env
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "numpy", "scipy",
                        "opencv-python-headless<5", "onnxruntime", "matplotlib"],
                       check=True, timeout=600)
    return str(py)


@pytest.mark.slow
def test_runtime_without_torch(tmp_path):
    pytest.importorskip("onnx")
    from rppg_distill.data.video_io import write_video

    py = _python()
    # the package source plus the compiled core, outside the editable install
    pkg = tmp_path / "site"
    shutil.copytree(ROOT / "python" / "rppg_distill", pkg / "rppg_distill")
    for so in glob.glob(str(ROOT / "build" / "*" / "_core*.so"))[:1]:
        shutil.copy(so, pkg / "rppg_distill")
    model = green_onnx(tmp_path / "g.onnx")
    frames, _ = pulse_frames(78.0, seconds=11.0, size=(160, 120))
    write_video(tmp_path / "v.avi", frames, 30.0, "MJPG") or tmp_path / "v.avi"
    env = {**os.environ, "PYTHONPATH": str(pkg), "MPLBACKEND": "Agg"}
    out = subprocess.run([py, "-c", SCRIPT, str(tmp_path / "v.avi"), str(model), str(tmp_path / "o")],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"rc": 0, "torch_loaded": False}
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert abs(summary["hr_median_bpm"] - 78.0) < 2.0
