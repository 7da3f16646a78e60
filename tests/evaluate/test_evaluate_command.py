"""`rppg-distill evaluate`: for the same checkpoint and clips its numbers are the trainer's own
(``eval.json``), exactly; ONNX exports evaluate through onnxruntime; bad input is one line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")
pytest.importorskip("rppg_distill.models")

from rppg_distill.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY_DATA = ["data.n_subjects=3", "data.seconds=6.0", "data.synth_kwargs={states: [before], size: 128}",
             "data.img_size=16", "loop.progress=false", "loop.plots=false", "loop.device=cpu", "seeds=[0]"]


def _sets(items):
    return [x for item in items for x in ("--set", item)]


def _same(a, b) -> bool:
    """Equal, NaN equal to NaN (Pearson r of constant HRs), recursively."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def crossview_run(tmp_path_factory):
    """A tiny asymmetric cross-view run on a fresh 3-subject synthetic set (train/val/test one
    subject each): 2 epochs of 2 steps, the checkpoint picked on validation (~15 s)."""
    root = tmp_path_factory.mktemp("evalcmd")
    out = root / "runs"
    rc = main(["train", str(CONFIGS / "crossview-asymmetric-synthetic.yaml"), *_sets(TINY_DATA + [
        f"data.root={root / 'data'}", "data.clip_len=60", "data.stride=60", "loop.epochs=2",
        "model.kwargs={frame_depth: 10, nb_filters1: 4, nb_filters2: 4, nb_dense: 8}",
        f"loop.out_dir={out}"])])
    assert rc == 0
    return root, json.loads((out / "seed0" / "eval.json").read_text())


def test_evaluate_equals_the_cross_view_trainer_exactly(crossview_run, tmp_path, capsys):
    root, written = crossview_run
    assert written["selection"]["used"] == "best" and written["checkpoint"].endswith("best.pt")
    capsys.readouterr()
    assert main(["evaluate", written["checkpoint"], "--dataset", str(root / "data" / "cache"),
                 "--out", str(tmp_path / "ev")]) == 0
    printed = capsys.readouterr().out
    got = json.loads((tmp_path / "ev" / "evaluate.json").read_text())
    assert got["split"] == "test" and got["protocol"]["name"] == "crossview"
    assert set(got["views"]) == set(written["views"]) == {"frontal", "side_left", "side_right"}
    for view, ref in written["views"].items():
        mine = {k: v for k, v in got["views"][view].items() if k != "bland_altman"}
        assert _same(mine, ref), view
        assert (tmp_path / "ev" / f"bland_altman_{view}.png").stat().st_size > 1000
    for word in ("MAE", "RMSE", "MAPE", "SNR dB", "peak conc", "cam1 (left)", "cam2 (frontal)"):
        assert word in printed
    mae = f"{written['views']['frontal']['mae']:.2f}"
    assert any(line.startswith("cam2 (frontal)") and mae in line for line in printed.splitlines())


def test_split_all_and_views_filter(crossview_run, tmp_path):
    root, written = crossview_run
    assert main(["evaluate", written["checkpoint"], "--dataset", str(root / "data" / "cache"),
                 "--split", "all", "--views", "side_left,frontal", "--no-plots", "--out", str(tmp_path)]) == 0
    got = json.loads((tmp_path / "evaluate.json").read_text())
    assert set(got["views"]) == {"side_left", "frontal"} and len(got["subjects"]) == 3
    assert got["views"]["frontal"]["n"] > written["views"]["frontal"]["n"]
    assert not list(tmp_path.glob("*.png"))


