"""A user's mistake is one line on stderr and exit code 2, never a traceback; a bug keeps its
traceback with a hint to report it; `run` leaves valid partial results (issue 11)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
from helpers import green_onnx, pulse_frames

import rppg_distill
from rppg_distill.cli import main

# subprocesses import the package this test imported (installed, or python/ with its built core)
PACKAGE_PATH = str(Path(rppg_distill.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    pytest.importorskip("onnx")
    from rppg_distill.data.video_io import write_video

    d = tmp_path_factory.mktemp("cli")
    frames, _ = pulse_frames(75.0, seconds=6.0, size=(160, 120))
    return {"model": green_onnx(d / "green.onnx"), "video": write_video(d / "v.avi", frames, 30.0)}


def _one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"rppg-distill {command}:"), err
    assert "\n" not in err and "Traceback" not in err, err
    return err


def test_run_out_that_cannot_be_a_folder(assets, tmp_path, capsys):
    """input: `run --out` an existing file, or below a file -> one line, exit 2."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "sub"):
        capsys.readouterr()
        assert main(["run", str(assets["video"]), "--model", str(assets["model"]),
                     "--out", str(out), "--quiet"]) == 2
        assert str(afile) in _one_line(capsys, "run")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_run_out_read_only(assets, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert main(["run", str(assets["video"]), "--model", str(assets["model"]),
                 "--out", str(ro / "x"), "--quiet"]) == 2
    assert "Permission denied" in _one_line(capsys, "run")


def test_yaml_syntax_error_and_list_config(tmp_path, capsys):
    """input: a config with a YAML syntax error, or a YAML list with --set -> one line, exit 2."""
    pytest.importorskip("torch")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: crossview\nloop: {epochs: 1\n")
    assert main(["train", str(bad)]) == 2
    assert "bad.yaml" in _one_line(capsys, "train")
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert main(["train", str(listed), "--set", "loop.epochs=1"]) == 2
    assert "mapping" in _one_line(capsys, "train")


def test_empty_or_truncated_checkpoint(tmp_path, capsys):
    """input: `export` of a 0-byte or truncated checkpoint -> one line naming it, exit 2."""
    torch = pytest.importorskip("torch")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    good = tmp_path / "good.pt"
    torch.save({"modules": {"model": {"w": torch.zeros(64, 64)}}, "arch": "efficientphys_c"}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for ckpt in (empty, cut):
        capsys.readouterr()
        assert main(["export", str(ckpt), "-o", str(tmp_path / "x.onnx")]) == 2
        err = _one_line(capsys, "export")
        assert ckpt.name in err and "not a readable checkpoint" in err


@pytest.mark.parametrize("argv", [["export", "--random-init", "-o", "x.onnx"],
                                  ["train", "configs/crossview-asymmetric-synthetic.yaml"]])
def test_train_and_export_without_torch_name_the_extra(argv, tmp_path):
    """input: `train`/`export` on an install without torch -> which extra to install, exit 2."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from rppg_distill.cli import main\nsys.exit(main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                       text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": PACKAGE_PATH})
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and 'pip install "rppg-distill[train]"' in err, err


def test_unexpected_error_keeps_its_traceback(monkeypatch, capsys):
    from rppg_distill.commands import info

    def broken(args):
        raise AttributeError("a bug")

    monkeypatch.setattr(info, "run", broken)
    assert main(["info"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "AttributeError: a bug" in err and "please report" in err


def test_preprocess_skips_a_zero_byte_video(tmp_path, capsys):
    """input: one 0-byte video among good recordings -> skipped and reported, the rest cached."""
    from rppg_distill.data.synthetic import generate

    generate(tmp_path / "syn", 2, seed=5, workers=1, formats=("ubfc_rppg",), views=("frontal",),
             duration_s=2.0, fps=15.0, size=96, codec="FFV1", states=("before",))
    root = tmp_path / "syn" / "ubfc_rppg"
    subjects = sorted(p for p in root.iterdir() if p.is_dir())
    (subjects[1] / "vid.avi").write_bytes(b"")
    out = tmp_path / "cache"
    rc = main(["preprocess", "--dataset", "ubfc_rppg", "--root", str(root), "--out", str(out),
               "--workers", "0", "--no-progress", "--size", "36"])
    assert rc == 0
    rep = json.loads((out / "report.json").read_text())
    flagged = {f["key"]: f for f in rep["flagged"]}
    assert flagged[subjects[1].name]["reason"] == "empty" and not flagged[subjects[1].name]["written"]
    assert len(rep["ok_keys"]) == 1
    assert "SKIPPED" in capsys.readouterr().out
    assert main(["preprocess", "--dataset", "ubfc_rppg", "--root", str(root), "--out", str(out),
                 "--workers", "0", "--no-progress", "--size", "36", "--strict"]) == 1


def test_run_on_a_full_disk_leaves_valid_partial_results(assets, tmp_path):
    """input: `run` when the disk fills up (here: a 3 kB file-size limit, EFBIG like ENOSPC) ->
    hr.csv ends with a complete row, summary.json names the error, exit code 1."""
    out = tmp_path / "o"
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))\n"
            "from rppg_distill.cli import main\nsys.exit(main(sys.argv[1:]))")
    p = subprocess.run([sys.executable, "-c", code, "run", str(assets["video"]), "--model",
                        str(assets["model"]), "--out", str(out), "--quiet", "--prefetch", "0"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": PACKAGE_PATH})
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr
    text = (out / "hr.csv").read_text()
    assert text.endswith("\n") and len(text) <= 3000
    rows = list(csv.reader(text.splitlines()))
    assert len(rows) > 10 and all(len(r) == 8 for r in rows)
    s = json.loads((out / "summary.json").read_text())
    assert s["frames"] >= len(rows) - 1 and "hr.csv" in s["error"]
    assert "too large" in s["error"].lower() or "bytes written" in s["error"]


def test_run_interrupted_writes_summary(assets, tmp_path):
    """input: Ctrl-C during `run` -> complete rows so far and summary.json (error: interrupted)."""
    import signal
    import time

    out = tmp_path / "o"
    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(75.0, seconds=40.0, size=(160, 120))
    video = write_video(tmp_path / "long.avi", frames, 30.0)
    p = subprocess.Popen([sys.executable, "-m", "rppg_distill.cli", "run", str(video), "--model",
                          str(assets["model"]), "--out", str(out), "--quiet"],
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": PACKAGE_PATH})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        hr = out / "hr.csv"
        if hr.exists() and hr.stat().st_size > 3000:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    s = json.loads((out / "summary.json").read_text())
    rows = list(csv.reader((out / "hr.csv").read_text().splitlines()))
    assert all(len(r) == 8 for r in rows)
    assert s["error"] == "interrupted" and 0 < s["frames"] < 1200 and p.returncode == 1, err
    assert np.isfinite(s["elapsed_s"])
