"""One checkpoint, one contract: a cross-view EfficientPhys-C student (standardized frames,
diff_normalized labels) exported through `rppg-distill export` and through the demo's export get
identical contracts (``output = "diff_bvp"``), and `rppg-distill run` with the CLI-exported model
reads the heart rate of a generator video of a held-out subject within 3 bpm.

Before the shared ``Contract.from_train_config`` the CLI wrote ``output = "bvp"`` for this model:
the runtime did not integrate its derivative output and read HR off a harmonic.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

from rppg_distill.cli import main
from rppg_distill.deploy.contract import Contract, contract_from_onnx


def _config(root: Path):
    from rppg_distill.train.config import load_config

    cfg_file = Path(__file__).resolve().parents[2] / "configs" / "crossview-asymmetric-synthetic.yaml"
    return load_config(cfg_file, [
        f"data.root={root / 'data'}", "data.n_subjects=3", "data.seconds=20.0",
        "data.synth_kwargs={states: [before], size: 128}", "scheme=cam2-only", "seeds=[0]",
        "loop.epochs=30", "loop.progress=false", "loop.plots=false", "loop.device=cpu",
        f"loop.out_dir={root / 'runs'}"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A cam2-only student trained for 180 steps on a fresh 3-subject generator set (~1-2 min)."""
    from rppg_distill.train import crossview

    root = tmp_path_factory.mktemp("one_contract")
    cfg = _config(root)
    res = crossview.run_crossview(cfg, log=lambda s: None)
    return cfg, res[0]


@pytest.mark.slow
def test_cli_and_demo_exports_share_one_contract_and_read_the_right_hr(trained, tmp_path):
    from rppg_distill.commands import demo
    from rppg_distill.data.readers import read_dataset
    from rppg_distill.signal import hr_fft
    from rppg_distill.train.data import split_by_subject

    cfg, result = trained
    ckpt = Path(result["checkpoint"])
    cli_onnx, demo_onnx = tmp_path / "cli.onnx", tmp_path / "demo.onnx"
    assert main(["export", str(ckpt), "-o", str(cli_onnx), "--exporter", "legacy"]) == 0
    demo.export_student(ckpt, dataclasses.replace(cfg), demo_onnx)
    c_cli, c_demo = contract_from_onnx(cli_onnx), contract_from_onnx(demo_onnx)
    assert c_cli.to_dict() == c_demo.to_dict()
    assert c_cli.to_dict() == dataclasses.replace(Contract.from_train_config(cfg), batch="dynamic").to_dict()
    assert (c_cli.output, c_cli.normalization, c_cli.frames, c_cli.height) == ("diff_bvp", "standardized", 90, 24)
    assert c_cli.band == tuple(cfg.eval.band)

    recs = read_dataset("mcd_rppg", Path(cfg.data.root) / "mcd_rppg")
    _, _, test = split_by_subject(recs, cfg.data)
    rec = next(r for r in test if r.view == "frontal")
    out = tmp_path / "run"
    assert main(["run", str(rec.video), "--model", str(cli_onnx), "--out", str(out), "--quiet"]) == 0
    with open(out / "hr.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["valid"] in ("True", "1", "true")]
    fs, n_win = float(rec.fps), int(round(10.0 * float(rec.fps)))
    truth = np.asarray(rec.bvp, np.float64)
    errors = {}
    for r in rows:
        end = int(round(float(r["t"]) * fs)) + 1
        if n_win <= end <= len(truth):
            ref = float(hr_fft(truth[end - n_win:end], fs, band=c_cli.band, resolution_bpm=0.1))
            errors[round(float(r["t"]), 1)] = abs(float(r["hr_bpm"]) - ref)
    assert len(errors) >= 3, rows[:5]
    mae = float(np.mean(list(errors.values())))
    print(f"run with the CLI-exported model on {rec.video.name}: HR MAE {mae:.2f} bpm over {len(errors)} estimates")
    assert mae < 3.0, errors


def test_contract_from_train_config_mapping():
    """Unit level (fast): the fields a trainer config sets, the diff_bvp rule, overrides, no config."""
    from rppg_distill.train.config import CrossModalConfig, CrossViewConfig, to_dict

    cv = CrossViewConfig()
    c = Contract.from_train_config(to_dict(cv))
    assert c == Contract.from_train_config(cv)
    assert (c.model, c.frames, c.height, c.width) == ("efficientphys_c", 180, 72, 72)
    assert (c.normalization, c.output, c.band, c.fs) == ("standardized", "diff_bvp", (0.5, 3.0), 30.0)
    cm = CrossModalConfig()   # FactorizePhys: raw frames (it differences them itself), standardized labels
    c = Contract.from_train_config(cm)
    assert (c.model, c.frames, c.normalization, c.output, c.band) == (
        "factorizephys", 256, "raw", "bvp", (0.75, 3.0))
    diff = dataclasses.replace(cm, data=dataclasses.replace(cm.data, label_transform="diff_normalized"))
    assert Contract.from_train_config(diff).output == "diff_bvp"
    std = dataclasses.replace(cm, data=dataclasses.replace(cm.data, transform="standardized",
                                                           label_transform="standardized"))
    assert Contract.from_train_config(std).output == "bvp"
    c = Contract.from_train_config(cv, frames=90, size=36, fs=25.0, normalization="raw")
    assert (c.frames, c.height, c.width, c.fs, c.normalization) == (90, 36, 36, 25.0, "raw")
    bare = Contract.from_train_config(None, arch="physnet")
    assert (bare.model, bare.normalization, bare.output, bare.frames) == ("physnet", "diff_normalized", "bvp", 160)


def test_cli_export_uses_the_checkpoint_config(tmp_path):
    """Fast: a (random-weight) trainer checkpoint with diff labels exports as diff_bvp via the CLI."""
    from rppg_distill.models import build_model
    from rppg_distill.train.config import CrossViewConfig, to_dict

    cfg = CrossViewConfig()
    cfg.model.kwargs = {"frame_depth": 10, "nb_filters1": 4, "nb_filters2": 4, "nb_dense": 8}
    cfg.data.img_size, cfg.data.clip_len = 16, 20
    model = build_model("efficientphys_c", img_size=16, **cfg.model.kwargs)
    torch.save({"modules": {"model": model.state_dict()}, "config": to_dict(cfg)}, tmp_path / "c.pt")
    assert main(["export", str(tmp_path / "c.pt"), "-o", str(tmp_path / "m.onnx"), "--exporter", "legacy"]) == 0
    c = contract_from_onnx(tmp_path / "m.onnx")
    assert (c.output, c.frames, c.height, c.normalization) == ("diff_bvp", 20, 16, "standardized")
    assert main(["export", str(tmp_path / "c.pt"), "-o", str(tmp_path / "n.onnx"), "--exporter", "legacy",
                 "--frames", "30"]) == 0
    assert contract_from_onnx(tmp_path / "n.onnx").frames == 30
