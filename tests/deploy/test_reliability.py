"""Reliability regressions (issue 11): never a silent wrong number from `run` or the Monitor.

Each test names the input class it covers in docs/RELIABILITY.md.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from helpers import green_onnx, pulse_frames


@pytest.fixture(scope="module")
def green(tmp_path_factory):
    pytest.importorskip("onnx")
    return green_onnx(tmp_path_factory.mktemp("m") / "green.onnx")


def _zero_rate_avi(path, hr, seconds=11.0):
    """An MJPG AVI at 30 fps whose stream header then declares rate 0 (FFmpeg says 25 fps)."""
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(hr, seconds=seconds, size=(160, 120), seed=4)
    p = write_video(path, frames, 30.0, "MJPG")
    b = bytearray(p.read_bytes())
    i = b.find(b"strh")
    b[i + 32:i + 36] = (0).to_bytes(4, "little")
    p.write_bytes(bytes(b))
    return p


def test_avi_header_fps_zero_is_an_error_or_explicit_fps(green, tmp_path, capsys):
    """input: AVI whose header frame rate is 0 -> error naming the file, or `--fps`."""
    from rppg_distill.cli import main

    video = _zero_rate_avi(tmp_path / "zero.avi", hr=94.0)
    out = tmp_path / "o1"
    assert main(["run", str(video), "--model", str(green), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no valid fps" in err and "zero.avi" in err and "--fps" in err
    rows = list(csv.DictReader(open(out / "hr.csv")))
    assert not any(r["valid"] == "1" for r in rows)  # no HR from a guessed rate
    out2 = tmp_path / "o2"
    assert main(["run", str(video), "--model", str(green), "--out", str(out2), "--quiet",
                 "--fps", "30"]) == 0
    s = json.loads((out2 / "summary.json").read_text())
    assert abs(s["hr_median_bpm"] - 94.0) < 1.5, s["hr_median_bpm"]
    assert main(["run", str(video), "--model", str(green), "--out", str(tmp_path / "o3"),
                 "--quiet", "--fps", "0"]) == 2


def test_iter_video_explicit_fps_sets_timestamps(tmp_path):
    from rppg_distill.data.video_io import iter_video

    video = _zero_rate_avi(tmp_path / "z.avi", hr=70.0, seconds=1.0)
    with pytest.raises(ValueError, match="z.avi"):
        next(iter_video(video))
    ts = np.array([t for _, t in iter_video(video, fps=30.0)])
    np.testing.assert_allclose(ts, np.arange(30) / 30.0)
    with pytest.raises(ValueError, match="fps"):
        next(iter_video(video, fps=float("nan")))
