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


def test_peak_frequency_without_power_is_nan_on_the_torch_face_too():
    """input: flat rows as a torch tensor -> NaN, the same answer as the numpy face."""
    torch = pytest.importorskip("torch")
    from rppg_distill.spectral import peak_frequency

    x = np.stack([np.full(300, 3.0), np.sin(2 * np.pi * 1.5 * np.arange(300) / 30)]).astype(np.float32)
    f_t = peak_frequency(torch.from_numpy(x), 30.0, (0.75, 3.0))
    f_n = peak_frequency(x, 30.0, (0.75, 3.0))
    assert torch.isnan(f_t[0]) and abs(float(f_t[1]) - f_n[1]) < 1e-6
    assert np.isnan(peak_frequency(torch.zeros(300), 30.0, (0.75, 3.0), demean=False))


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


def _contract_dict(**change):
    from rppg_distill.deploy.contract import Contract

    d = Contract(frames=90, height=36, width=36, normalization="raw").to_dict()
    d.update(change)
    return d


@pytest.mark.parametrize("change,match", [
    (dict(frames=1e9), "'frames' must be an integer"),
    (dict(frames=1_000_000_000), r"'frames'=1000000000 is outside \[2, 10000\]"),
    (dict(frames=None), "'frames' must be an integer"),
    (dict(height="72"), "'height' must be an integer"),
    (dict(width=4096), "'width'=4096 is outside"),
    (dict(fs=float("nan")), "'fs' must be a finite number"),
    (dict(fs=1e6), "'fs'=1000000.0 is outside"),
    (dict(band=[3.0, 0.5]), "band must be"),
    (dict(band="0.5-3"), "band must be"),
    (dict(batch=-1), "'batch'=-1 is outside"),
    (dict(output="hr"), "output 'hr'"),
    (dict(normalization=["raw"]), "'normalization' must be a string"),
    (dict(version=True), "version"),
])
def test_contract_fields_are_typed_and_bounded(change, match):
    """input: crafted model metadata -> ValueError naming the field."""
    from rppg_distill.deploy.contract import Contract

    with pytest.raises(ValueError, match=match):
        Contract.from_dict(_contract_dict(**change))


def test_contract_missing_required_field():
    from rppg_distill.deploy.contract import Contract

    d = _contract_dict()
    del d["frames"]
    with pytest.raises(ValueError, match="lacks the field"):
        Contract.from_dict(d)
    assert Contract.from_dict(_contract_dict()).frames == 90


def _onnx_with_contract(path, contract_json: str | None, sidecar: str | None):
    """The green ONNX with its metadata contract replaced (None: removed) and a sidecar text."""
    import onnx

    from rppg_distill.deploy.contract import CONTRACT_KEY, sidecar_path

    green_onnx(path)
    m = onnx.load(str(path))
    keep = [(p.key, p.value) for p in m.metadata_props if p.key != CONTRACT_KEY]
    del m.metadata_props[:]
    for k, v in keep + ([(CONTRACT_KEY, contract_json)] if contract_json is not None else []):
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, str(path))
    side = sidecar_path(path)
    side.unlink()
    if sidecar is not None:
        side.write_text(sidecar)
    return path


