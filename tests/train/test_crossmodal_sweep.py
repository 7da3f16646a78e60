"""The radar-shift sweep: gated vs ungated over probabilities and seeds, resumable, plotted."""

import dataclasses
import json

import pytest
import torch

from rppg_distill.train import shift_sweep as sweep

from .fake_data import FakeVideoRadar
from .test_crossmodal import tiny_cfg

pytest.importorskip("rppg_distill.losses")


def test_sweep_one_p_both_variants_resumes(tmp_path):
    cfg = tiny_cfg(tmp_path)
    data = (FakeVideoRadar(n=2), FakeVideoRadar(n=2, seed=1), FakeVideoRadar(n=2, seed=2))
    res = sweep.shift_sweep(cfg, [1.0], [0], data=data, plots=False, log=lambda s: None)
    assert [(r["variant"], r["radar_shift"]["shifted"]) for r in res["runs"]] == [("gated", 2), ("ungated", 2)]
    again = sweep.shift_sweep(cfg, [1.0], [0], data=data, plots=False, log=lambda s: None)
    assert all(r["reused"] for r in again["runs"]) and again["summary"] == res["summary"]
    lines = []   # another config is another run: nothing is reused, the teacher neither
    changed = dataclasses.replace(cfg, teacher=dataclasses.replace(cfg.teacher, lr=2e-3))
    other = sweep.shift_sweep(changed, [1.0], [0], data=data, variants=("ungated",), plots=False, log=lines.append)
    assert not other["runs"][0]["reused"] and not any("reusing" in l for l in lines)


@pytest.mark.slow
def test_sweep_runs_every_variant_p_seed_and_resumes(tmp_path):
    cfg = tiny_cfg(tmp_path)
    data = (FakeVideoRadar(n=4), FakeVideoRadar(n=2, seed=1), FakeVideoRadar(n=3, seed=2))
    lines = []
    res = sweep.shift_sweep(cfg, [0.0, 1.0], [0, 1], data=data, log=lines.append)
    assert len(res["runs"]) == 8 and res["shift_samples"] == 30
    for name in ("gated", "ungated"):
        for p in ("0", "1"):
            mae = res["summary"][name][p]["mae"]
            assert mae["n"] == 2 and mae["std"] >= 0 and mae["mean"] > 0
    shifted = {(r["variant"], r["p"]): r["radar_shift"]["shifted"] for r in res["runs"]}
    assert shifted[("gated", 0.0)] == 0 and shifted[("ungated", 1.0)] == 4
    for name, gate in (("gated", True), ("ungated", False)):
        ev = json.loads((tmp_path / name / "p1" / "seed1" / "eval.json").read_text())
        assert ev["policy"]["use_gate"] is gate and ev["radar_shift_prob"] == 1.0
    assert (tmp_path / "teacher" / "seed0" / "teacher.pt").exists()
    assert (tmp_path / "shift_sweep.png").stat().st_size > 0 and (tmp_path / "shift_sweep_curves.png").exists()
    assert sum("run " in l for l in lines) == 8
    # a second call reuses every finished run and the teachers
    lines2 = []
    again = sweep.shift_sweep(cfg, [0.0, 1.0], [0, 1], data=data, log=lines2.append)
    assert all(r["reused"] for r in again["runs"]) and again["summary"] == res["summary"]
    assert sum("reusing" in l for l in lines2) == 2
    assert "± " in sweep.format_shift_table(again)


def test_sweep_refuses_bad_arguments(tmp_path):
    cfg = tiny_cfg(tmp_path)
    data = (FakeVideoRadar(n=2),) * 3
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        sweep.shift_sweep(cfg, [1.5], [0], data=data)
    with pytest.raises(ValueError, match="unknown shift-sweep variant"):
        sweep.shift_sweep(cfg, [0.0], [0], variants=("gate",), data=data)
    with pytest.raises(ValueError, match="not a number: 'x'"):
        sweep.parse_floats("0,x")
    assert torch.is_tensor(data[0][0]["radar"])
