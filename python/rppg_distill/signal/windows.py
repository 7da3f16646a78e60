"""Cut long signals into HR evaluation windows; resample non-uniform timestamps."""

from __future__ import annotations

import numpy as np

from rppg_distill.signal._checks import check_fs, check_signal


def window_bounds(n: int, fs, window_s: float | None = 20.0, stride_s: float | None = None,
                  *, short: str = "whole") -> list[tuple[int, int]]:
    """Sample ranges ``[(start, stop), ...]`` of consecutive HR windows over ``n`` samples.

    Windows have ``round(window_s * fs)`` samples and start every ``stride_s`` seconds (default:
    non-overlapping). A trailing partial window is dropped. A signal shorter than one window gives
    one window of the whole signal when ``short="whole"`` (the papers evaluate each video at least
    once) or a ValueError when ``short="error"``. ``window_s=None`` gives one whole-signal window.
    """
    fs = check_fs(fs)
    if n <= 0:
        raise ValueError("cannot window an empty signal")
    if window_s is None:
        return [(0, n)]
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0, got {window_s}")
    win = int(round(window_s * fs))
    hop = win if stride_s is None else int(round(stride_s * fs))
    if hop <= 0:
        raise ValueError(f"stride_s must be > 0, got {stride_s}")
    if n < win:
        if short == "whole":
            return [(0, n)]
        raise ValueError(f"signal has {n} samples ({n / fs:.2f} s), shorter than one "
                         f"{window_s} s window")
    return [(s, s + win) for s in range(0, n - win + 1, hop)]


def sliding_windows(x, fs, window_s: float | None = 20.0, stride_s: float | None = None,
                    *, short: str = "whole"):
    """Split ``x`` [T] into HR windows: returns (list of [L] arrays, start times in seconds)."""
    arr = check_signal(x, "signal", ndim=(1,))
    bounds = window_bounds(arr.shape[0], fs, window_s, stride_s, short=short)
    return [arr[a:b] for a, b in bounds], np.array([a / float(fs) for a, _ in bounds])


def resample_uniform(timestamps, values, fs: float | None = None, *, kind: str = "linear"):
    """Resample samples at non-uniform ``timestamps`` (s) onto a uniform grid.

    Args:
        timestamps: [N] increasing times in seconds (duplicates are averaged).
        values: [N] or [N, C] samples.
        fs: target rate in Hz; default: the median rate of the timestamps.
        kind: "linear" or "cubic" (scipy CubicSpline; not-a-knot).

    Returns:
        (t_uniform [M], values_uniform [M] or [M, C]) starting at ``timestamps[0]``.

    Raises:
        ValueError: fewer than 2 distinct samples, NaN, unsorted times, bad fs.
    """
    t = check_signal(timestamps, "timestamps", ndim=(1,), min_len=2)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[0] != t.shape[0]:
        raise ValueError(f"values must be [N] or [N, C] with N = {t.shape[0]}, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contain NaN or inf")
    if np.any(np.diff(t) < 0):
        raise ValueError("timestamps must be non-decreasing")
    uniq, inv = np.unique(t, return_inverse=True)
    if len(uniq) < 2:
        raise ValueError("need at least 2 distinct timestamps")
    if len(uniq) != len(t):  # average duplicates
        counts = np.bincount(inv).astype(np.float64)
        sums = np.zeros((len(uniq),) + v.shape[1:])
        np.add.at(sums, inv, v)
        v = sums / counts.reshape((-1,) + (1,) * (v.ndim - 1))
        t = uniq
    fs = 1.0 / float(np.median(np.diff(t))) if fs is None else check_fs(fs)
    n = int(np.floor((t[-1] - t[0]) * fs + 1e-9)) + 1
    tu = t[0] + np.arange(n) / fs
    if kind == "linear":
        if v.ndim == 1:
            out = np.interp(tu, t, v)
        else:
            out = np.stack([np.interp(tu, t, v[:, c]) for c in range(v.shape[1])], axis=1)
    elif kind == "cubic":
        from scipy.interpolate import CubicSpline
        out = CubicSpline(t, v, axis=0)(tu)
    else:
        raise ValueError(f"kind must be 'linear' or 'cubic', got {kind!r}")
    return tu, out
