"""Heart rate and signal quality for the runtime (numpy; the spectral core when built)."""

from __future__ import annotations

import warnings

import numpy as np

_FALLBACK_WARNED = False


def _numpy_peak_frequency(x, fs, band, step_hz=1 / 600):
    """Windowed, zero-padded periodogram peak (grid <= step_hz) with parabolic interpolation; used
    only when the compiled core is not importable."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    x = x - x.mean(axis=1, keepdims=True)
    T = x.shape[1]
    w = np.hanning(T + 1)[:-1]  # periodic hann
    n_fft = max(T, int(np.ceil(fs / step_hz)))
    p = np.abs(np.fft.rfft(x * w, n=n_fft, axis=1)) ** 2
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    idx = np.nonzero((f >= band[0]) & (f <= band[1]))[0]
    out = np.empty(len(x))
    for i in range(len(x)):
        k = idx[np.argmax(p[i, idx])]
        out[i] = f[k]
        if idx[0] < k < idx[-1]:
            a, b, c = p[i, k - 1], p[i, k], p[i, k + 1]
            den = a - 2 * b + c
            if den != 0:
                out[i] += 0.5 * (a - c) / den * (f[1] - f[0])
    return out


def peak_frequency(x, fs: float, band=(0.75, 3.0), step_hz: float = 1 / 600) -> np.ndarray | float:
    """Peak frequency (Hz) of x [B, T] or [T] on a fine grid (0.1 bpm) with interpolation, by the
    spectral core (``rppg_distill.spectral.peak_frequency``)."""
    global _FALLBACK_WARNED
    x = np.ascontiguousarray(x, np.float32)
    try:
        from rppg_distill.spectral import peak_frequency as core_peak
    except ImportError as err:
        if not _FALLBACK_WARNED:
            warnings.warn(f"spectral core not importable ({err}); using the numpy peak search",
                          RuntimeWarning, stacklevel=2)
            _FALLBACK_WARNED = True
        out = _numpy_peak_frequency(x, fs, band, step_hz)
        return out if x.ndim == 2 else float(out[0])
    return core_peak(x, fs, tuple(band), step_hz=step_hz)


def quality(bvp: np.ndarray, fs: float, hr_bpm: float, band=(0.75, 3.0)) -> tuple[float, float]:
    """(SNR in dB around the HR and its first harmonic, spectral peak concentration in [0, 1])."""
    from rppg_distill.signal import peak_concentration, snr_db

    bvp = np.asarray(bvp, np.float64)
    snr = float(snr_db(bvp, fs, hr_bpm, band=(0.5, 4.0)))
    conc = float(peak_concentration(bvp, fs, band=band))
    return snr, conc
