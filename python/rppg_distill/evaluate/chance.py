"""Chance level: the HR error of predictors that never look at the video (numpy only).

A model's HR MAE means something only next to what a blind guess achieves on the same test HRs.
Two blind guesses, both computed from the true HRs alone:

* constant: predict one number for every clip, the median of a reference HR distribution
  (default: the test HRs themselves; the median minimises the MAE of a constant, so this is the
  best constant guess in hindsight);
* shuffled: predict the HR of a random *other* clip; its expected MAE is the mean of
  ``|hr_i - hr_j|`` over ordered pairs ``i != j`` (the Gini mean difference).

``chance_mae`` is the smaller of the two: the honest bar a model must beat by a wide margin.
"""

from __future__ import annotations

import numpy as np


def _finite_1d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise ValueError(f"chance_level: {name} is empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"chance_level: {name} contains NaN or inf")
    return a


def chance_level(hr_true, hr_reference=None) -> dict:
    """MAE (bpm) of predictors that never look at the video, for test HRs hr_true [N]:
    constant_mae: predict the median of hr_reference (default: of hr_true itself) for every clip;
    shuffled_mae: mean |hr_i - hr_j| over pairs i != j (a random other clip's HR);
    chance_mae: the smaller of the two (the honest bar a model must beat).

    Args:
        hr_true: [N] true HRs (bpm) of the test clips.
        hr_reference: [M] HRs the constant predictor may know (e.g. the training clips'); default
            ``hr_true``.

    Returns:
        dict with ``constant_mae``, ``shuffled_mae``, ``chance_mae`` (floats, bpm) and ``n`` (N).
        With N = 1 there is no other clip: ``shuffled_mae`` is NaN and ``chance_mae`` is the
        constant one.

    Raises:
        ValueError: empty input or NaN/inf values.
    """
    hr = _finite_1d(hr_true, "hr_true")
    ref = hr if hr_reference is None else _finite_1d(hr_reference, "hr_reference")
    constant = float(np.mean(np.abs(hr - np.median(ref))))
    n = hr.size
    if n > 1:
        shuffled = float(np.abs(hr[:, None] - hr[None, :]).sum() / (n * (n - 1)))
        best = min(constant, shuffled)
    else:
        shuffled, best = float("nan"), constant
    return {"constant_mae": constant, "shuffled_mae": shuffled, "chance_mae": float(best), "n": int(n)}
