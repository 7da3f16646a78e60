"""Heart rate and signal quality for the runtime (numpy and the compiled spectral core; no torch)."""

from __future__ import annotations

import numpy as np

from rppg_distill.spectral import peak_frequency as _core_peak_frequency


def peak_frequency(x, fs: float, band=(0.75, 3.0), step_hz: float = 1 / 600) -> np.ndarray | float:
    """Peak frequency (Hz) of x [B, T] or [T] on a fine grid (0.1 bpm) with interpolation, by the
    compiled spectral core (``rppg_distill.spectral.peak_frequency``)."""
    x = np.ascontiguousarray(x, np.float32)
    return _core_peak_frequency(x, fs, tuple(band), step_hz=step_hz)


def quality(bvp: np.ndarray, fs: float, hr_bpm: float, band=(0.75, 3.0)) -> tuple[float, float]:
    """(SNR in dB around the HR and its first harmonic, spectral peak concentration in [0, 1])."""
    from rppg_distill.signal import peak_concentration, snr_db

    bvp = np.asarray(bvp, np.float64)
    snr = float(snr_db(bvp, fs, hr_bpm, band=(0.5, 4.0)))
    conc = float(peak_concentration(bvp, fs, band=band))
    return snr, conc
