"""Numeric config fields are range-checked before training (issue 11): a batch size of -3 used
to run 0 steps and exit 0, a batch size of 0 raised ZeroDivisionError."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from rppg_distill.train.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
CFG = str(ROOT / "configs" / "crossview-asymmetric-synthetic.yaml")


@pytest.mark.parametrize("override,message", [
    ("loop.batch_size=-3", "loop.batch_size: must be >= 1, got -3"),
    ("loop.batch_size=0", "loop.batch_size: must be >= 1"),
    ("loop.epochs=0", "loop.epochs: must be >= 1"),
    ("optim.lr=0", "optim.lr: must be > 0"),
    ("optim.lr=-0.1", "optim.lr: must be > 0"),
    ("optim.lr=.nan", "optim.lr: must be finite"),
    ("optim.lr=.inf", "optim.lr: must be finite"),
    ("optim.weight_decay=-1", "optim.weight_decay: must be >= 0"),
    ("data.fs=0", "data.fs: must be > 0"),
    ("data.clip_len=4", "data.clip_len: must be >= 8"),
    ("data.split=[0.5,0.5,0.5]", "data.split: shares must be >= 0 and sum to 1"),
    ("eval.band=[3.0,1.0]", "eval.band: need 0 <= lo < hi"),
    ("seeds=[]", "seeds: needs at least one seed"),
    ("lam=-1", "lam: must be >= 0"),
])
def test_out_of_range_values_are_refused(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(CFG, [override])


def test_crossmodal_ranges():
    cfg = str(ROOT / "configs" / "crossmodal-rpm-distill-synthetic.yaml")
    with pytest.raises(ConfigError, match="label_fraction: must be >= 0 and <= 1"):
        load_config(cfg, ["label_fraction=1.5"])
    with pytest.raises(ConfigError, match="policy.rank: must be >= 1"):
        load_config(cfg, ["policy.rank=0"])


def test_shipped_configs_pass():
    for f in sorted(glob.glob(str(ROOT / "configs" / "*.yaml"))):
        load_config(f)


def test_train_command_reports_one_line(capsys):
    pytest.importorskip("torch")
    from rppg_distill.cli import main

    assert main(["train", CFG, "--set", "loop.batch_size=-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rppg-distill train: config error: loop.batch_size: must be >= 1, got -3"
