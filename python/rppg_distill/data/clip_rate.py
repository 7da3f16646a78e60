"""Clips at the model's frame rate: a recording at another fps is resampled by linear
interpolation in time (numpy only).

A model trained at 30 fps sees 30 fps: sample ``i`` of a clip at rate ``fs`` lies at time
``i / fs``, i.e. at position ``u = i * fps / fs`` of a recording at ``fps`` frames per second,
and is ``(1 - w) * x[floor(u)] + w * x[floor(u) + 1]`` with ``w = u - floor(u)`` (frames and
labels alike, before the clip transforms). Rates within ``RATE_TOL`` Hz of each other are taken
as equal (no interpolation: the frames are used as they are).
"""

from __future__ import annotations

import numpy as np

RATE_TOL = 0.01   # Hz; the tolerance ``MultiViewPairs`` pairs views with


def needs_resampling(fps: float, fs: float | None) -> bool:
    """Whether a recording at ``fps`` must be resampled to deliver clips at ``fs`` (None: never)."""
    return fs is not None and abs(float(fps) - float(fs)) > RATE_TOL


def grid_length(n: int, fps: float, fs: float) -> int:
    """Samples at ``fs`` that fit in ``n`` frames at ``fps`` (the last one at or before frame n-1)."""
    if n <= 0:
        return 0
    return int(np.floor((n - 1) * float(fs) / float(fps) + 1e-9)) + 1


def positions(start: int, length: int, fps: float, fs: float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour frames and weights of samples ``start .. start+length-1`` at ``fs``.

    Returns:
        (i0, i1, w): int [length] frame indices (``i1 = min(i0 + 1, n - 1)``) and float32 weights.
    """
    u = (start + np.arange(length, dtype=np.float64)) * (float(fps) / float(fs))
    i0 = np.minimum(np.floor(u + 1e-9).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = np.clip(u - i0, 0.0, 1.0).astype(np.float32)
    return i0, i1, w


def ok_on_grid(ok: np.ndarray | None, n: int, fps: float, fs: float) -> np.ndarray | None:
    """A per-frame flag (face found) on the ``fs`` grid: a sample is ok when both frames it is
    interpolated from are."""
    if ok is None:
        return None
    m = grid_length(n, fps, fs)
    i0, i1, _ = positions(0, m, fps, fs, n)
    a = np.asarray(ok[:n], bool)
    return a[i0] & a[i1]


def resample_frames(frames, start: int, length: int, fps: float, fs: float, n: int) -> np.ndarray:
    """Frames [N, H, W, C] (uint8, possibly a memmap) at ``fps`` -> float32 [length, H, W, C] at
    ``fs``, samples ``start ..`` of the ``fs`` grid."""
    i0, i1, w = positions(start, length, fps, fs, n)
    lo, hi = int(i0.min()), int(i1.max()) + 1
    block = np.asarray(frames[lo:hi], dtype=np.float32)
    wv = w.reshape(-1, *([1] * (block.ndim - 1)))
    return (1.0 - wv) * block[i0 - lo] + wv * block[i1 - lo]


def resample_signal(y: np.ndarray, start: int, length: int, fps: float, fs: float, n: int) -> np.ndarray:
    """A per-frame signal [..., N] at ``fps`` -> float32 [..., length] at ``fs``."""
    i0, i1, w = positions(start, length, fps, fs, n)
    y = np.asarray(y, dtype=np.float32)
    return (1.0 - w) * y[..., i0] + w * y[..., i1]
