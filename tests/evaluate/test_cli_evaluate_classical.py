"""`rppg-distill evaluate-classical` on a small clip cache built from in-memory synthetic recordings."""

from __future__ import annotations

import json

import pytest

synthetic = pytest.importorskip("rppg_distill.data.synthetic")
cache_mod = pytest.importorskip("rppg_distill.data.cache")
pytest.importorskip("cv2")

from rppg_distill.cli import main
from rppg_distill.data.types import Recording


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    cfg = synthetic.SynthConfig(n_subjects=1, duration_s=10.0, size=128, radar=False, seed=0)
    sim = synthetic.simulate(1, "before", cfg)
    recs = [Recording(dataset="synthetic", subject="1", view=view, video=f"mem://{view}",
                      fps=cfg.fps, state="before", bvp=sim.bvp.copy(),
                      frame_loader=(lambda f=frames: f))
            for view, frames in sim.frames.items()]
    out = tmp_path_factory.mktemp("cache")
    report = cache_mod.preprocess(recs, out, {"backend": "haar", "workers": 0, "progress": False})
    if not report.ok_keys:
        pytest.skip(f"preprocessing produced no usable entry: {report.summary()}")
    return out


def test_cli_prints_per_view_table(small_cache, tmp_path, capsys):
    js = tmp_path / "res.json"
    rc = main(["evaluate-classical", "--dataset", str(small_cache), "--method", "pos,chrom",
               "--window", "10", "--table-format", "markdown", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "| mae |" in out and "cam2 (frontal)" in out and "| pos |" in out
    data = json.loads(js.read_text())
    assert {r["method"] for r in data["rows"]} == {"pos", "chrom"}


def test_cli_bad_arguments(tmp_path, capsys):
    assert main(["evaluate-classical", "--dataset", str(tmp_path / "nope"), "--method", "pos"]) == 2
    assert main(["evaluate-classical", "--dataset", str(tmp_path), "--method", "xyz"]) == 2
    assert main(["evaluate-classical", "--dataset", str(tmp_path), "--method", "pos"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "unknown method" in err and "no usable cache entries" in err