def test_crafted_model_files_are_clear_errors(tmp_path, capsys):
    """input: engine header without a contract, a list sidecar, `frames: null`, engine bytes in
    a .onnx, `frames: 1e9` -> `run` exits 2 with one line naming the problem."""
    pytest.importorskip("onnx")
    from rppg_distill.cli import main
    from rppg_distill.deploy import load_runner
    from rppg_distill.deploy.engine_file import write_engine

    eng = write_engine(tmp_path / "nocontract.plan", b"\0" * 32, {"tensorrt_version": "10.0.0"})
    with pytest.raises(ValueError, match="carries no model contract"):
        load_runner(eng)
    fake_onnx = tmp_path / "engine.onnx"
    fake_onnx.write_bytes(eng.read_bytes())
    with pytest.raises(ValueError, match="TensorRT engine, not an ONNX"):
        load_runner(fake_onnx)
    listed = _onnx_with_contract(tmp_path / "list.onnx", None, "[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        load_runner(listed)
    broken = _onnx_with_contract(tmp_path / "broken.onnx", None, "{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_runner(broken)
    null = _onnx_with_contract(tmp_path / "null.onnx", json.dumps(_contract_dict(frames=None)),
                               None)
    with pytest.raises(ValueError, match="'frames' must be an integer"):
        load_runner(null)
    huge = _onnx_with_contract(tmp_path / "huge.onnx", json.dumps(_contract_dict(frames=10**9)),
                               None)
    frames, _ = pulse_frames(seconds=0.5, size=(160, 120))
    from rppg_distill.data.video_io import write_video

    video = write_video(tmp_path / "v.avi", frames, 30.0)
    for model in (eng, fake_onnx, listed, null, huge):
        capsys.readouterr()
        assert main(["run", str(video), "--model", str(model), "--out", str(tmp_path / "o"),
                     "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rppg-distill run: cannot load model") and "\n" not in err, err


def test_run_defaults_find_a_13pct_face(green, tmp_path):
    """input: 640x480 video, face 13 % of the width -> `run` at its defaults reads the HR (it
    found no face before: the 160 px detection copy shrank the face below the cascade's window)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
    from face_scene import pulse_video

    from rppg_distill.cli import main
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_video(0.13, hr_bpm=78.0, seconds=5.0)
    video = write_video(tmp_path / "wide.avi", frames, 30.0, "MJPG")
    out = tmp_path / "o"
    assert main(["run", str(video), "--model", str(green), "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "hr.csv")))
    assert np.mean([r["face"] == "1" for r in rows]) > 0.95
    s = json.loads((out / "summary.json").read_text())
    assert abs(s["hr_median_bpm"] - 78.0) < 1.5


def _short_gop_video(path, hr, amp, seconds=12.0, gop=12, monkeypatch=None):
    """An mp4v video at 30 fps with a key frame every ``gop`` frames (FFmpeg's ``g`` option via
    OPENCV_FFMPEG_WRITER_OPTIONS, read when the writer opens)."""
    import cv2

    frames, _ = pulse_frames(hr, seconds=seconds, size=(320, 240), amp=amp, seed=5)
    monkeypatch.setenv("OPENCV_FFMPEG_WRITER_OPTIONS", f"g;{gop}")
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    if not w.isOpened():
        pytest.skip("OpenCV cannot write mp4v here")
    for f in frames:
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    w.release()
    monkeypatch.delenv("OPENCV_FFMPEG_WRITER_OPTIONS")
    return path


def test_key_frame_period_is_read_from_the_container(tmp_path, monkeypatch):
    from rppg_distill.deploy.runtime.codec_rhythm import key_frame_times, probe_key_frame_period

    video = _short_gop_video(tmp_path / "g12.mp4", 96.0, 0.02, seconds=4.0, monkeypatch=monkeypatch)
    times = key_frame_times(video)
    if times is None:
        pytest.skip("this OpenCV exposes no frame types")
    np.testing.assert_allclose(times, np.arange(len(times)) * 0.4, atol=1e-3)
    assert probe_key_frame_period(video) == pytest.approx(0.4)
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(seconds=2.0, size=(160, 120))
    assert probe_key_frame_period(write_video(tmp_path / "m.avi", frames, 30.0, "MJPG")) is None


def test_codec_key_frame_rhythm_is_flagged_never_valid(green, tmp_path, monkeypatch, capsys):
    """input: mp4v at GOP 12, 30 fps (2.5 Hz key-frame rhythm) with a weak 96 bpm pulse: the peak
    sits at the 0.9 Hz beat (54 bpm) -> windows flagged `codec_rhythm`, valid=0, never an HR."""
    from rppg_distill.cli import main

    video = _short_gop_video(tmp_path / "weak.mp4", 96.0, 0.002, monkeypatch=monkeypatch)
    out = tmp_path / "o"
    assert main(["run", str(video), "--model", str(green), "--out", str(out), "--quiet"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["key_frame_period_s"] == pytest.approx(0.4)
    rows = list(csv.DictReader(open(out / "hr.csv")))
    flagged = [r for r in rows if r["status"] == "codec_rhythm"]
    assert len(flagged) > 100
    assert all(r["valid"] == "0" and r["hr_bpm"] == "" for r in flagged)
    assert not any(r["valid"] == "1" and abs(float(r["hr_bpm"]) - 54.0) < 5 for r in rows)
    # the same video with a clear pulse reads 96 bpm and is not flagged
    clear = _short_gop_video(tmp_path / "clear.mp4", 96.0, 0.02, monkeypatch=monkeypatch)
    out2 = tmp_path / "o2"
    assert main(["run", str(clear), "--model", str(green), "--out", str(out2), "--quiet"]) == 0
    rows2 = list(csv.DictReader(open(out2 / "hr.csv")))
    assert not any(r["status"] == "codec_rhythm" for r in rows2)
    assert abs(json.loads((out2 / "summary.json").read_text())["hr_median_bpm"] - 96.0) < 1.5


def test_explain_peak_rhythm_beat_and_clean():
    from rppg_distill.deploy.runtime.codec_rhythm import explain_peak

    fs, t = 30.0, np.arange(300) / 30.0
    rng = np.random.default_rng(0)
    noise = 0.05 * rng.normal(size=t.size)
    rhythm = np.sin(2 * np.pi * 2.5 * t) + noise
    assert explain_peak(rhythm, fs, (0.75, 3.0), 2.5, 0.4) == "rhythm"
    beat = np.sin(2 * np.pi * 0.9 * t) + 0.8 * np.sin(2 * np.pi * 1.6 * t) + noise
    assert explain_peak(beat, fs, (0.75, 3.0), 0.9, 0.4) == "beat"
    clean = np.sin(2 * np.pi * 1.6 * t) + noise
    assert explain_peak(clean, fs, (0.75, 3.0), 1.6, 0.4) is None
    assert explain_peak(clean, fs, (0.75, 3.0), 1.6, 8.0) is None  # GOP of 240: harmonics < band


def test_batch_windows_longer_than_the_video_still_reports_the_hr(green, tmp_path, capsys):
    """input: `run --batch-windows 8` on a video shorter than 8 windows -> the HR computed at the
    end is reported (it was "n/a")."""
    from rppg_distill.cli import main
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(70.0, seconds=20.0, size=(160, 120), seed=6)
    video = write_video(tmp_path / "v.avi", frames, 30.0, "MJPG")
    out = tmp_path / "o"
    assert main(["run", str(video), "--model", str(green), "--out", str(out),
                 "--batch-windows", "8"]) == 0
    printed = capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert s["valid_frames"] == 0 and abs(s["hr_final_bpm"] - 70.0) < 1.5
    assert "n/a" not in printed and f"HR {s['hr_final_bpm']:.1f} bpm" in printed
