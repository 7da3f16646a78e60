"""The synthetic source generates the layout each trainer reads: `rppg-distill train` with the
shipped RPM-Distill config works on a fresh data root (it used to generate only MCD-rPPG and then
read ``equipleth/``), and a root holding one layout gets the other added, not regenerated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("cv2")
pytest.importorskip("rppg_distill.data.synthetic")

from rppg_distill.cli import main
from rppg_distill.train.config import DataConfig
from rppg_distill.train.data import _records

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_records_generate_the_missing_layout_only(tmp_path):
    cfg = DataConfig(root=str(tmp_path / "d"), n_subjects=1, seconds=4.0,
                     synth_kwargs={"states": ["before"], "size": 96})
    mcd = _records(cfg, "mcd_rppg", log=lambda s: None)
    assert {r.view for r in mcd} == {"frontal", "side_left", "side_right"}
    stamp = (tmp_path / "d" / "mcd_rppg" / "db.csv").stat().st_mtime_ns
    radar = _records(cfg, "equipleth", log=lambda s: None)
    assert len(radar) == 1 and radar[0].radar is not None
    assert (tmp_path / "d" / "mcd_rppg" / "db.csv").stat().st_mtime_ns == stamp   # not regenerated
    assert len(_records(cfg, "mcd_rppg", log=lambda s: None)) == len(mcd)


def test_train_rpm_distill_synthetic_config_from_a_fresh_folder(tmp_path, capsys):
    root, out = tmp_path / "fresh", tmp_path / "runs"
    rc = main(["train", str(CONFIGS / "crossmodal-rpm-distill-synthetic.yaml"),
               "--set", f"data.root={root}", "--set", "data.n_subjects=3", "--set", "data.seconds=6.0",
               "--set", "data.synth_kwargs={states: [before], size: 128}", "--set", "data.img_size=16",
               "--set", "loop.max_steps=2", "--set", "teacher.epochs=1", "--set", "loop.progress=false",
               "--set", "loop.plots=false", "--set", f"loop.out_dir={out}"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert (root / "equipleth").is_dir()
    result = json.loads((out / "seed0" / "eval.json").read_text())
    assert result["steps"] == 2 and result["test"]["n"] >= 1 and result["test"]["protocol"] == "rpm_distill"
