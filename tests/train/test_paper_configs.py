"""The paper configs (configs/*.yaml that are not *-synthetic) run end to end on a dataset in the
real layouts written by the generator (MCD-rPPG for cross-view, EquiPleth for RPM-Distill): read
by the dataset's reader, preprocessed, split, trained for a few steps, evaluated.

Only sizes, steps and paths are overridden (data.root, clip length, subjects, seeds, steps, the
output folder); the model, its input transform, losses and the rest are the config's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("cv2")
pytest.importorskip("rppg_distill.data.synthetic")

from rppg_distill.cli import main
from rppg_distill.data.synthetic import generate

pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PAPER = sorted(p for p in CONFIGS.glob("*.yaml") if not p.stem.endswith("-synthetic"))


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """3 subjects x 1 state x 6 s at 30 fps: MCD-rPPG (3 views) and EquiPleth (video + radar)."""
    root = tmp_path_factory.mktemp("paper")
    generate(root, 3, seed=0, duration_s=6.0, states=("before",), size=128, formats=("mcd_rppg", "equipleth"))
    return root


def test_paper_configs_are_the_ones_expected():
    names = {p.name for p in PAPER}
    assert "crossmodal-rpm-distill.yaml" in names
    assert {f"crossview-{s}.yaml" for s in ("asymmetric", "symmetric", "cam2-only", "side-only",
                                           "pooled-aug")} <= names


@pytest.mark.parametrize("config", PAPER, ids=lambda p: p.stem)
def test_paper_config_end_to_end(config, layouts, tmp_path, capsys):
    rpm = config.stem.startswith("crossmodal")
    root = layouts / ("equipleth" if rpm else "mcd_rppg")
    out = tmp_path / "run"
    # the paper models at their 72x72 size: 64-frame clips (the 0.5 Hz band edge needs 2 s) and
    # batch 1 keep a CPU step at seconds
    over = [f"data.root={root}", f"data.cache_dir={layouts / ('cache-' + root.name)}", "data.clip_len=64",
            "data.stride=64", "loop.batch_size=1", "loop.max_steps=2", "loop.progress=false",
            "loop.plots=false", "seeds=[0]", f"loop.out_dir={out}"]
    if rpm:
        over += ["teacher.epochs=1"]
    rc = main(["train", str(config), *[a for o in over for a in ("--set", o)]])
    printed = capsys.readouterr()
    assert rc == 0, printed.out + printed.err
    result = json.loads((out / "seed0" / "eval.json").read_text())
    assert result["steps"] == 2
    if rpm:
        assert result["test"]["protocol"] == "rpm_distill" and result["test"]["n"] >= 1
    else:
        assert result["views"] and all(v["n"] >= 1 for v in result["views"].values())
