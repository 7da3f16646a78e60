"""`preprocess` and `evaluate-classical` resolve dataset readers through
``data.readers.get_reader``: aliases work, unknown names fail with one clear line."""

from __future__ import annotations

import json

import pytest

synthetic = pytest.importorskip("rppg_distill.data.synthetic")
pytest.importorskip("cv2")

from rppg_distill.cli import main


@pytest.fixture(scope="module")
def mcd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synthetic.generate(root, n_subjects=1, seed=0, states=("before",), duration_s=8.0, size=128,
                       radar=False, formats=("mcd_rppg",), workers=1)
    return root / "mcd_rppg"


def test_preprocess_accepts_a_reader_alias(mcd_root, tmp_path, capsys):
    rc = main(["preprocess", "--dataset", "mcd", "--root", str(mcd_root), "--out", str(tmp_path / "c"),
               "--workers", "0", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert len(json.dumps(report)) > 2 and (tmp_path / "c").is_dir()
    assert main(["preprocess", "--dataset", "nosuchset", "--root", str(mcd_root),
                 "--out", str(tmp_path / "d")]) == 2
    assert "unknown dataset 'nosuchset'" in capsys.readouterr().out


def test_evaluate_classical_accepts_a_reader_alias(mcd_root, tmp_path, capsys):
    js = tmp_path / "res.json"
    rc = main(["evaluate-classical", "--dataset", str(mcd_root), "--format", "MCD-rPPG",
               "--cache", str(tmp_path / "cache"), "--method", "pos", "--window", "8", "--json", str(js)])
    out = capsys.readouterr().out
    assert rc == 0, out
    views = {r["view"] for r in json.loads(js.read_text())["rows"]}
    assert "frontal" in views
    with pytest.raises(SystemExit, match="unknown dataset 'nope'"):
        main(["evaluate-classical", "--dataset", str(mcd_root), "--format", "nope", "--method", "pos"])
