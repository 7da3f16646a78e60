"""Classical methods in the streaming runtime: Monitor(method=...), `run` without --model,
summary.json and the plot, no torch on that path."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skin_video import skin_pulse_frames

from rppg_distill.classical import DEFAULT_METHOD
from rppg_distill.deploy.runtime import ClassicalRunner, Monitor, MonitorConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clip():
    return skin_pulse_frames(84.0, seconds=14.0, size=(160, 120), seed=2)


@pytest.fixture(scope="module")
def video(tmp_path_factory, clip):
    from rppg_distill.data.video_io import write_video

    path = tmp_path_factory.mktemp("v") / "skin84.avi"
    write_video(path, clip[0], 30.0, "MJPG")
    return path


@pytest.mark.parametrize("method", ["pos", "chrom"])
def test_monitor_classical_hr(clip, method):
    frames, ts = clip
    mon = Monitor(method=method, config=MonitorConfig(detect_max_side=160))
    assert mon.contract.model == f"classical:{method}" and mon.hop == 30 and mon.T == 300
    hrs = [r.hr_bpm for r in (mon.push(f, t) for f, t in zip(frames, ts)) if r.updated and r.valid]
    assert len(hrs) >= 4  # a fresh estimate every second once 10 s are in
    assert np.all(np.abs(np.array(hrs) - 84.0) < 2.0), hrs
    assert mon._ring.shape == (300, 3)  # crops are reduced to their skin mean at once


def test_default_monitor_runs_the_default_method():
    mon = Monitor(config=MonitorConfig(warmup=False))
    assert isinstance(mon.runner, ClassicalRunner)
    assert mon.runner.pipeline.method == DEFAULT_METHOD
    assert mon.runner.describe()["pipeline"]["band"] == [0.75, 2.5]


def test_monitor_rejects_model_and_method_and_unknown_method(tmp_path):
    with pytest.raises(ValueError, match="either a model or a classical method"):
        Monitor(tmp_path / "m.onnx", method="pos")
    with pytest.raises(ValueError, match="unknown classical method"):
        Monitor(method="nope")
    with pytest.raises(ValueError, match="skin"):
        ClassicalRunner("pos", skin="everything")


def test_classical_runner_bad_window_shape():
    r = ClassicalRunner("pos")
    with pytest.raises(ValueError, match=r"RGB means \[B, 300, 3\]"):
        r.run(np.ones((1, 299, 3)))


def test_run_without_model_outputs_and_plot(video, tmp_path):
    from rppg_distill.cli import main

    out = tmp_path / "o"
    rc = main(["run", str(video), "--out", str(out), "--plot", "--quiet", "--method", "chrom"])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["method"] == "chrom" and s["model"] is None and s["ran"] == "classical method chrom"
    assert s["runner"]["pipeline"]["filter_order"] == 1 and s["contract"]["model"] == "classical:chrom"
    assert s["monitor"]["hop"] == 30 and s["hr_estimates"] >= 4
    assert abs(s["hr_recording_bpm"] - 84.0) < 2.0
    with open(out / "hr.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 420
    assert (out / "plot.png").stat().st_size > 20000  # pulse, HR, SNR and the crops
    assert main(["run", str(video), "--out", str(tmp_path / "o2"), "--quiet", "--model",
                 str(tmp_path / "m.onnx"), "--method", "pos"]) == 2


def test_run_default_method_never_imports_torch(video, tmp_path):
    code = ("import sys, json\n"
            "from rppg_distill.cli import main\n"
            f"rc = main(['run', {str(video)!r}, '--out', {str(tmp_path / 'o')!r}, '--quiet', '--plot'])\n"
            "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))\n")
    import rppg_distill

    # the package this test imported (installed, or python/ of a checkout with its built core)
    env = {"PYTHONPATH": str(Path(rppg_distill.__file__).resolve().parents[1]), "MPLBACKEND": "Agg",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rc": 0, "torch": False}
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["method"] == DEFAULT_METHOD and abs(s["hr_recording_bpm"] - 84.0) < 2.0


def test_crop_sampler_spreads_over_the_stream():
    from rppg_distill.deploy.runtime.plot import CropSampler

    cs = CropSampler(n=4, every_s=1.0)
    for i in range(3000):
        cs.offer(i / 30.0, np.full((4, 4, 3), i % 255, np.uint8))
    items = cs.items()
    assert len(items) == 4 and items[0][0] == 0.0 and items[-1][0] > 60.0
    assert len(cs._items) <= 8
