"""Monitor settings and per-frame output: :class:`MonitorConfig`, :class:`Result`, ``MODES``.

Throughput knobs (``MonitorConfig``; see bench/RUNTIME.md for what each buys):
- ``mode``: ``"live"`` (camera: windows overlap by half, HR every half window) or ``"offline"``
  (a file: windows do not overlap, so the model sees each frame once; optionally several windows
  per model call with ``batch_windows``; ``flush()`` runs a last window over the tail).
- ``hop``: samples between windows (overrides the mode's default).
- ``detect_every`` / ``detect_max_side``: the face detector runs every N frames on a copy of the
  frame downscaled to this longest side (default: as far as a face of 10 % of the shorter side
  is still found); the smoothed box is held in between. Without a face it retries after 1, 2,
  4, ... frames (at most N).
- ``hr_update_s``: HR and quality are re-estimated at most this often (and only after a window).
- ``warmup``: run the model and the HR code once at construction, so the first window does not
  pay for allocations and imports.
"""

from __future__ import annotations

import dataclasses

import numpy as np

MODES = ("live", "offline")


@dataclasses.dataclass
class MonitorConfig:
    mode: str = "live"              # "live" (camera) or "offline" (a file: throughput first)
    hop: int | None = None          # samples between model windows (live: T // 2, offline: T)
    batch_windows: int = 1          # offline: windows per model call (dynamic-batch models)
    hr_window_s: float = 10.0       # seconds of stitched BVP used for each HR estimate
    min_hr_s: float | None = None   # first HR once this much signal exists (default T / fs)
    hr_update_s: float = 1.0        # re-estimate HR at most this often (seconds of signal)
    face_backend: str = "haar"
    face_kwargs: dict = dataclasses.field(default_factory=dict)
    detect_every: int | None = None  # face detector every N frames (tracker in between); None:
                                    # the model contract's policy (0 = first frame only), else 15
    detect_max_side: int | None = None  # haar: detect on a copy with this longest side (None:
                                        # as small as a face of 10 % of the shorter side allows)
    max_hold: int | None = None     # frames a box stays valid without a fresh detection
                                    # (default 2 * detect_every)
    warmup: bool = True             # one model call + HR call at construction
    max_gap_s: float = 0.5          # larger timestamp gaps restart the segment
    min_snr_db: float = 0.0
    min_peak_concentration: float = 0.15
    min_frame_side: int = 32
    key_frame_period_s: float | None = None  # the file's key-frame interval (codec_rhythm.
                                    # probe_key_frame_period): HR windows whose peak it explains
                                    # are invalid, status "codec_rhythm"

    def face_detection(self, contract) -> tuple[int, int]:
        """(detect_every, max_hold) for the face tracker: this config's ``detect_every``, else the
        contract's (0: detect once and keep the box), else 15."""
        every = self.detect_every
        if every is None:
            every = getattr(contract, "detect_every", None)
        every = 15 if every is None else int(every)
        if every == 0:
            return 10**9, 10**9
        return every, self.max_hold if self.max_hold is not None else 2 * every


@dataclasses.dataclass
class Result:
    """One result per pushed frame.

    valid: an HR is available for this instant (face present, enough signal).
    updated: the HR was re-estimated at this frame (a model window just finished).
    status: "ok", "warming_up", "no_face", "gap", "duplicate_timestamp", "no_signal" (the
        model's output has no pulse power: flat or NaN; never reported as an HR), "codec_rhythm"
        (the spectral peak is the video's key-frame rhythm or its beat with the pulse).
    bvp_t, bvp: stitched pulse samples finalized at this frame (resampled timeline, seconds).
    """

    t: float
    valid: bool
    hr_bpm: float
    snr_db: float
    peak_concentration: float
    confident: bool
    face: bool
    status: str
    updated: bool = False
    bvp_t: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    bvp: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float32))

    def row(self) -> dict:
        return {"t": round(self.t, 4), "valid": int(self.valid),
                "hr_bpm": round(self.hr_bpm, 2) if self.valid else "",
                "snr_db": round(self.snr_db, 2) if self.valid else "",
                "peak_concentration": round(self.peak_concentration, 4) if self.valid else "",
                "confident": int(self.confident), "face": int(self.face), "status": self.status}

