"""Streaming runtime: HR on a pulse video, variable fps, no face, bad input, the run command."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from helpers import green_onnx, pulse_frames

from rppg_distill.deploy.runtime import Monitor


@pytest.fixture(scope="module")
def green(tmp_path_factory):
    pytest.importorskip("onnx")
    return green_onnx(tmp_path_factory.mktemp("m") / "green.onnx")


@pytest.mark.parametrize("hr,jitter", [(66.0, 0.0), (96.0, 0.006)])
def test_monitor_hr_variable_fps(green, hr, jitter):
    frames, ts = pulse_frames(hr, seconds=11.0, size=(160, 120), jitter_s=jitter, seed=1)
    mon = Monitor(green)
    res = [mon.push(f, t) for f, t in zip(frames, ts)]
    valid = [r for r in res if r.valid]
    assert valid, [r.status for r in res][-5:]
    assert abs(valid[-1].hr_bpm - hr) < 1.5
    assert valid[-1].confident and valid[-1].snr_db > 0
    assert not res[0].valid and res[0].status == "warming_up"
    n_bvp = sum(len(r.bvp) for r in res) + len(mon.flush()[0])
    # stitched BVP on the resampled 30 Hz timeline, up to the end of the last model window
    assert ts[-1] * 30 - mon.hop - 1 <= n_bvp <= ts[-1] * 30 + 1
    st = mon.stats()["stages"]
    assert {"face", "crop", "model", "hr"} <= set(st)


def test_no_face_is_invalid_not_made_up(green):
    frames, ts = pulse_frames(72, seconds=8.0, size=(160, 120))
    mon = Monitor(green)
    blank = np.full_like(frames[0], 90)
    res = [mon.push(blank if 90 <= i < 200 else f, t) for i, (f, t) in enumerate(zip(frames, ts))]
    gone = res[110:200]  # the tracker holds a box for max_hold (15) frames after a miss
    assert all(not r.valid and math.isnan(r.hr_bpm) and r.status == "no_face" for r in gone)
    assert res[-1].face


def test_bad_frames(green):
    mon = Monitor(green)
    frames, ts = pulse_frames(seconds=0.2, size=(160, 120))
    mon.push(frames[0], 0.0)
    with pytest.raises(ValueError, match="size changed"):
        mon.push(np.zeros((100, 100, 3), np.uint8), 0.1)
    with pytest.raises(ValueError, match="uint8"):
        mon.push(frames[1].astype(np.float32), 0.2)
    with pytest.raises(ValueError, match="too small"):
        Monitor(green).push(np.zeros((10, 10, 3), np.uint8), 0.0)
    r = mon.push(frames[1], 0.0)  # non-increasing timestamp: skipped, not an error
    assert r.status == "duplicate_timestamp" and not r.valid


def test_bad_model_files(tmp_path):
    from rppg_distill.deploy import load_runner

    (tmp_path / "x.onnx").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a loadable ONNX"):
        load_runner(tmp_path / "x.onnx")
    (tmp_path / "x.plan").write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="not an rppg-distill TensorRT engine"):
        load_runner(tmp_path / "x.plan")
    with pytest.raises(FileNotFoundError):
        load_runner(tmp_path / "missing.onnx")
    with pytest.raises(TypeError):
        Monitor(object())


def _video(path, hr=80.0, seconds=11.0):
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(hr, seconds=seconds, size=(160, 120), seed=3)
    write_video(path, frames, 30.0, "MJPG")
    return path


def test_run_command_outputs(green, tmp_path):
    from rppg_distill.cli import main

    video = _video(tmp_path / "v.avi")
    out = tmp_path / "out"
    rc = main(["run", str(video), "--model", str(green), "--out", str(out), "--plot", "--quiet"])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "hr.csv")))
    assert len(rows) == 330
    last = [r for r in rows if r["valid"] == "1"][-1]
    assert abs(float(last["hr_bpm"]) - 80.0) < 1.5
    s = json.loads((out / "summary.json").read_text())
    assert s["error"] is None and s["frames"] == 330 and "decode" in s["stages"]
    assert (out / "plot.png").stat().st_size > 1000
    assert len(list(csv.reader(open(out / "bvp.csv")))) > 300


def test_run_command_bad_inputs(green, tmp_path):
    from rppg_distill.cli import main

    video = _video(tmp_path / "v.avi", seconds=6.0)
    data = video.read_bytes()
    trunc = tmp_path / "t.avi"
    trunc.write_bytes(data[: len(data) // 2])
    out = tmp_path / "o1"
    rc = main(["run", str(trunc), "--model", str(green), "--out", str(out), "--quiet"])
    rows = list(csv.DictReader(open(out / "hr.csv")))
    assert rc in (0, 1) and 0 < len(rows) < 180  # partial results, valid CSV
    assert json.loads((out / "summary.json").read_text())["frames"] == len(rows)
    empty = tmp_path / "e.avi"
    empty.write_bytes(b"RIFF0000AVI junk")
    assert main(["run", str(empty), "--model", str(green), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    assert main(["run", str(video), "--model", str(tmp_path / "nope.onnx"), "--out",
                 str(tmp_path / "o3"), "--quiet"]) == 2
    bad = tmp_path / "bad.plan"
    bad.write_bytes(b"not an engine")
    assert main(["run", str(video), "--model", str(bad), "--out", str(tmp_path / "o4"), "--quiet"]) == 2
    # a camera index that does not exist yields no frames -> clear error, exit code 2
    assert main(["run", "--camera", "97", "--model", str(green), "--out", str(tmp_path / "o5"),
                 "--quiet", "--camera-timeout", "0.2"]) == 2
