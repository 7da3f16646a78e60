"""The streaming heart-rate monitor (numpy + OpenCV + a runner; never imports torch).

    mon = Monitor("student.onnx")            # or .plan, or any runner object
    for frame, t in frames:                  # uint8 [H, W, 3] RGB, timestamp in seconds
        r = mon.push(frame, t)
        if r.valid: print(r.hr_bpm, r.confident)

Stages per frame: face (detect every N frames, smoothed box) -> crop (contract size) ->
resample to the contract fs using the frame timestamps (linear interpolation; variable fps is
resampled, never assumed) -> ring buffer of T frames -> every ``hop`` samples the model runs on the
last T frames -> overlap-add stitching (Hann weights, each window z-scored) -> HR from the spectral
peak of the last ``hr_window_s`` seconds (fine grid, interpolated) -> SNR and peak concentration ->
``confident`` when both pass their thresholds.

Throughput knobs (``MonitorConfig``; see bench/RUNTIME.md for what each buys):
- ``mode``: ``"live"`` (camera: windows overlap by half, HR every half window) or ``"offline"``
  (a file: windows do not overlap, so the model sees each frame once; optionally several windows
  per model call with ``batch_windows``; ``flush()`` runs a last window over the tail).
- ``hop``: samples between windows (overrides the mode's default).
- ``detect_every`` / ``detect_max_side``: the face detector runs every N frames on a copy of the
  frame downscaled to this longest side; the smoothed box is held in between.
- ``hr_update_s``: HR and quality are re-estimated at most this often (and only after a window).
- ``warmup``: run the model and the HR code once at construction, so the first window does not
  pay for allocations and imports.

A frame without a (recent) face ends the current segment: the result is ``valid=False`` with
status ``no_face`` and ``hr_bpm`` NaN, and HR starts again after the face comes back and the
buffer refills. A timestamp gap larger than ``max_gap_s`` also restarts the segment.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np

from .hr import peak_frequency, quality
from .preprocess import normalize_window


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
    detect_every: int = 15          # run the face detector every N frames (tracker in between)
    detect_max_side: int | None = 160  # haar: detect on a copy with this longest side (None: 320)
    max_hold: int | None = None     # frames a box stays valid without a fresh detection
                                    # (default 2 * detect_every)
    warmup: bool = True             # one model call + HR call at construction
    max_gap_s: float = 0.5          # larger timestamp gaps restart the segment
    min_snr_db: float = 0.0
    min_peak_concentration: float = 0.15
    min_frame_side: int = 32


@dataclasses.dataclass
class Result:
    """One result per pushed frame.

    valid: an HR is available for this instant (face present, enough signal).
    updated: the HR was re-estimated at this frame (a model window just finished).
    status: "ok", "warming_up", "no_face", "gap", "duplicate_timestamp".
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


class StageTimer:
    def __init__(self):
        self.total: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.total[stage] = self.total.get(stage, 0.0) + seconds
        self.count[stage] = self.count.get(stage, 0) + 1

    def summary(self) -> dict:
        return {k: {"total_s": v, "calls": self.count[k], "mean_ms": 1e3 * v / max(self.count[k], 1)}
                for k, v in self.total.items()}


def _open_model(model):
    if isinstance(model, (str, Path)):
        from rppg_distill.deploy import load_runner

        return load_runner(model)
    if not hasattr(model, "run") or not hasattr(model, "contract"):
        raise TypeError("Monitor(model): pass a model path (.onnx/.plan) or a runner with "
                        "`.contract` and `.run(x)`")
    return model


