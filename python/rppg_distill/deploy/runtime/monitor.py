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


@dataclasses.dataclass
class MonitorConfig:
    hop: int | None = None          # samples between model windows (default T // 2)
    hr_window_s: float = 10.0       # seconds of stitched BVP used for each HR estimate
    min_hr_s: float | None = None   # first HR once this much signal exists (default T / fs)
    face_backend: str = "haar"
    face_kwargs: dict = dataclasses.field(default_factory=dict)
    detect_every: int = 10
    max_hold: int = 15              # frames a box stays valid without a fresh detection
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
        self.fs = float(c.fs)
        self.T = int(c.frames)
        self.hop = int(cfg.hop or max(1, self.T // 2))
        if not 1 <= self.hop <= self.T:
            raise ValueError(f"hop must be in [1, T={self.T}], got {self.hop}")
        self.hr_n = int(round(cfg.hr_window_s * self.fs))
        self.min_hr_n = int(round((cfg.min_hr_s or self.T / self.fs) * self.fs))
        from rppg_distill.data.face import FaceTracker, TrackerSettings, get_face_backend

        backend = face_backend or get_face_backend(cfg.face_backend, **cfg.face_kwargs)
        self.tracker = FaceTracker(backend, TrackerSettings(
            detect_every=cfg.detect_every, coef=c.face_box_coef, size=int(c.height),
            max_hold=cfg.max_hold))
        w = np.hanning(self.T + 2)[1:-1]
        self._w = (w / w.max()).astype(np.float64)
        self.timer = StageTimer()
        self.frames_in = 0
        self._frame_shape = None
        self._last_t = None
        self._reset_segment()

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

    def _run_window(self) -> None:
        start = self._n - self.T
        t0 = time.perf_counter()
        x = normalize_window(self._ring[(self._n % self.T + np.arange(self.T)) % self.T],
                             self.contract.normalization)[None]
        if self.runner.batch and self.runner.batch > 1:
            x = np.repeat(x, self.runner.batch, axis=0)
        y = np.asarray(self.runner.run(x)[0], np.float64)
        self.timer.add("model", time.perf_counter() - t0)
        t0 = time.perf_counter()
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
        self._acc[s:s + self.T] += y * self._w
        self._wsum[s:s + self.T] += self._w
        # HR on the last hr_window_s seconds of stitched signal
        avail = end - max(self._base, end - self.hr_n)
        if end >= self.min_hr_n and avail >= self.min_hr_n:
            lo = end - min(self.hr_n, end) - self._base
            lo = max(lo, 0)
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
        # keep only what the HR window and the next windows need
        keep_from = end - max(self.hr_n, self.T) - self.T
        drop = min(keep_from - self._base, self._final - self._base)
        if drop > 0:
            self._acc = self._acc[drop:]
            self._wsum = self._wsum[drop:]
            self._base += drop
        self.timer.add("hr", time.perf_counter() - t0)

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
            ts, vals = self._emit_final(self._n)
            self._reset_segment()
            return self._result(t, "no_face", False, ts, vals)
        t0 = time.perf_counter()
        crop = self.tracker.crop(frame, box).astype(np.float32)
        self.timer.add("crop", time.perf_counter() - t0)
        status = "ok"
        out_t = out_v = None
        if gap:
            out_t, out_v = self._emit_final(self._n)
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
                    self._run_window()
                    updated = True
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

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """Emit the stitched samples not yet finalized (call at the end of a stream)."""
        ts, vals = self._emit_final(self._base + len(self._acc))
        if ts is None:
            return np.zeros(0), np.zeros(0, np.float32)
        return ts, vals

    def stats(self) -> dict:
        return {"frames": self.frames_in, "stages": self.timer.summary(),
                "runner": self.runner.describe() if hasattr(self.runner, "describe") else {}}
