"""Paired statistics: Wilcoxon signed-rank with effect size r = Z / sqrt(n) and share improved.

The package's one Wilcoxon test (the cross-view trainer's B' vs A+ comparison uses it too).
"""

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
        p: two-sided (or ``alternative``) p-value: exact or normal approximation (``method``).
        method: "exact" or "approx", the one used for ``p``.
        r: effect size |Z| / sqrt(n) (always from the normal-approximation Z, as in the papers).
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
    method: str = "approx"

    def as_dict(self) -> dict:
        return asdict(self)


EXACT_MAX_N = 50


def _exact_p(w_plus: float, n: int, alternative: str) -> float:
    """p-value of W+ under the exact null distribution (no ties: ranks 1..n, each sign 1/2).

    The distribution is the count of subsets of {1..n} per rank sum, built by dynamic programming."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    pmf = counts / 2.0 ** n
    w = int(round(w_plus))
    lower, upper = float(pmf[:w + 1].sum()), float(pmf[w:].sum())
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return min(1.0, 2.0 * min(lower, upper))


def wilcoxon_paired(new, baseline, *, higher_is_better: bool = True,
                    alternative: str = "two-sided", method: str = "auto") -> WilcoxonResult:
    """Wilcoxon signed-rank test of paired values (e.g. per-video peak concentration B' vs A+).

    Args:
        new, baseline: paired values [n].
        higher_is_better: defines "improved" (True for peak concentration, False for errors).
        alternative: "two-sided", "greater" or "less", about the differences new - baseline.
        method: "auto" (exact p when n <= 50 non-zero differences without ties, else the normal
            approximation; scipy's rule), "exact" (refused with ties) or "approx".

    Raises:
        ValueError: unequal lengths, NaN, or no non-zero difference.
    """
    a = np.asarray(new, dtype=np.float64).reshape(-1)
    b = np.asarray(baseline, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"new and baseline must be paired (same length), got {a.size} and {b.size}")
    if a.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("new/baseline must be non-empty and finite")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    if method not in ("auto", "exact", "approx"):
        raise ValueError(f"method must be 'auto', 'exact' or 'approx', got {method!r}")
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
    ties = bool((counts > 1).any())
    if method == "exact" and ties:
        raise ValueError("the exact Wilcoxon distribution needs differences without ties; use method='approx'")
    exact = method == "exact" or (method == "auto" and n <= EXACT_MAX_N and not ties)
    if exact:
        p = _exact_p(w_plus, n, alternative)
    elif alternative == "two-sided":
        p = 2.0 * _st.norm.sf(abs(z))
    elif alternative == "greater":
        p = _st.norm.sf(z)
    else:
        p = _st.norm.cdf(z)
    better = d > 0 if higher_is_better else d < 0
    return WilcoxonResult(n=n, n_total=int(a.size), statistic=w_plus, z=float(z), p=float(min(1.0, p)),
                          r=abs(z) / math.sqrt(n), share_improved=float(better.mean()),
                          median_diff=float(np.median(d)), method="exact" if exact else "approx")
