"""An independent direct-DFT peak picker, used as the expected value for ``hr_fft``.

Test-only: the library always calls the spectral core (required; there is no fallback).
"""

from __future__ import annotations

import numpy as np


def independent_peak_frequency(x, fs, band=(0.5, 3.0), *, step_hz=1 / 600, window="hann",
                               demean=True):
    """Peak frequency (Hz) of ``x`` [T] or [B, T] on the grid ``band[0]:step_hz:band[1]``.

    Direct DFT in float64, optional Hann window, parabolic refinement around the peak bin.
    Returns a float for [T] input, an array [B] for [B, T] input.
    """
    x = np.asarray(x, dtype=np.float64)
    xb = np.atleast_2d(x)
    if demean:
        xb = xb - xb.mean(axis=-1, keepdims=True)
    t = xb.shape[-1]
    if window == "hann":
        xb = xb * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(t) / t))
    freqs = np.arange(band[0], band[1] + step_hz * 1e-6, step_hz)
    ph = 2j * np.pi * np.outer(np.arange(t), freqs) / fs
    p = np.abs(xb @ np.exp(-ph)) ** 2
    k = p.argmax(axis=-1)
    out = freqs[k].copy()
    for i, ki in enumerate(k):
        if 0 < ki < len(freqs) - 1:
            a, b, c = p[i, ki - 1], p[i, ki], p[i, ki + 1]
            den = a - 2 * b + c
            if den != 0:
                out[i] += 0.5 * (a - c) / den * step_hz
    return float(out[0]) if x.ndim == 1 else out