def test_onnx_export_evaluates_through_onnxruntime(crossview_run, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    root, written = crossview_run
    onnx = tmp_path / "student.onnx"
    assert main(["export", written["checkpoint"], "-o", str(onnx), "--exporter", "legacy"]) == 0
    assert main(["evaluate", str(onnx), "--dataset", str(root / "data" / "cache"), "--split", "all",
                 "--no-plots", "--out", str(tmp_path / "onnx")]) == 0
    assert main(["evaluate", written["checkpoint"], "--dataset", str(root / "data" / "cache"), "--split", "all",
                 "--no-plots", "--out", str(tmp_path / "pt")]) == 0
    a, b = (json.loads((tmp_path / d / "evaluate.json").read_text()) for d in ("onnx", "pt"))
    assert a["kind"] == "onnx" and a["clips"] == b["clips"]
    for view in b["views"]:
        ha, hb = np.array(a["views"][view]["hr_pred"]), np.array(b["views"][view]["hr_pred"])
        assert ha.shape == hb.shape and np.median(np.abs(ha - hb)) <= 0.1   # fp32 ORT vs torch
        assert a["views"][view]["hr_true"] == b["views"][view]["hr_true"]


def _one_line_error(capsys, argv, *needles):
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("rppg-distill evaluate: error:"), err
    for n in needles:
        assert n in err, err


def test_bad_input_is_one_line(crossview_run, tmp_path, capsys):
    root, written = crossview_run
    cache = str(root / "data" / "cache")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "nope.pt"), "--dataset", cache], "not found")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    _one_line_error(capsys, ["evaluate", str(bad), "--dataset", cache], "not a readable checkpoint")
    bare = tmp_path / "bare.pt"
    torch.save({"modules": {"model": torch.load(written["checkpoint"], weights_only=True)["modules"]["model"]}}, bare)
    _one_line_error(capsys, ["evaluate", str(bare), "--dataset", cache], "not the trainer's config")
    _one_line_error(capsys, ["evaluate", written["checkpoint"], "--dataset", cache, "--views", "top"],
                    "holds the views ['frontal', 'side_left', 'side_right'], none of ['top']")
    _one_line_error(capsys, ["evaluate", written["checkpoint"], "--dataset", str(tmp_path / "nocache")],
                    "cache folder not found")
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, ["evaluate", written["checkpoint"], "--dataset", str(tmp_path / "empty")],
                    "holds no preprocessed recordings")
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("video", TensorProto.FLOAT, [1, 3, 60, 16, 16])
    y = helper.make_tensor_value_info("bvp", TensorProto.FLOAT, [1, 3, 60, 16, 16])
    graph = helper.make_graph([helper.make_node("Identity", ["video"], ["bvp"])], "g", [x], [y])
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(plain))
    _one_line_error(capsys, ["evaluate", str(plain), "--dataset", cache], "no 'rppg_distill.contract' metadata")
    _one_line_error(capsys, ["evaluate", str(plain), "--dataset", cache, "--split", "test"])


def test_evaluate_equals_the_rpm_distill_trainer_exactly(tmp_path):
    """RPM-Distill checkpoints: the rpm_distill protocol by default, numbers equal to the
    trainer's ``evaluate_student`` (~10 s: 1 teacher epoch + 2 student steps)."""
    out = tmp_path / "runs"
    assert main(["train", str(CONFIGS / "crossmodal-rpm-distill-synthetic.yaml"), *_sets(TINY_DATA + [
        f"data.root={tmp_path / 'data'}", "data.clip_len=60", "data.stride=60", "loop.max_steps=2",
        "teacher.epochs=1", f"loop.out_dir={out}"])]) == 0
    written = json.loads((out / "seed0" / "eval.json").read_text())
    assert main(["evaluate", written["checkpoint"], "--dataset", str(tmp_path / "data" / "cache"),
                 "--no-plots", "--out", str(tmp_path / "ev")]) == 0
    got = json.loads((tmp_path / "ev" / "evaluate.json").read_text())
    assert got["protocol"]["name"] == "rpm_distill" and got["split"] == "test"
    (view,) = got["views"]
    mine = got["views"][view]
    for k, v in written["test"].items():
        assert _same(mine[k], v), k
