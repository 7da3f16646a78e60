"""Heart rate from a pulse signal: spectral peak (via the spectral core) and peak detection."""

from __future__ import annotations

import numpy as np
from scipy import signal as _sps

from rppg_distill.signal._checks import check_band, check_fs, check_length_for_band, check_signal
from rppg_distill.signal.filters import bandpass
from rppg_distill.signal.filters import detrend as _detrend


def _core_peak_frequency():
    """The spectral core's ``peak_frequency`` (imported lazily; the library never falls back)."""
    try:
        from rppg_distill.spectral import peak_frequency
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "rppg_distill.signal.hr_fft needs the spectral core (rppg_distill.spectral.peak_frequency); "
            f"it could not be imported: {err}") from err
    return peak_frequency


def hr_fft(bvp, fs, band=(0.75, 3.0), resolution_bpm: float = 0.1, *, window: str | None = "hann",
           filter_order: int | None = None, detrend: bool = False, detrend_lambda: float = 100.0):
    """Heart rate (bpm) as the spectral peak of a pulse signal inside ``band``.

    The spectrum is evaluated by the spectral core (``rppg_distill.spectral.peak_frequency``) on an
    explicit grid ``lo, lo + step, ... <= hi`` with ``step = resolution_bpm / 60`` Hz (a direct DFT,
    so the resolution does not depend on the signal length), after mean removal.

    Args:
        bvp: pulse signal [T] or a batch [B, T].
        fs: sampling rate in Hz.
        band: (lo_hz, hi_hz) searched, inclusive.
        resolution_bpm: grid step in bpm (0.1 bpm by default).
        window: "hann" or None/"none" (boxcar, i.e. a plain periodogram).
        filter_order: if given, a zero-phase Butterworth band-pass of this order on ``band`` first.
        detrend: if True, smoothness-priors detrending first (``detrend_lambda``).

    Returns:
        float for [T] input, float64 array [B] for [B, T] input.

    Raises:
        ValueError: empty or NaN input, bad fs, band outside (0, fs/2), signal too short for the band.
    """
    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    x = check_signal(bvp, "bvp")
    check_length_for_band(x.shape[-1], fs, (lo, hi), "bvp")
    if not np.isfinite(resolution_bpm) or resolution_bpm <= 0:
        raise ValueError(f"resolution_bpm must be > 0, got {resolution_bpm}")
    if detrend:
        x = _detrend(x, detrend_lambda)
    if filter_order is not None:
        x = bandpass(x, fs, lo, hi, order=filter_order)
    win = "none" if window in (None, "none", "boxcar", "rect") else window
    peak = _core_peak_frequency()(np.ascontiguousarray(x), fs, (lo, hi),
                                  step_hz=resolution_bpm / 60.0, window=win, demean=True)
    bpm = np.asarray(peak, dtype=np.float64) * 60.0
    return float(bpm) if x.ndim == 1 else bpm.reshape(x.shape[0])


def hr_peaks(bvp, fs, band=(0.75, 3.0), *, filter_order: int | None = 2,
             prominence: float = 0.3) -> float:
    """Heart rate (bpm) from systolic peak detection: 60 / median inter-beat interval.

    The signal is band-passed (``filter_order``; None to skip) and standardized; peaks must be at
    least ``1/hi`` s apart and have a prominence of at least ``prominence`` standard deviations.

    Args:
        bvp: pulse signal [T].
        fs: sampling rate in Hz.
        band: physiological band (lo_hz, hi_hz); also bounds the accepted inter-beat intervals.

    Raises:
        ValueError: bad input, or fewer than two beats found.
    """
    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    x = check_signal(bvp, "bvp", ndim=(1,))
    check_length_for_band(x.shape[-1], fs, (lo, hi), "bvp")
    if filter_order is not None:
        x = bandpass(x, fs, lo, hi, order=filter_order)
    sd = x.std()
    if sd == 0:
        raise ValueError("bvp is constant: no beats to detect")
    x = (x - x.mean()) / sd
    peaks, _ = _sps.find_peaks(x, distance=max(1, int(np.floor(fs / hi))), prominence=prominence)
    if len(peaks) < 2:
        raise ValueError(f"peak detection found {len(peaks)} beat(s) in {len(x) / fs:.1f} s; needs >= 2")
    ibi = np.diff(peaks) / fs
    ibi = ibi[(ibi >= 1.0 / hi) & (ibi <= 1.0 / lo)]
    if len(ibi) == 0:
        raise ValueError("no inter-beat interval inside the band")
    return float(60.0 / np.median(ibi))


AGGREGATES = ("median", "mode")


def aggregate_hr(window_hrs, how: str = "median", bin_bpm: float = 3.0) -> float:
    """One HR (bpm) for a recording from the HRs of its (overlapping) windows.

    ``"median"``: the median window HR (robust to a minority of windows locked on noise).
    ``"mode"``: the median of the window HRs within ``bin_bpm`` of the fullest ``bin_bpm``-wide
    histogram bin (the HR most windows agree on, even when fewer than half of them do).
    NaN window HRs (windows without an estimate) are ignored.

    Raises:
        ValueError: no finite window HR, or an unknown ``how``.
    """
    h = np.asarray(window_hrs, dtype=np.float64).reshape(-1)
    h = h[np.isfinite(h)]
    if h.size == 0:
        raise ValueError("no finite window HR to aggregate")
    if how == "median":
        return float(np.median(h))
    if how == "mode":
        if not np.isfinite(bin_bpm) or bin_bpm <= 0:
            raise ValueError(f"bin_bpm must be > 0, got {bin_bpm}")
        edges = np.arange(np.floor(h.min()), h.max() + bin_bpm, bin_bpm)
        if edges.size < 2:
            return float(np.median(h))
        counts, edges = np.histogram(h, bins=edges)
        k = int(np.argmax(counts))
        near = h[(h >= edges[k] - bin_bpm) & (h <= edges[k + 1] + bin_bpm)]
        return float(np.median(near))
    raise ValueError(f"unknown HR aggregate {how!r}; known: {AGGREGATES}")
