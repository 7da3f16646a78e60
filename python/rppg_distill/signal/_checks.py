"""Input validation shared by the signal, classical and evaluate rooms (numpy only)."""

from __future__ import annotations

import math

import numpy as np


def check_fs(fs) -> float:
    """Return ``fs`` as a float; ValueError unless it is finite and > 0."""
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise ValueError(f"fs must be a number (sampling rate in Hz), got {fs!r}") from None
    if not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a finite sampling rate > 0 Hz, got {fs}")
    return fs


def check_band(band, fs: float | None = None) -> tuple[float, float]:
    """Return ``(lo, hi)`` in Hz; ValueError unless 0 < lo < hi (< fs/2 when fs is given)."""
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be a pair (lo_hz, hi_hz), got {band!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0 or hi <= lo:
        raise ValueError(f"band must satisfy 0 < lo < hi, got ({lo}, {hi}) Hz")
    if fs is not None and hi >= fs / 2:
        raise ValueError(
            f"band upper edge {hi} Hz must be below the Nyquist frequency fs/2 = {fs / 2} Hz "
            f"(fs = {fs} Hz; is the frame rate right?)")
    return lo, hi


def check_signal(x, name: str = "signal", *, ndim: tuple[int, ...] = (1, 2),
                 min_len: int = 1) -> np.ndarray:
    """Float64 array of allowed rank, non-empty along the last axis, finite.

    Raises:
        ValueError: on wrong rank, empty or too short input, NaN or inf.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in ndim:
        raise ValueError(f"{name} must have rank {' or '.join(map(str, ndim))}, got shape {arr.shape}")
    if arr.size == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.shape[-1] < min_len:
        raise ValueError(f"{name} has {arr.shape[-1]} samples, needs at least {min_len}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or inf value(s)")
    return arr


def min_samples_for_band(fs: float, lo_hz: float) -> int:
    """Samples needed to hold one full period of the lowest band frequency (and at least 8)."""
    return max(8, int(math.ceil(fs / lo_hz)))


def check_length_for_band(n: int, fs: float, band: tuple[float, float], name: str = "signal") -> None:
    """ValueError when ``n`` samples at ``fs`` are too short to resolve the band's lowest frequency."""
    need = min_samples_for_band(fs, band[0])
    if n < need:
        raise ValueError(
            f"{name} is too short for the band: {n} samples at {fs} Hz = {n / fs:.2f} s, but the "
            f"band's lowest frequency {band[0]} Hz needs at least {need} samples "
            f"({need / fs:.2f} s, one period)")
