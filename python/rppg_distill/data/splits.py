"""Subject-disjoint, deterministic splits.

Subjects are de-duplicated, sorted numerically (``natural_key``: "2" < "10"), then shuffled by a
seeded ``numpy.random.default_rng(seed)`` permutation, then cut by the fractions (largest-remainder
rounding, every split with a positive fraction gets at least one subject when there are enough).
The result never depends on directory or record order. ``counts=`` gives explicit sizes instead
(e.g. MCD-rPPG's paper split 479/61/60).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

DEFAULT_FRACTIONS = {"train": 0.7, "val": 0.1, "test": 0.2}


def natural_key(s) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(s))]


def _sizes(n: int, fractions: dict) -> dict:
    total = sum(fractions.values())
    if total <= 0 or any(v < 0 for v in fractions.values()):
        raise ValueError(f"fractions must be >= 0 with a positive sum, got {fractions}")
    exact = {k: n * v / total for k, v in fractions.items()}
    sizes = {k: int(np.floor(e)) for k, e in exact.items()}
    rest = n - sum(sizes.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - sizes[k]), list(fractions).index(k)))[:rest]:
        sizes[k] += 1
    # guarantee one subject per positive split when possible (take from the largest)
    positive = [k for k, v in fractions.items() if v > 0]
    if n >= len(positive):
        for k in positive:
            if sizes[k] == 0:
                donor = max(sizes, key=lambda j: sizes[j])
                sizes[donor] -= 1
                sizes[k] += 1
    return sizes


def split_subjects(subjects: Iterable, fractions: dict | Sequence[float] | None = None, *, seed: int = 0,
                   counts: dict | None = None) -> dict[str, list[str]]:
    """Assign subject ids to splits. Returns {split name: sorted subject ids}.

    Args:
        fractions: {"train": .7, "val": .1, "test": .2} (default) or a 3-sequence in that order.
        counts: explicit subject counts per split (must sum to <= the number of subjects; the
            remainder is dropped into ``"unused"``).
    """
    subs = sorted({str(s) for s in subjects}, key=natural_key)
    if not subs:
        raise ValueError("no subjects to split")
    if fractions is None:
        fractions = dict(DEFAULT_FRACTIONS)
    elif not isinstance(fractions, dict):
        fractions = dict(zip(("train", "val", "test"), fractions))
    order = [subs[i] for i in np.random.default_rng(seed).permutation(len(subs))]
    if counts is not None:
        if sum(counts.values()) > len(subs):
            raise ValueError(f"counts {counts} need {sum(counts.values())} subjects, only {len(subs)} exist")
        sizes = dict(counts)
        sizes["unused"] = len(subs) - sum(counts.values())
    else:
        sizes = _sizes(len(subs), fractions)
    out, i = {}, 0
    for k, size in sizes.items():
        out[k] = sorted(order[i:i + size], key=natural_key)
        i += size
    if counts is not None and not out["unused"]:
        del out["unused"]
    return out


def split_records(records: Sequence, fractions=None, *, seed: int = 0, counts: dict | None = None) -> dict:
    """Split ``Recording`` objects subject-disjointly (by ``(dataset, subject)``).

    Returns {split name: list of records in their input order}.
    """
    keys = {f"{r.dataset}::{r.subject}" for r in records}
    assign = split_subjects(keys, fractions, seed=seed, counts=counts)
    where = {s: name for name, subs in assign.items() for s in subs}
    out = {name: [] for name in assign}
    for r in records:
        out[where[f"{r.dataset}::{r.subject}"]].append(r)
    return out


__all__ = ["DEFAULT_FRACTIONS", "split_records", "split_subjects"]
