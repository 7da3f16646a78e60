"""Paired statistics: Wilcoxon signed-rank with effect size r = Z / sqrt(n) and share improved."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as _st


@dataclass(frozen=True)
class WilcoxonResult:
    """Result of ``wilcoxon_paired``.

    Attributes:
        n: pairs used (non-zero differences; zero differences are dropped, 'wilcox' rule).
        n_total: pairs given.
        statistic: W+ (sum of ranks of positive differences new - baseline).
        z: normal-approximation Z with tie correction (no continuity correction); its sign says
            which way the differences go (positive: new > baseline).
        p: two-sided (or ``alternative``) p-value of the normal approximation.
        r: effect size |Z| / sqrt(n).
        share_improved: fraction of all pairs where ``new`` is better than ``baseline``.
        median_diff: median of new - baseline.
    """

    n: int
    n_total: int
    statistic: float
    z: float
    p: float
    r: float
    share_improved: float
    median_diff: float

    def as_dict(self) -> dict:
        return asdict(self)


def wilcoxon_paired(new, baseline, *, higher_is_better: bool = True,
                    alternative: str = "two-sided") -> WilcoxonResult:
    """Wilcoxon signed-rank test of paired values (e.g. per-video peak concentration B' vs A+).

    Args:
        new, baseline: paired values [n].
        higher_is_better: defines "improved" (True for peak concentration, False for errors).
        alternative: "two-sided", "greater" or "less", about the differences new - baseline.

    Raises:
        ValueError: unequal lengths, NaN, or no non-zero difference.
    """
    a = np.asarray(new, dtype=np.float64).reshape(-1)
    b = np.asarray(baseline, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"new and baseline must be paired (same length), got {a.size} and {b.size}")
    if a.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("new/baseline must be non-empty and finite")
    d = a - b
    dz = d[d != 0]
    n = dz.size
    if n == 0:
        raise ValueError("all paired differences are zero: the Wilcoxon test is undefined")
    ranks = _st.rankdata(np.abs(dz))
    w_plus = float(ranks[dz > 0].sum())
    mean = n * (n + 1) / 4.0
    _, counts = np.unique(np.abs(dz), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - (counts ** 3 - counts).sum() / 48.0
    z = (w_plus - mean) / math.sqrt(var) if var > 0 else 0.0
    if alternative == "two-sided":
        p = 2.0 * _st.norm.sf(abs(z))
    elif alternative == "greater":
        p = _st.norm.sf(z)
    elif alternative == "less":
        p = _st.norm.cdf(z)
    else:
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    better = d > 0 if higher_is_better else d < 0
    return WilcoxonResult(n=n, n_total=int(a.size), statistic=w_plus, z=float(z), p=float(min(1.0, p)),
                          r=abs(z) / math.sqrt(n), share_improved=float(better.mean()),
                          median_diff=float(np.median(d)))