class Monitor:
    def __init__(self, model, config: MonitorConfig | None = None, face_backend=None):
        self.runner = _open_model(model)
        self.contract = c = self.runner.contract
        self.cfg = cfg = config or MonitorConfig()
        if cfg.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {cfg.mode!r}")
        self.fs = float(c.fs)
        self.T = int(c.frames)
        self.offline = cfg.mode == "offline"
        self.hop = int(cfg.hop or (self.T if self.offline else max(1, self.T // 2)))
        if not 1 <= self.hop <= self.T:
            raise ValueError(f"hop must be in [1, T={self.T}], got {self.hop}")
        fixed = getattr(self.runner, "batch", None)
        self.batch_windows = max(1, int(cfg.batch_windows)) if self.offline else 1
        if fixed and fixed > 1:
            self.batch_windows = min(self.batch_windows, int(fixed))
        self.hr_n = int(round(cfg.hr_window_s * self.fs))
        self.min_hr_n = int(round((cfg.min_hr_s or self.T / self.fs) * self.fs))
        self.hr_every_n = max(1, int(round(cfg.hr_update_s * self.fs)))
        from rppg_distill.data.face import FaceTracker, TrackerSettings, get_face_backend

        if face_backend is None:
            kw = dict(cfg.face_kwargs)
            if cfg.face_backend == "haar" and cfg.detect_max_side:
                kw.setdefault("max_side", int(cfg.detect_max_side))
            face_backend = get_face_backend(cfg.face_backend, **kw)
        max_hold = cfg.max_hold if cfg.max_hold is not None else 2 * int(cfg.detect_every)
        self.tracker = FaceTracker(face_backend, TrackerSettings(
            detect_every=cfg.detect_every, coef=c.face_box_coef, size=int(c.height),
            max_hold=max_hold))
        w = np.hanning(self.T + 2)[1:-1]
        self._w = (w / w.max()).astype(np.float64)
        self.timer = StageTimer()
        self.frames_in = 0
        self._frame_shape = None
        self._last_t = None
        self._reset_segment()
        if cfg.warmup:
            self._warmup()

    def _warmup(self) -> None:
        """First calls allocate (onnxruntime arenas, the core's DFT basis) and import (the
        quality measures pull in scipy): pay for them here, not in the first window."""
        x = np.zeros(self.contract.input_shape(self._model_batch(1)), np.float32)
        self.runner.run(x)
        n = max(self.min_hr_n, min(self.hr_n, 2 * self.T))
        sig = np.sin(2 * np.pi * 1.2 * np.arange(n) / self.fs).astype(np.float32)
        hr = 60.0 * float(peak_frequency(sig, self.fs, self.contract.band))
        quality(sig, self.fs, hr, self.contract.band)

    def _model_batch(self, k: int) -> int:
        fixed = getattr(self.runner, "batch", None)
        return int(fixed) if fixed else k

    # ------------------------------------------------------------------ segment state
    def _reset_segment(self) -> None:
        self._prev = None            # (t, crop float32) of the last face frame
        self._seg_t0 = None          # time of resampled sample 0
        self._n = 0                  # resampled samples in this segment
        self._ring = np.zeros((self.T, int(self.contract.height), int(self.contract.width), 3),
                              np.float32)
        self._since = 0              # samples since the last model window
        self._acc = np.zeros(0)      # overlap-add accumulator from absolute index _base
        self._wsum = np.zeros(0)
        self._base = 0
        self._final = 0              # samples [0, _final) already emitted
        self._hr = (math.nan, math.nan, math.nan, False)
        self._have_hr = False
        self._pending = []           # offline batching: (start, model input [C, T, H, W])
        self._covered = 0            # end of the last window queued
        self._last_hr_end = None     # sample index of the last HR estimate

    def reset(self) -> None:
        self.tracker.reset()
        self._reset_segment()
        self._last_t = None

    # ------------------------------------------------------------------ helpers
    def _check_frame(self, frame) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
        if min(frame.shape[:2]) < self.cfg.min_frame_side:
            raise ValueError(f"frame {frame.shape[1]}x{frame.shape[0]} is too small for face "
                             f"detection (min side {self.cfg.min_frame_side})")
        if self._frame_shape is None:
            self._frame_shape = frame.shape
        elif frame.shape != self._frame_shape:
            raise ValueError(f"frame size changed mid-stream from {self._frame_shape[1]}x"
                             f"{self._frame_shape[0]} to {frame.shape[1]}x{frame.shape[0]}")
        return frame

    def _result(self, t, status, face, bvp_t=None, bvp=None, updated=False) -> Result:
        hr, snr, conc, conf = self._hr if self._have_hr else (math.nan,) * 3 + (False,)
        valid = self._have_hr and face
        return Result(t=float(t), valid=valid, hr_bpm=hr if valid else math.nan,
                      snr_db=snr if valid else math.nan,
                      peak_concentration=conc if valid else math.nan,
                      confident=bool(conf and valid), face=face,
                      status=status if not (status == "ok" and not valid) else "warming_up",
                      updated=updated,
                      bvp_t=bvp_t if bvp_t is not None else np.zeros(0),
                      bvp=bvp if bvp is not None else np.zeros(0, np.float32))

    def _emit_final(self, upto: int):
        upto = min(upto, self._base + len(self._acc))
        if upto <= self._final:
            return None, None
        i0, i1 = self._final - self._base, upto - self._base
        vals = (self._acc[i0:i1] / np.maximum(self._wsum[i0:i1], 1e-12)).astype(np.float32)
        ts = self._seg_t0 + np.arange(self._final, upto) / self.fs
        self._final = upto
        return ts, vals

    def _run_window(self, start: int | None = None, only_from: int | None = None) -> bool:
        """Queue the window of the last T samples (or the one starting at ``start``); run the
        model when ``batch_windows`` are queued. Returns True when the model ran. ``only_from``:
        the window adds to the stitched signal from this sample on (the tail window)."""
        if start is None:
            start = self._n - self.T
        self._covered = start + self.T
        t0 = time.perf_counter()
        idx = (start + np.arange(self.T)) % self.T
        x = normalize_window(self._ring[idx], self.contract.normalization)
        self._pending.append((start, x, only_from))
        self.timer.add("normalize", time.perf_counter() - t0)
        if len(self._pending) < self.batch_windows:
            return False
        self._run_pending()
        return True

    def _run_pending(self) -> None:
        if not self._pending:
            return
        t0 = time.perf_counter()
        starts = [p[0] for p in self._pending]
        froms = [p[2] for p in self._pending]
        x = np.stack([p[1] for p in self._pending])
        self._pending = []
        k = len(starts)
        b = self._model_batch(k)
        if b > k:  # fixed-batch model: pad with copies
            x = np.concatenate([x, np.repeat(x[-1:], b - k, axis=0)])
        y = np.asarray(self.runner.run(x), np.float64)[:k]
        self.timer.add("model", time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start, yi, fr in zip(starts, y, froms):
            self._stitch(start, yi, fr)
        self._estimate_hr(starts[-1] + self.T, force=False)
        self._trim(starts[-1] + self.T)
        self.timer.add("hr", time.perf_counter() - t0)

    def _stitch(self, start: int, y: np.ndarray, only_from: int | None = None) -> None:
        if self.contract.output == "diff_bvp":
            y = np.cumsum(y)
            k = np.arange(len(y))
            y = y - np.polyval(np.polyfit(k, y, 1), k)
        sd = y.std()
        y = (y - y.mean()) / sd if sd > 0 else np.zeros_like(y)
        end = start + self.T
        need = end - self._base
        if need > len(self._acc):
            grow = need - len(self._acc)
            self._acc = np.concatenate([self._acc, np.zeros(grow)])
            self._wsum = np.concatenate([self._wsum, np.zeros(grow)])
        s = start - self._base
        w = self._w
        if only_from is not None and only_from > start:
            w = w.copy()
            w[:only_from - start] = 0.0
        self._acc[s:s + self.T] += y * w
        self._wsum[s:s + self.T] += w

    def _estimate_hr(self, end: int, force: bool) -> None:
        """HR on the last hr_window_s seconds of stitched signal ending at sample ``end``, at
        most every ``hr_update_s`` (unless ``force``)."""
        if (not force and self._last_hr_end is not None
                and end - self._last_hr_end < self.hr_every_n):
            return
        need = end - self._base
        avail = end - max(self._base, end - self.hr_n)
        if not (end >= self.min_hr_n and avail >= self.min_hr_n):
            return
        lo = max(end - min(self.hr_n, end) - self._base, 0)
        sig = self._acc[lo:need] / np.maximum(self._wsum[lo:need], 1e-12)
        f = float(peak_frequency(sig.astype(np.float32), self.fs, self.contract.band))
        hr = 60.0 * f
        try:
            snr, conc = quality(sig, self.fs, hr, self.contract.band)
        except ValueError:
            snr, conc = math.nan, math.nan
        conf = (snr >= self.cfg.min_snr_db) and (conc >= self.cfg.min_peak_concentration)
        self._hr = (hr, snr, conc, bool(conf))
        self._have_hr = True
        self._last_hr_end = end

    def _trim(self, end: int) -> None:
        """Keep only what the HR window and the next windows need."""
        keep_from = end - max(self.hr_n, self.T) - self.T
        drop = min(keep_from - self._base, self._final - self._base)
        if drop > 0:
            self._acc = self._acc[drop:]
            self._wsum = self._wsum[drop:]
            self._base += drop

    # ------------------------------------------------------------------ public
    def push(self, frame, timestamp: float) -> Result:
        """Feed one RGB frame with its capture time (seconds, increasing)."""
        frame = self._check_frame(frame)
        t = float(timestamp)
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite, got {timestamp}")
        self.frames_in += 1
        if self._last_t is not None and t <= self._last_t:
            return self._result(t, "duplicate_timestamp", self._prev is not None)
        gap = self._last_t is not None and (t - self._last_t) > self.cfg.max_gap_s
        self._last_t = t
        t0 = time.perf_counter()
        box, ok = self.tracker.step(frame)
        self.timer.add("face", time.perf_counter() - t0)
        if box is None or not ok:
            ts, vals = self._finish_segment()
            self._reset_segment()
            return self._result(t, "no_face", False, ts, vals)
        t0 = time.perf_counter()
        crop = self.tracker.crop(frame, box).astype(np.float32)
        self.timer.add("crop", time.perf_counter() - t0)
        status = "ok"
        out_t = out_v = None
        if gap:
            out_t, out_v = self._finish_segment()
            self._reset_segment()
            status = "gap"
        t0 = time.perf_counter()
        updated = False
        if self._prev is None:
            self._seg_t0 = t
            self._push_sample(crop)
        else:
            tp, cp = self._prev
            while True:
                tn = self._seg_t0 + self._n / self.fs
                if tn > t + 1e-9:
                    break
                a = (tn - tp) / (t - tp)
                self._push_sample(cp + a * (crop - cp))
                if self._n >= self.T and self._since >= self.hop:
                    self.timer.add("resample", time.perf_counter() - t0)
                    self._since = 0
                    updated = self._run_window() or updated
                    t0 = time.perf_counter()
        self._prev = (t, crop)
        self.timer.add("resample", time.perf_counter() - t0)
        if updated:
            # everything before the next window's start is final
            nt, nv = self._emit_final(self._n - self.T + self.hop)
            if nt is not None:
                out_t = nt if out_t is None else np.concatenate([out_t, nt])
                out_v = nv if out_v is None else np.concatenate([out_v, nv])
        return self._result(t, status, True, out_t, out_v, updated)

    def _push_sample(self, crop: np.ndarray) -> None:
        self._ring[self._n % self.T] = crop
        self._n += 1
        self._since += 1
        if self._n == self.T:
            self._since = self.hop  # first full window runs immediately

    def _finish_segment(self):
        """End of a segment: run queued windows and one last window over samples no window has
        covered yet (so the tail of a file is not dropped), then emit everything stitched."""
        if self._n >= self.T and self._covered < self._n:
            # the tail window only fills the samples that no window covered
            self._run_window(self._n - self.T, only_from=self._covered)
        self._run_pending()
        if self._n >= self.T and self._last_hr_end != self._covered and self._acc.size:
            self._estimate_hr(self._covered, force=True)
        return self._emit_final(self._base + len(self._acc))

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """End of the stream: run what is queued (and a last window over the uncovered tail),
        then emit the stitched samples not yet finalized. ``last_hr()`` has the final HR."""
        ts, vals = self._finish_segment()
        if ts is None:
            return np.zeros(0), np.zeros(0, np.float32)
        return ts, vals

    def last_hr(self) -> tuple[float, float, float, bool]:
        """(hr_bpm, snr_db, peak_concentration, confident) of the latest estimate (NaNs if none)."""
        return self._hr if self._have_hr else (math.nan, math.nan, math.nan, False)

    def stats(self) -> dict:
        return {"frames": self.frames_in, "stages": self.timer.summary(),
                "runner": self.runner.describe() if hasattr(self.runner, "describe") else {}}
