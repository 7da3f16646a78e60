"""One plan per option set: the checked grid, its frequencies and the core handle.

A :class:`Plan` is made once per (T, fs, band, grid, window, periodic, demean, eps) and kept in one
bounded cache; the numpy face, the CPU torch face and the CUDA face all take it. No torch import.
"""

from __future__ import annotations

import math

import numpy as np

from rppg_distill import load_core
from rppg_distill.spectral._grid import check_window, grid_frequencies, grid_range, grid_spec

MAX_PLANS = 256  # option sets kept; the oldest is dropped first

_PLANS: dict = {}


class Plan:
    """Checked options of one spectral computation.

    Attributes:
        T: samples per row. fs, lo, hi: Hz. n_fft, step_hz: the grid (0 = not given).
        window, periodic, demean, eps: the remaining options.
        first, K: first rfft bin (0 for an explicit grid) and number of band bins.
        freqs: read-only float64 [K] (Hz). core: the ``rppg_distill._core.Plan`` (CPU kernels,
        cos/sin bases kept per dtype).
    """

    __slots__ = (
        "K",
        "T",
        "core",
        "demean",
        "eps",
        "first",
        "freqs",
        "fs",
        "hi",
        "lo",
        "n_fft",
        "periodic",
        "step_hz",
        "window",
    )

    def __init__(self, T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float, window: str,
                 periodic: bool, demean: bool, eps: float):
        self.T, self.fs, self.lo, self.hi, self.n_fft, self.step_hz = T, fs, lo, hi, n_fft, step_hz
        self.window, self.periodic, self.demean, self.eps = window, periodic, demean, eps
        self.first, self.K = grid_range(T, fs, lo, hi, n_fft, step_hz)
        self.freqs = grid_frequencies(T, fs, lo, hi, n_fft, step_hz)
        self.core = load_core().Plan(T, self.freqs, fs, window, periodic, demean, eps)

    @property
    def args(self) -> tuple:
        """(fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps): the custom ops' option arguments."""
        return (self.fs, self.lo, self.hi, self.n_fft, self.step_hz, self.window, self.periodic, self.demean,
                self.eps)

    def __repr__(self) -> str:
        return (f"Plan(T={self.T}, fs={self.fs}, band=({self.lo}, {self.hi}), n_fft={self.n_fft}, "
                f"step_hz={self.step_hz}, window={self.window!r}, periodic={self.periodic}, "
                f"demean={self.demean}, eps={self.eps}, K={self.K})")


def _remember(key, plan: Plan) -> Plan:
    if len(_PLANS) >= MAX_PLANS:
        del _PLANS[next(iter(_PLANS))]
    _PLANS[key] = plan
    return plan


def plan_of(T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float, window: str, periodic: bool,
            demean: bool, eps: float) -> Plan:
    """The plan of already-checked options (the custom ops' arguments, see Plan.args)."""
    key = ("plan", T, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _remember(key, Plan(T, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps))
    return plan


def get_plan(T: int, fs, band=(0.5, 3.0), n_fft=None, step_hz=None, window="hann", periodic=True, demean=True,
             eps=1e-8) -> Plan:
    """The plan of user options; raises ValueError/TypeError naming a bad option.

    Looked up first by the options as given (a hashable band), then by their checked form, so
    equal option sets share one plan.
    """
    key = (T, fs, band, n_fft, step_hz, window, periodic, demean, eps)
    try:
        return _PLANS[key]
    except (KeyError, TypeError):  # not seen, or an unhashable option (a list band)
        pass
    spec = grid_spec(T, fs, band, n_fft, step_hz)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    plan = plan_of(int(T), *spec, check_window(window), bool(periodic), bool(demean), float(eps))
    try:
        return _remember(key, plan)
    except TypeError:
        return plan


def band_frequencies(T: int, fs: float, band=(0.5, 3.0), n_fft: int | None = None,
                     step_hz: float | None = None) -> np.ndarray:
    """Frequencies (Hz) of the band grid, float64 [K] (read-only).

    ``step_hz=None``: the ``rfft`` bins k * fs / n_fft (n_fft defaults to T) inside ``band``
    (inclusive). ``step_hz=s``: the explicit grid lo, lo + s, ... <= hi.
    Raises ValueError for an empty band, T too short, n_fft < T, a grid above Nyquist, or a grid
    over the documented limits (``MAX_BINS`` frequencies, ``n_fft <= MAX_N_FFT``).
    """
    return get_plan(T, fs, band, n_fft, step_hz).freqs
