"""Pulse-signal processing (numpy/scipy only, no torch): filtering, HR estimation, quality.

HR from the spectral peak goes through the compiled spectral core
(``rppg_distill.spectral.peak_frequency``); everything else is numpy/scipy.
"""

from __future__ import annotations

from rppg_distill.signal.filters import bandpass, demean, detrend
from rppg_distill.signal.hr import hr_fft, hr_peaks
from rppg_distill.signal.protocols import PROTOCOLS, HRProtocol, get_protocol, hr_protocol, hr_windows, to_pulse
from rppg_distill.signal.quality import peak_concentration, snr_db
from rppg_distill.signal.windows import resample_uniform, sliding_windows, window_bounds

__all__ = [
                                           "PROTOCOLS",
                                           "HRProtocol",
                                           "bandpass",
                                           "demean",
                                           "detrend",
                                           "get_protocol",
                                           "hr_fft",
                                           "hr_peaks",
                                           "hr_protocol",
                                           "hr_windows",
                                           "peak_concentration",
                                           "resample_uniform",
                                           "sliding_windows",
                                           "snr_db",
                                           "to_pulse",
                                           "window_bounds",
]
