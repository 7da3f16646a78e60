"""The two papers' HR evaluation protocols as named presets.

- ``"crossview"`` (paper 1, cross-view PSD distillation): HR is the FFT peak of the prediction in
  0.5-3.0 Hz. The paper gives only the band; we use the mean-removed, Hann-windowed spectrum (the
  PSD of its loss) on a 0.1 bpm grid, no pre-filter.
- ``"rpm_distill"`` (paper 2, docs/METHODS.md §3.5): Butterworth order 6, 0.75-3.0 Hz, filtfilt; then a
  periodogram (boxcar window) with 0.1 bpm resolution; argmax in the band.

Both evaluate the label with the same protocol as the prediction. Model outputs and labels in the
``diff_normalized`` label space are first turned into pulses by :func:`to_pulse` (both trainers'
evaluation does this before any protocol).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from rppg_distill.signal.filters import detrend as _detrend
from rppg_distill.signal.hr import hr_fft
from rppg_distill.signal.windows import window_bounds


@dataclass(frozen=True)
class HRProtocol:
    """How HR is read from a pulse signal (see the module docstring)."""

    name: str
    band: tuple[float, float]
    resolution_bpm: float = 0.1
    window: str | None = "hann"
    filter_order: int | None = None
    detrend: bool = False

    def hr(self, bvp, fs):
        """HR in bpm of [T] (float) or [B, T] (array [B])."""
        return hr_fft(bvp, fs, self.band, self.resolution_bpm, window=self.window,
                      filter_order=self.filter_order, detrend=self.detrend)

    def with_(self, **changes) -> HRProtocol:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


PROTOCOLS: dict[str, HRProtocol] = {
    "crossview": HRProtocol("crossview", (0.5, 3.0), 0.1, window="hann", filter_order=None),
    "rpm_distill": HRProtocol("rpm_distill", (0.75, 3.0), 0.1, window=None, filter_order=6),
}


def to_pulse(x, label_transform: str, *, detrend_lambda: float = 100.0) -> np.ndarray:
    """Signals in the label space ``label_transform`` -> pulse-like signals to read HR from.

    With ``diff_normalized`` labels a model predicts the normalized frame *difference* of the
    pulse. Its spectrum is the pulse spectrum times f, so the 2nd/3rd harmonic often outweighs the
    fundamental and a spectral peak on it is not the heart rate (measured on the demo set: 169 bpm
    read for a 56 bpm pulse). As in rPPG-Toolbox, such signals are integrated (cumsum) and
    detrended (smoothness priors, ``detrend_lambda``); other label spaces pass through.

    Args:
        x: [T] or [B, T].
        label_transform: ``diff_normalized``, ``standardized`` or ``raw``.

    Returns:
        float64 array of the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    if label_transform == "diff_normalized":
        return _detrend(np.cumsum(x, axis=-1), detrend_lambda)
    if label_transform not in ("standardized", "raw"):
        raise ValueError(f"label_transform must be diff_normalized, standardized or raw, got {label_transform!r}")
    return x


def get_protocol(protocol: str | HRProtocol) -> HRProtocol:
    """Look a preset up by name (or pass an HRProtocol through)."""
    if isinstance(protocol, HRProtocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise ValueError(f"unknown HR protocol {protocol!r}; known: {sorted(PROTOCOLS)}") from None


def hr_protocol(bvp, fs, protocol: str | HRProtocol = "crossview"):
    """HR (bpm) of ``bvp`` [T] or [B, T] under a named protocol."""
    return get_protocol(protocol).hr(bvp, fs)


def hr_windows(bvp, fs, protocol: str | HRProtocol = "crossview", window_s: float | None = 20.0,
               stride_s: float | None = None, *, short: str = "whole") -> np.ndarray:
    """HR (bpm) of each HR window of a long signal [T] (see ``window_bounds``): array [W]."""
    proto = get_protocol(protocol)
    x = np.asarray(bvp, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"hr_windows expects a 1-D signal, got shape {x.shape}")
    bounds = window_bounds(x.shape[0], fs, window_s, stride_s, short=short)
    lengths = {b - a for a, b in bounds}
    if len(lengths) == 1:
        return np.atleast_1d(proto.hr(np.stack([x[a:b] for a, b in bounds]), fs))
    return np.array([proto.hr(x[a:b], fs) for a, b in bounds])
