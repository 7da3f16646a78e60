"""Frequency grids and argument checks shared by the numpy and torch faces (no torch import)."""

from __future__ import annotations

import functools
import math

import numpy as np

MIN_T = 8
WINDOWS = ("hann", "none")
# Upper bounds on what an argument can make the core allocate (its DFT basis holds 2 K T values):
# at most MAX_BINS band frequencies K (0.1 bpm over 0-100 Hz is 60,000), n_fft <= MAX_N_FFT and
# K * T <= MAX_BASIS (a 1 GiB basis in float64; 0.1 bpm over 0.75-3 Hz fits a 13-hour signal).
MAX_BINS = 65_536
MAX_N_FFT = 1 << 20
MAX_BASIS = 1 << 26


def _check_basis(T: int, count: int) -> None:
    if count * T > MAX_BASIS:
        raise ValueError(f"a grid of {count} frequencies for T={T} samples needs a DFT basis of "
                         f"{count * T} entries, above the limit MAX_BASIS={MAX_BASIS}: use a coarser "
                         "step_hz / smaller n_fft, or shorter signals")


def _check_band(fs: float, band) -> tuple[float, float]:
    if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
        raise ValueError(f"fs must be a finite positive number, got {fs!r}")
    try:
        lo, hi = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be a pair (lo_hz, hi_hz), got {band!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"band must be finite, got {band!r}")
    if lo < 0 or lo >= hi:
        raise ValueError(f"empty band: need 0 <= lo < hi, got band=({lo}, {hi})")
    if lo > fs / 2:
        raise ValueError(f"empty band: lo={lo} Hz is above the Nyquist frequency fs/2={fs / 2} Hz")
    return lo, hi


@functools.lru_cache(maxsize=256)
def grid_range(T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float) -> tuple[int, int]:
    """(first, count) of the grid: rfft bin index and K, or (0, K) for an explicit grid.

    Pure Python (no numpy) so torch.compile can trace it; raises ValueError for bad grids.
    """
    if T < MIN_T:
        raise ValueError(f"T={T} is too short: need at least {MIN_T} samples")
    if step_hz > 0:
        if n_fft:
            raise ValueError("give either n_fft (rfft grid) or step_hz (explicit grid), not both")
        if hi > fs / 2 + 1e-9:
            raise ValueError(f"band hi={hi} Hz is above the Nyquist frequency fs/2={fs / 2} Hz")
        count = int(math.floor((hi - lo) / step_hz + 1e-9)) + 1
        if count > MAX_BINS:
            raise ValueError(f"step_hz={step_hz:g} makes a grid of {count} frequencies over band "
                             f"({lo}, {hi}) Hz, above the limit MAX_BINS={MAX_BINS}: use a larger "
                             "step_hz")
        _check_basis(T, count)
        return 0, count
    n = n_fft or T
    if n < T:
        raise ValueError(f"n_fft={n} must be >= T={T} (zero padding only)")
    if n > MAX_N_FFT:
        raise ValueError(f"n_fft={n} is above the limit MAX_N_FFT={MAX_N_FFT}")
    k_lo = max(0, math.ceil(lo * n / fs - 1e-9))
    k_hi = min(n // 2, math.floor(hi * n / fs + 1e-9))
    if k_hi - k_lo + 1 > MAX_BINS:
        raise ValueError(f"n_fft={n} puts {k_hi - k_lo + 1} rfft bins in band ({lo}, {hi}) Hz, "
                         f"above the limit MAX_BINS={MAX_BINS}: use a smaller n_fft")
    if k_hi < k_lo:
        raise ValueError(
            f"empty band: no rfft bin (n_fft={n}, resolution fs/n={fs / n:.4g} Hz) lies inside "
            f"band ({lo}, {hi}) Hz; T={T} is too short for the band: pass a larger n_fft or step_hz")
    _check_basis(T, k_hi - k_lo + 1)
    return k_lo, k_hi - k_lo + 1


@functools.lru_cache(maxsize=256)
def _frequencies(T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float) -> np.ndarray:
    first, count = grid_range(T, fs, lo, hi, n_fft, step_hz)
    if step_hz > 0:
        freqs = lo + step_hz * np.arange(count, dtype=np.float64)
    else:
        freqs = np.arange(first, first + count, dtype=np.float64) * (fs / (n_fft or T))
    freqs.setflags(write=False)
    return freqs


def band_frequencies(T: int, fs: float, band=(0.5, 3.0), n_fft: int | None = None,
                     step_hz: float | None = None) -> np.ndarray:
    """Frequencies (Hz) of the band grid, float64 [K].

    ``step_hz=None``: the ``rfft`` bins k * fs / n_fft (n_fft defaults to T) inside ``band``
    (inclusive). ``step_hz=s``: the explicit grid lo, lo + s, ... <= hi.
    Raises ValueError for an empty band, T too short, n_fft < T, a grid above Nyquist, or a grid
    over the documented limits (``MAX_BINS`` frequencies, ``n_fft <= MAX_N_FFT``).
    """
    spec = grid_spec(T, fs, band, n_fft, step_hz)
    return _frequencies(T, *spec)


_SPEC_CACHE: dict = {}


def grid_spec(T: int, fs: float, band, n_fft, step_hz) -> tuple[float, float, float, int, float]:
    """Checked (fs, lo, hi, n_fft, step_hz) with 0 standing for "not given"; validates T too."""
    try:  # fast path for repeated calls (per-call overhead matters at small B)
        key = (T, fs, tuple(band), n_fft, step_hz, type(fs), type(T))
        return _SPEC_CACHE[key]
    except (KeyError, TypeError):
        key = None
    spec = _grid_spec(T, fs, band, n_fft, step_hz)
    if key is not None and len(_SPEC_CACHE) < 4096:
        _SPEC_CACHE[key] = spec
    return spec


def _grid_spec(T, fs, band, n_fft, step_hz):
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"T must be an int, got {type(T).__name__}")
    fs = float(fs) if isinstance(fs, (int, float, np.floating)) and not isinstance(fs, bool) else fs
    lo, hi = _check_band(fs, band)
    if n_fft is not None and (isinstance(n_fft, bool) or not isinstance(n_fft, (int, np.integer))
                              or n_fft < 1):
        raise ValueError(f"n_fft must be a positive int or None, got {n_fft!r}")
    if step_hz is not None and not (isinstance(step_hz, (int, float)) and math.isfinite(step_hz)
                                    and step_hz > 0):
        raise ValueError(f"step_hz must be a positive number or None, got {step_hz!r}")
    spec = (fs, lo, hi, int(n_fft or 0), float(step_hz or 0.0))
    grid_range(int(T), *spec)  # raises for an empty band / short T (cached)
    return spec


def check_window(window: str) -> str:
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    return window


def check_mode(mode: str) -> bool:
    """True for symmetric KL."""
    if mode not in ("asymmetric", "symmetric"):
        raise ValueError(f"mode must be 'asymmetric' or 'symmetric', got {mode!r}")
    return mode == "symmetric"


def check_reduction(reduction: str) -> str:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction
