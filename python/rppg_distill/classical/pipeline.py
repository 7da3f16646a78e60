"""The classical heart-rate pipeline for real skin: RGB trace -> pulse -> window HRs -> one HR.

Stages (numpy/scipy and the compiled spectral core, no torch):

1. dropped frames (black/NaN) interpolated (``fill_dropped_frames``);
2. the method (POS, CHROM, ...) on the RGB means; methods with an internal band-pass use the
   pipeline's band;
3. smoothness-priors detrending (Tarvainen 2002) with rPPG-Toolbox's ``lam = 100`` at 30 fps,
   scaled with ``fs^2`` so that its cutoff stays near 0.5 Hz at any frame rate
   (``signal.filters.detrend_lambda``);
4. an order-1 zero-phase Butterworth band-pass on 0.75-2.5 Hz (45-150 bpm), rPPG-Toolbox's
   post-processing for its unsupervised methods: a gentle slope keeps a pulse near the band edge,
   and 2.5 Hz keeps the second harmonic of a resting pulse (2.2-3 Hz) out of the search;
5. HR of a window = the spectral peak in the band (compiled core, 0.1 bpm grid, Hann window);
6. windows of ``window_s`` = 10 s every ``stride_s`` = 1 s (what a live monitor shows), and the
   recording's HR = the peak of the mean of the windows' normalized band spectra (Welch-style
   averaging: on real skin a 10 s window's peak is often noise, which moves from window to
   window, while the pulse adds up; ``aggregate="median"`` takes the median window HR instead).

``DEFAULT_METHOD`` is the method that measured best on real skin (bench/real_skin.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rppg_distill.classical.methods import METHODS, run_method
from rppg_distill.classical.traces import fill_dropped_frames
from rppg_distill.signal._checks import check_band, check_fs
from rppg_distill.signal.filters import bandpass, detrend, detrend_lambda
from rppg_distill.signal.hr import AGGREGATES, aggregate_hr, hr_fft
from rppg_distill.signal.windows import window_bounds

DEFAULT_METHOD = "chrom"
_BANDED = ("chrom", "pbv", "ica")
RECORDING_AGGREGATES = ("spectrum",) + AGGREGATES  # methods with their own band-pass: give them the pipeline's band


@dataclasses.dataclass(frozen=True)
class ClassicalPipeline:
    """Settings of the classical pipeline (see the module docstring); all of them are reported.

    method: one of ``classical.METHODS``.
    band: (lo, hi) Hz of the band-pass and of the HR search.
    filter_order: Butterworth order of the band-pass (None: none).
    detrend_lam_at_30: smoothness-priors lambda at 30 fps (None: no detrending).
    window_s, stride_s: HR windows (seconds) and their spacing.
    aggregate: how window estimates make the recording's HR: "spectrum" (the peak of the mean
        of the windows' normalized band spectra, Welch's averaging), or "median" / "mode" of the
        window HRs (``signal.hr.aggregate_hr``).
    resolution_bpm: grid step of the spectral peak search.
    """

    method: str = DEFAULT_METHOD
    band: tuple[float, float] = (0.75, 2.5)
    filter_order: int | None = 1
    detrend_lam_at_30: float | None = 100.0
    window_s: float = 10.0
    stride_s: float = 1.0
    aggregate: str = "spectrum"
    resolution_bpm: float = 0.1

    def __post_init__(self):
        name = str(self.method).lower()
        if name not in METHODS:
            raise ValueError(f"unknown classical method {self.method!r}; known: {sorted(METHODS)}")
        object.__setattr__(self, "method", name)
        object.__setattr__(self, "band", check_band(self.band))
        if self.filter_order is not None and (int(self.filter_order) != self.filter_order
                                              or self.filter_order < 1):
            raise ValueError(f"filter_order must be a positive integer or None, got {self.filter_order}")
        if self.detrend_lam_at_30 is not None and not self.detrend_lam_at_30 > 0:
            raise ValueError(f"detrend_lam_at_30 must be > 0 or None, got {self.detrend_lam_at_30}")
        if not (self.window_s > 0 and self.stride_s > 0):
            raise ValueError(f"window_s and stride_s must be > 0, got {self.window_s}, {self.stride_s}")
        if self.aggregate not in RECORDING_AGGREGATES:
            raise ValueError(f"aggregate must be one of {RECORDING_AGGREGATES}, "
                             f"got {self.aggregate!r}")
        if not self.resolution_bpm > 0:
            raise ValueError(f"resolution_bpm must be > 0, got {self.resolution_bpm}")

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["band"] = list(self.band)
        return d

    # ------------------------------------------------------------------ stages
    def pulse(self, rgb, fs) -> np.ndarray:
        """Pulse float64 [T] of an RGB-mean trace [T, 3] (stages 1-4).

        Raises:
            ValueError: bad trace (shape, no valid frame), bad fs, band above Nyquist, or a trace
                too short for the method or the band-pass.
        """
        fs = check_fs(fs)
        check_band(self.band, fs)
        x = fill_dropped_frames(rgb)
        kw = {"band": self.band} if self.method in _BANDED else {}
        p = run_method(self.method, x, fs, **kw)
        if self.detrend_lam_at_30 is not None:
            p = detrend(p, detrend_lambda(fs, self.detrend_lam_at_30))
        if self.filter_order is not None:
            p = bandpass(p, fs, self.band[0], self.band[1], order=int(self.filter_order))
        return p

    def peak_hr(self, pulse, fs):
        """HR (bpm) = the spectral peak of ``pulse`` [T] (float) or [B, T] (array) in the band."""
        return hr_fft(np.asarray(pulse, dtype=np.float64), fs, self.band, self.resolution_bpm,
                      window="hann")

    def window_hr(self, rgb, fs) -> float:
        """HR (bpm) of one window of RGB means [T, 3]."""
        return self.peak_hr(self.pulse(rgb, fs), fs)

    def window_pulses(self, rgb, fs) -> tuple[np.ndarray, np.ndarray]:
        """Pulses of the recording's windows: (end times in s [W], pulses [W, L]).

        Each window is processed on its own (the runtime's view of the last ``window_s``
        seconds); a recording shorter than one window gives one window of all of it.
        """
        fs = check_fs(fs)
        x = fill_dropped_frames(rgb)
        bounds = window_bounds(len(x), fs, self.window_s, self.stride_s, short="whole")
        pulses = np.stack([self.pulse(x[a:b], fs) for a, b in bounds])
        return np.array([b / fs for _, b in bounds]), pulses

    def track(self, rgb, fs) -> tuple[np.ndarray, np.ndarray]:
        """Window HRs of a recording: (end time of each window in s [W], HR in bpm [W])."""
        t, pulses = self.window_pulses(rgb, fs)
        return t, np.atleast_1d(self.peak_hr(pulses, fs))

    def spectrum_hr(self, pulses, fs) -> float:
        """HR (bpm) at the peak of the mean normalized band spectrum of ``pulses`` [W, L]: each
        window has one vote spread over the band, so noise peaks that move from window to window
        average out while the pulse, present in most windows, adds up (Welch's averaging)."""
        from rppg_distill.spectral import band_frequencies, band_psd

        x = np.ascontiguousarray(np.atleast_2d(np.asarray(pulses, dtype=np.float64)))
        step = self.resolution_bpm / 60.0
        p = band_psd(x, check_fs(fs), self.band, step_hz=step, window="hann", normalize=True)
        f = band_frequencies(x.shape[1], fs, self.band, step_hz=step)
        return float(60.0 * f[int(np.argmax(np.asarray(p).mean(axis=0)))])

    def hr(self, rgb, fs) -> float:
        """The recording's HR (bpm) from its windows, by ``aggregate``."""
        return self.aggregate_windows(self.window_pulses(rgb, fs)[1], fs)

    def aggregate_windows(self, pulses, fs) -> float:
        """The recording's HR from its window pulses [W, L] (see ``aggregate``)."""
        if self.aggregate == "spectrum":
            return self.spectrum_hr(pulses, fs)
        return aggregate_hr(np.atleast_1d(self.peak_hr(pulses, fs)), self.aggregate)
