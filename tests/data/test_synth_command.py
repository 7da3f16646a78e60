"""`rppg-distill synth` writes the three dataset layouts the README names, each readable."""

from rppg_distill.cli import main
from rppg_distill.data.readers import read_dataset


def test_synth_writes_all_three_formats_by_default(tmp_path, capsys):
    rc = main(["synth", str(tmp_path), "--subjects", "1", "--seconds", "2", "--size", "96",
               "--states", "before", "--workers", "1", "--quiet"])
    assert rc == 0
    assert "mcd_rppg, ubfc_rppg, equipleth" in capsys.readouterr().out
    for name in ("mcd_rppg", "ubfc_rppg", "equipleth"):
        recs = read_dataset(name, tmp_path / name)
        assert recs, name
        assert all(r.bvp is not None and len(r.bvp) == 60 for r in recs), name
