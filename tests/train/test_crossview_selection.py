"""Model selection on the validation split: the cross-view trainer evaluates the held-out
validation views every epoch, keeps the epoch with the lowest side-view MAE as best.pt, evaluates
those weights on the test views, and records the selection in eval.json; --resume keeps it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rppg_distill.models")

from rppg_distill.deploy.export import load_checkpoint_model
from rppg_distill.train import crossview
from rppg_distill.train.config import OptimConfig

from .fake_data import FakePairs, FakeViews
from .test_crossview import tiny_cfg


def _data():
    train, val, test = FakePairs(n=8, seed=0), FakePairs(n=4, seed=1), FakePairs(n=4, seed=2)
    views = lambda p: {"frontal": FakeViews(p, "teacher"), "side_left": FakeViews(p, "student")}  # noqa: E731
    return train, views(val), views(test)


def _cfg(tmp_path, name, epochs, **kw):
    cfg = tiny_cfg(tmp_path / name, "asymmetric", optim=OptimConfig(scheduler="none"), **kw)
    return dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, epochs=epochs))


def _val_rows(out_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("split") == "val"]


def test_best_validation_epoch_is_evaluated_and_recorded(tmp_path):
    data = _data()
    cfg = _cfg(tmp_path, "sel", epochs=3)
    res = crossview.run_crossview(cfg, data=data, log=lambda s: None)[0]
    out = Path(cfg.loop.out_dir) / "seed0"
    written = json.loads((out / "eval.json").read_text())
    sel = written["selection"]
    vals = _val_rows(out)
    assert len(vals) == 3 and all({"side_mae", "mean_mae", "mae_frontal", "mae_side_left"} <= set(r) for r in vals)
    best = min(vals, key=lambda r: r["side_mae"])
    assert sel["used"] == "best" and sel["metric"] == "side_mae"
    assert sel["value"] == pytest.approx(best["side_mae"]) and sel["epoch"] == best["epoch"]
    assert written["checkpoint"] == sel["checkpoint"] and sel["checkpoint"].endswith("best.pt")
    assert written["last_checkpoint"].endswith("last.pt")
    # the test numbers are those of best.pt's weights
    model, _ = load_checkpoint_model(sel["checkpoint"])
    again = crossview.evaluate_views(model, data[2], cfg)
    assert again["side_left"]["hr_pred"] == written["views"]["side_left"]["hr_pred"]
    assert res["selection"] == sel


def test_selection_rules_last_and_without_validation(tmp_path):
    train, val, test = _data()
    r_last = crossview.run_crossview(_cfg(tmp_path, "last", 2, model_selection="last"),
                                     data=(train, val, test), log=lambda s: None)[0]
    assert r_last["selection"] == {"rule": "last", "used": "last", "reason": "model_selection: last"}
    assert r_last["checkpoint"] == r_last["last_checkpoint"]
    r_none = crossview.run_crossview(_cfg(tmp_path, "noval", 1), data=(train, test), log=lambda s: None)[0]
    assert r_none["selection"]["used"] == "last" and r_none["selection"]["reason"] == "no validation clips"
    r_mean = crossview.run_crossview(_cfg(tmp_path, "mean", 2, model_selection="val_mean_mae"),
                                     data=(train, val, test), log=lambda s: None)[0]
    assert r_mean["selection"]["metric"] == "mean_mae"


def test_resume_keeps_the_selection(tmp_path):
    data = _data()
    full = crossview.run_crossview(_cfg(tmp_path, "full", 3), data=data, log=lambda s: None)[0]
    crossview.run_crossview(_cfg(tmp_path, "cut", 2), data=data, log=lambda s: None)
    resumed = crossview.run_crossview(_cfg(tmp_path, "cut", 3), data=data, resume=True, log=lambda s: None)[0]
    for k in ("epoch", "step", "value", "metric"):
        assert resumed["selection"][k] == full["selection"][k], k
    assert resumed["views"]["side_left"]["hr_pred"] == full["views"]["side_left"]["hr_pred"]
