"""Codec key-frame rhythm: find a video's regular key-frame pattern and flag HR windows whose
spectral peak it explains (numpy + OpenCV; no torch).

An encoder that puts a key frame every N frames (a GOP of N) changes the picture's quality, and so
its brightness, with period N / fps: mp4v at GOP 12 and 30 fps has a 2.5 Hz rhythm, inside the
heart-rate band, and its beat with a 1.6 Hz pulse sits at 0.9 Hz (a false 54 bpm). The rhythm
is a property of the file, not of the face, so it is read from the container: OpenCV's
``CAP_PROP_FRAME_TYPE`` gives each decoded frame's picture type ('I' for a key frame).

A window is flagged when its peak ``f`` lies within ``tol`` of the rhythm ``h = m / period``
(``m`` = 1..``HARMONICS``: the brightness pattern is not a sinusoid) or when it can be the beat of
such an ``h`` with another component of the same spectrum: a partner ``p`` in ``{h - f, f - h,
f + h}`` inside the band that carries at least ``PARTNER_RATIO`` of the peak's power. The beat
test is symmetric (a 0.9 Hz pulse with a 1.6 Hz partner is flagged as well): the spectrum cannot
tell which of the two is the pulse, so neither is reported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HARMONICS = 3          # rhythm harmonics checked (m / period, m = 1..3)
PARTNER_RATIO = 0.3    # partner power / peak power that makes a peak a possible beat
PROBE_SECONDS = 12.0   # key frames are looked for in the first seconds of a file
MIN_KEY_FRAMES = 3


def key_frame_times(path: str | Path, fps: float | None = None,
                    max_seconds: float = PROBE_SECONDS) -> np.ndarray | None:
    """Times (s) of the key frames in the first ``max_seconds`` of a video file, float64 [K], or
    None where OpenCV exposes no picture types for it. ``fps``: times are index / fps (as with
    ``iter_video(fps=...)``); otherwise the container's timestamps (index / header rate as a
    fallback). Frames are grabbed, not converted (about a tenth of decoding cost)."""
    import cv2

    from rppg_distill.data.video_io import video_fps

    prop = getattr(cv2, "CAP_PROP_FRAME_TYPE", None)
    if prop is None:
        return None
    rate = float(fps) if fps else video_fps(path)
    cap = cv2.VideoCapture(str(path))
    times, last, n = [], -1.0, 0
    try:
        while n < max_seconds * rate and cap.grab():
            kind = int(cap.get(prop))
            if kind == 0:
                return None  # backend without picture types
            t = n / rate if fps else cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not fps and (not np.isfinite(t) or t <= last):
                t = n / rate
            last = t
            if chr(kind) == "I":
                times.append(t)
            n += 1
    finally:
        cap.release()
    return np.asarray(times, np.float64)


def key_frame_period(times: np.ndarray | None, frame_interval_s: float) -> float | None:
    """Period (s) of a regular key-frame pattern, or None: fewer than ``MIN_KEY_FRAMES`` key
    frames, irregular spacing (a scene-cut encoder), or every frame a key frame (intra-only
    codecs such as MJPG and FFV1 have no rhythm)."""
    if times is None or len(times) < MIN_KEY_FRAMES:
        return None
    d = np.diff(times)
    period = float(np.median(d))
    if period <= 1.5 * frame_interval_s:
        return None
    if np.abs(d - period).max() > max(0.1 * period, 1.01 * frame_interval_s):
        return None
    return period


def probe_key_frame_period(path: str | Path, fps: float | None = None) -> float | None:
    """Key-frame period (s) of a video file's regular key-frame pattern, or None."""
    from rppg_distill.data.video_io import video_fps

    rate = float(fps) if fps else video_fps(path)
    return key_frame_period(key_frame_times(path, fps), 1.0 / rate)


def rhythm_frequencies(period_s: float) -> np.ndarray:
    """The rhythm's harmonics m / period (m = 1..HARMONICS), Hz, float64 [<= HARMONICS]."""
    return np.arange(1, HARMONICS + 1) / float(period_s)


def explain_peak(sig: np.ndarray, fs: float, band, f_peak: float, period_s: float,
                 tol_hz: float | None = None) -> str | None:
    """"rhythm" or "beat" when the key-frame rhythm explains the peak ``f_peak`` (Hz) of ``sig``
    [T] (the HR window), else None. ``tol_hz``: default one DFT bin of the window (fs / T)."""
    from rppg_distill.spectral import band_frequencies, band_psd

    lo, hi = float(band[0]), float(band[1])
    tol = float(tol_hz) if tol_hz else fs / len(sig)
    hs = rhythm_frequencies(period_s)
    if np.any(np.abs(hs - f_peak) <= tol):
        return "rhythm"
    step = min(tol / 4, 0.01)
    x = np.ascontiguousarray(sig, np.float64)
    P = band_psd(x, fs, (lo, hi), step_hz=step)
    freqs = band_frequencies(len(x), fs, (lo, hi), step_hz=step)

    def power_near(f: float) -> float:
        near = np.abs(freqs - f) <= tol
        return float(P[near].max()) if near.any() else 0.0

    peak = power_near(f_peak)
    if peak <= 0:
        return None
    for h in hs:
        for p in (h - f_peak, f_peak - h, f_peak + h):
            if lo <= p <= hi and abs(p - f_peak) > 2 * tol and power_near(p) >= PARTNER_RATIO * peak:
                return "beat"
    return None
