"""HR error metrics over windows or videos (numpy only)."""

from __future__ import annotations

import numpy as np


def _pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    g = np.asarray(gt, dtype=np.float64).reshape(-1)
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same length, got {p.shape[0]} and {g.shape[0]}")
    if p.size == 0:
        raise ValueError("no values to evaluate (empty pred/gt)")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(g))):
        raise ValueError("pred/gt contain NaN or inf")
    return p, g


def mae(pred, gt) -> float:
    """Mean absolute error."""
    p, g = _pair(pred, gt)
    return float(np.mean(np.abs(p - g)))


def rmse(pred, gt) -> float:
    """Root mean squared error."""
    p, g = _pair(pred, gt)
    return float(np.sqrt(np.mean((p - g) ** 2)))


def mape(pred, gt) -> float:
    """Mean absolute percentage error, in percent (gt must be non-zero)."""
    p, g = _pair(pred, gt)
    if np.any(g == 0):
        raise ValueError("MAPE is undefined when gt contains 0")
    return float(np.mean(np.abs((p - g) / g)) * 100.0)


def pearson(pred, gt) -> float:
    """Pearson correlation r (NaN when either side is constant or n < 2)."""
    p, g = _pair(pred, gt)
    if p.size < 2 or p.std() == 0 or g.std() == 0:
        return float("nan")
    return float(np.corrcoef(p, g)[0, 1])


def std_error(pred, gt) -> float:
    """Standard deviation of the error pred - gt (population, ddof=0; rPPG-Toolbox's definition)."""
    p, g = _pair(pred, gt)
    return float(np.std(p - g))


def hr_metrics(pred, gt) -> dict:
    """All HR metrics at once: n, MAE, RMSE, MAPE, Pearson r, STD of the error, mean error (bias)."""
    p, g = _pair(pred, gt)
    return {"n": int(p.size), "mae": mae(p, g), "rmse": rmse(p, g),
            "mape": mape(p, g) if np.all(g != 0) else float("nan"), "pearson": pearson(p, g),
            "std": std_error(p, g), "bias": float(np.mean(p - g))}
