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


def _green_variant(path, tail: str, output: str = "bvp"):
    """The green-mean ONNX with a last op: "neg" (negated mean: a valid pulse, sign flipped),
    "nan" (every output NaN) or "flat" (every output 0)."""
    import onnx
    from onnx import TensorProto, helper

    from rppg_distill.deploy.contract import CONTRACT_KEY, Contract, write_sidecar

    green_onnx(path)
    m = onnx.load(str(path))
    g = m.graph
    g.node[-1].output[0] = "g0"
    if tail == "neg":
        g.node.append(helper.make_node("Neg", ["g0"], ["bvp"]))
    else:
        value = float("nan") if tail == "nan" else 0.0
        g.initializer.extend([helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
                              helper.make_tensor("fill", TensorProto.FLOAT, [], [value])])
        g.node.extend([helper.make_node("Mul", ["g0", "zero"], ["g1"]),
                       helper.make_node("Add", ["g1", "fill"], ["bvp"])])
    c = Contract.from_json(next(p.value for p in m.metadata_props if p.key == CONTRACT_KEY))
    c.output = output
    for p in m.metadata_props:
        if p.key == CONTRACT_KEY:
            p.value = c.to_json()
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    write_sidecar(path, c)
    return path


def test_peak_frequency_of_a_signal_without_power_is_nan():
    """input: a flat or all-zero signal -> NaN, not the band's lower edge."""
    from rppg_distill.spectral import peak_frequency

    assert np.isnan(peak_frequency(np.zeros(300, np.float32), 30.0, (0.75, 3.0)))
    x = np.stack([np.full(300, 3.0), np.sin(2 * np.pi * 1.5 * np.arange(300) / 30)])
    f = peak_frequency(x, 30.0, (0.75, 3.0))
    assert np.isnan(f[0]) and abs(f[1] - 1.5) < 0.01
    assert np.isnan(peak_frequency(np.zeros(300), 30.0, (0.75, 3.0), demean=False))


@pytest.mark.parametrize("tail,output", [("nan", "bvp"), ("flat", "bvp"), ("nan", "diff_bvp")])
def test_model_without_pulse_power_is_no_signal(tmp_path, tail, output):
    """input: a model whose output is NaN or constant -> valid=0, status no_signal."""
    pytest.importorskip("onnx")
    from rppg_distill.deploy.runtime import Monitor

    model = _green_variant(tmp_path / f"{tail}.onnx", tail, output)
    frames, ts = pulse_frames(84.0, seconds=7.0, size=(160, 120), seed=2)
    mon = Monitor(model)
    res = [mon.push(f, t) for f, t in zip(frames, ts)]
    mon.flush()
    assert not any(r.valid for r in res)
    assert res[-1].status == "no_signal" and np.isnan(res[-1].hr_bpm)
    assert np.isnan(mon.last_hr()[0])


def test_negated_green_model_reads_the_pulse(tmp_path):
    """The control for the test above: the same graph with a real (sign-flipped) pulse."""
    pytest.importorskip("onnx")
    from rppg_distill.deploy.runtime import Monitor

    model = _green_variant(tmp_path / "neg.onnx", "neg")
    frames, ts = pulse_frames(84.0, seconds=7.0, size=(160, 120), seed=2)
    mon = Monitor(model)
    res = [mon.push(f, t) for f, t in zip(frames, ts)]
    assert res[-1].valid and res[-1].status == "ok" and abs(res[-1].hr_bpm - 84.0) < 1.5
