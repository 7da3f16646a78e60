"""The Jetson install path: the base install holds only what the runtime needs (no torch, onnx or
scikit-image), the runtime imports without scikit-image, synth names its extra, and `info`
reports the SIMD kernels, the board, TensorRT and the GPU."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rppg_distill.commands import info

ROOT = Path(__file__).resolve().parents[2]

BLOCK_SKIMAGE = r"""
import json, sys
sys.modules["skimage"] = None  # as if not installed: import fails, find_spec says None
import rppg_distill.deploy.runtime, rppg_distill.deploy.trt_runner, rppg_distill.deploy.ort_runner
from rppg_distill.commands import info
out = {"info_skimage": info.collect()["skimage"]}
from rppg_distill.data.synthetic.face import load_photo
try:
    load_photo()
    out["synth"] = "no error"
except ImportError as err:
    out["synth"] = str(err)
out["loaded"] = sorted(m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("skimage", "torch"))
print(json.dumps(out))
"""


def _requirements(section: str) -> list[str]:
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] if section == "base" else meta["optional-dependencies"][section]
    return [re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in reqs]


def test_base_install_is_the_runtime_only():
    base = _requirements("base")
    for heavy in ("torch", "onnx", "scikit-image", "tensorrt", "mediapipe"):
        assert heavy not in base, heavy
    assert {"numpy", "opencv-python-headless", "onnxruntime"} <= set(base)
    # the generator's face photo: in synth, and in train (the README's `.[train]` runs the demo)
    assert "scikit-image" in _requirements("synth") and "scikit-image" in _requirements("train")


def test_runtime_imports_without_scikit_image_and_synth_names_its_extra():
    r = subprocess.run([sys.executable, "-c", BLOCK_SKIMAGE], capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [], out["loaded"]  # neither scikit-image nor torch came in
    assert out["info_skimage"] is False
    assert "scikit-image" in out["synth"] and "rppg-distill[synth]" in out["synth"]


def test_info_reports_simd_board_tensorrt_and_gpu(tmp_path):
    data = info.collect()
    assert data["simd"] in ("avx2+fma", "neon", "generic") and data["simd"] == data["core"]["simd"]
    for key in ("machine", "jetson", "tensorrt_version", "gpu"):
        assert key in data
    model = tmp_path / "model"
    model.write_bytes(b"NVIDIA Jetson AGX Orin Developer Kit\x00")
    assert info.jetson_model(str(model)) == "NVIDIA Jetson AGX Orin Developer Kit"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    assert info.jetson_model(str(model)) is None
    assert info.jetson_model(str(tmp_path / "missing")) is None
