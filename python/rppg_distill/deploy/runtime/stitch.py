"""Overlap-add stitching of model windows into one pulse signal (numpy only).

Each window of T model outputs is z-scored (a ``diff_bvp`` window is first integrated and
linearly detrended) and added with Hann weights; a stitched sample is the weighted mean of the
windows covering it. Indices are absolute sample indices within a segment.
"""

from __future__ import annotations

import numpy as np


class OverlapAdd:
    """Accumulator for windows of ``T`` samples; ``output`` is the contract's "bvp"/"diff_bvp".

    acc, wsum: float64 [held samples], weighted sum and weight sum from absolute index ``base``.
    final: samples [0, final) were already emitted. w: float64 [T] Hann weights (peak 1).
    """

    def __init__(self, T: int, output: str):
        self.T = int(T)
        self.output = output
        w = np.hanning(self.T + 2)[1:-1]
        self.w = (w / w.max()).astype(np.float64)
        self.reset()

    def reset(self) -> None:
        self.acc = np.zeros(0)       # overlap-add accumulator from absolute index base
        self.wsum = np.zeros(0)
        self.base = 0
        self.final = 0               # samples [0, final) already emitted

    @property
    def end(self) -> int:
        """One past the last absolute sample held."""
        return self.base + len(self.acc)

    def add(self, start: int, y: np.ndarray, only_from: int | None = None) -> None:
        """Add model output ``y`` [T] for the window starting at sample ``start``. ``only_from``:
        the window adds to the stitched signal from this sample on (the tail window). A window
        with a NaN/inf output adds zeros (no pulse power: the HR reads ``no_signal``)."""
        if not np.isfinite(y).all():
            y = np.zeros(len(y))
        if self.output == "diff_bvp":
            y = np.cumsum(y)
            k = np.arange(len(y))
            y = y - np.polyval(np.polyfit(k, y, 1), k)
        sd = y.std()
        y = (y - y.mean()) / sd if sd > 0 else np.zeros_like(y)
        end = start + self.T
        need = end - self.base
        if need > len(self.acc):
            grow = need - len(self.acc)
            self.acc = np.concatenate([self.acc, np.zeros(grow)])
            self.wsum = np.concatenate([self.wsum, np.zeros(grow)])
        s = start - self.base
        w = self.w
        if only_from is not None and only_from > start:
            w = w.copy()
            w[:only_from - start] = 0.0
        self.acc[s:s + self.T] += y * w
        self.wsum[s:s + self.T] += w

    def values(self, lo: int, hi: int) -> np.ndarray:
        """Stitched float64 samples [lo, hi) (absolute indices, clipped to what is held)."""
        i0, i1 = lo - self.base, hi - self.base
        return self.acc[i0:i1] / np.maximum(self.wsum[i0:i1], 1e-12)

    def emit(self, upto: int) -> tuple[int, np.ndarray] | None:
        """Finalize samples [final, upto): returns (first index, float32 values) or None."""
        upto = min(upto, self.end)
        if upto <= self.final:
            return None
        first = self.final
        vals = self.values(first, upto).astype(np.float32)
        self.final = upto
        return first, vals

    def trim(self, keep_from: int) -> None:
        """Drop samples before ``keep_from`` that were already emitted."""
        drop = min(keep_from - self.base, self.final - self.base)
        if drop > 0:
            self.acc = self.acc[drop:]
            self.wsum = self.wsum[drop:]
            self.base += drop
