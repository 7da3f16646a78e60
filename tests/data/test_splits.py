"""Subject-disjoint deterministic splits."""

from pathlib import Path

import pytest

from rppg_distill.data.splits import split_records, split_subjects
from rppg_distill.data.types import Recording


def test_deterministic_disjoint_order_free():
    subs = [str(i) for i in range(1, 21)]
    a = split_subjects(subs, seed=1)
    b = split_subjects(list(reversed(subs)) + ["3", "3"], seed=1)
    assert a == b
    assert [len(a[k]) for k in ("train", "val", "test")] == [14, 2, 4]
    allv = a["train"] + a["val"] + a["test"]
    assert sorted(allv, key=int) == subs and len(set(allv)) == 20
    assert a["train"] == sorted(a["train"], key=int)
    assert split_subjects(subs, seed=2) != a


def test_fractions_counts_and_small():
    s = split_subjects(range(10), (0.8, 0.0, 0.2))
    assert len(s["train"]) == 8 and s["val"] == [] and len(s["test"]) == 2
    s = split_subjects(range(3), seed=0)
    assert all(len(v) == 1 for v in s.values())
    s = split_subjects(range(600), counts={"train": 479, "val": 61, "test": 60})
    assert [len(s[k]) for k in ("train", "val", "test")] == [479, 61, 60]
    with pytest.raises(ValueError):
        split_subjects([])
    with pytest.raises(ValueError):
        split_subjects(range(3), counts={"train": 5})


def test_split_records_keeps_views_together():
    recs = [Recording("d", str(s), v, Path("x"), 30.0, state=st) for s in range(1, 8)
            for st in ("before", "after") for v in ("frontal", "side_left")]
    out = split_records(recs, seed=0)
    seen = {}
    for name, rs in out.items():
        for r in rs:
            assert seen.setdefault(r.subject, name) == name
    assert sum(len(v) for v in out.values()) == len(recs)
