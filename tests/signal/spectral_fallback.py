"""TEST-ONLY stand-in for ``rppg_distill.spectral.peak_frequency`` while the core is not built.

The library never uses this: ``rppg_distill.signal.hr_fft`` always calls the spectral core. The
``core_or_fallback`` fixture patches it in only when ``rppg_distill.spectral`` cannot be imported,
so that the HR tests' expectations can run before the core lands; once it lands they exercise it.
"""

from __future__ import annotations

import numpy as np


def _fallback_peak_frequency(x, fs, band=(0.5, 3.0), *, step_hz=1 / 600, window="hann",
                             demean=True):
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


def core_available() -> bool:
    try:
        from rppg_distill.spectral import peak_frequency  # noqa: F401
    except ImportError:
        return False
    return True


def install(monkeypatch) -> str:
    """Patch the fallback in when the core is missing; returns "core" or "fallback"."""
    if core_available():
        return "core"
    import rppg_distill.signal.hr as hr
    monkeypatch.setattr(hr, "_core_peak_frequency", lambda: _fallback_peak_frequency)
    return "fallback"
