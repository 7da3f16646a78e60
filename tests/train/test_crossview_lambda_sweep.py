"""`rppg-distill train CONFIG --lambda-sweep [0.1,2]`: one command trains every seed at each λ
and prints one table row per scheme@λ."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("rppg_distill.models")

import yaml

from rppg_distill.cli import main
from rppg_distill.train import crossview

from .fake_data import FakePairs, FakeViews


def _config(tmp_path, scheme="asymmetric"):
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""trainer: crossview
scheme: {scheme}
seeds: [0]
lambda_sweep: [0.05, 0.5]
model: {{kwargs: {{nb_filters1: 4, nb_filters2: 4, nb_dense: 8, frame_depth: 10}}}}
data: {{img_size: 16}}
loop: {{epochs: 1, batch_size: 4, device: cpu, progress: false, plots: false, out_dir: {out}}}
""")
    return cfg, out


@pytest.fixture
def fake_data(monkeypatch):
    pairs = FakePairs()
    views = {"frontal": FakeViews(pairs, "teacher"), "side_left": FakeViews(pairs, "student")}
    monkeypatch.setattr(crossview, "build_data", lambda cfg: (pairs, views))


def test_lambda_sweep_is_one_command(tmp_path, fake_data, capsys):
    cfg, out = _config(tmp_path)
    assert main(["train", str(cfg), "--lambda-sweep", "[0.1, 2]"]) == 0
    printed = capsys.readouterr().out
    rows = [line.split()[0] for line in printed.splitlines() if line.startswith("asymmetric")]
    assert rows == ["asymmetric@0.1", "asymmetric@2"]
    results = json.loads((out / "results.json").read_text())
    assert [r["lam"] for r in results] == [0.1, 2.0]
    assert (out / "lam0.1" / "seed0" / "eval.json").exists() and (out / "lam2" / "seed0" / "eval.json").exists()
    effective = yaml.safe_load((out / "effective_config.yaml").read_text())
    assert effective["run_lambda_sweep"] is True and effective["lambda_sweep"] == [0.1, 2.0]


def test_lambda_sweep_without_a_list_uses_the_configs(tmp_path, fake_data, capsys):
    cfg, out = _config(tmp_path)
    assert main(["train", str(cfg), "--lambda-sweep"]) == 0
    assert [r["lam"] for r in json.loads((out / "results.json").read_text())] == [0.05, 0.5]


def test_lambda_sweep_refuses_other_schemes_and_bad_weights(tmp_path, capsys):
    cfg, _ = _config(tmp_path, scheme="cam2-only")
    assert main(["train", str(cfg), "--lambda-sweep", "0.1"]) == 2
    assert "--lambda-sweep needs a cross-view config with scheme symmetric or asymmetric" in capsys.readouterr().err
    (tmp_path / "b").mkdir()
    cfg, _ = _config(tmp_path / "b")
    assert main(["train", str(cfg), "--lambda-sweep", "0.1,-1"]) == 2
    assert "lambda_sweep: weights must be >= 0" in capsys.readouterr().err
