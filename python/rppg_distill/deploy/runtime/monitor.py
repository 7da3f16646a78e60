"""The streaming heart-rate monitor (numpy + OpenCV + a runner; never imports torch).

    mon = Monitor("student.onnx")            # or .plan, or any runner object
    mon = Monitor(method="chrom")            # a classical method (default: Monitor())
    for frame, t in frames:                  # uint8 [H, W, 3] RGB, timestamp in seconds
        r = mon.push(frame, t)
        if r.valid: print(r.hr_bpm, r.confident)

Stages per frame: face (detect every N frames, smoothed box) -> crop (contract size) ->
resample to the contract fs using the frame timestamps (linear interpolation; variable fps is
resampled, never assumed) -> ring buffer of T frames -> every ``hop`` samples the model runs on the
last T frames -> overlap-add stitching (Hann weights, each window z-scored) -> HR from the spectral
peak of the last ``hr_window_s`` seconds (fine grid, interpolated) -> SNR and peak concentration ->
``confident`` when both pass their thresholds.

Classical methods (``Monitor(method=...)`` or no model at all) run through the same stages with a
``ClassicalRunner`` (classical.py): each crop is reduced at once to its mean skin colour, so the
ring holds RGB means [T, 3], and "the model" is the classical pipeline on the last T means.

Throughput knobs are documented with ``MonitorConfig`` (config.py). Pieces beside this module:
``config`` (MonitorConfig, Result), ``stitch`` (OverlapAdd), ``timer`` (StageTimer); their
names are re-exported here.

A frame without a (recent) face ends the current segment: the result is ``valid=False`` with
status ``no_face`` and ``hr_bpm`` NaN, and HR starts again after the face comes back and the
buffer refills. A timestamp gap larger than ``max_gap_s`` also restarts the segment.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from .codec_rhythm import explain_peak
from .config import MODES, MonitorConfig, Result
from .hr import peak_frequency, quality
from .preprocess import normalize_window
from .stitch import OverlapAdd
from .timer import StageTimer


def _open_model(model, method):
    if model is None:
        from .classical import ClassicalRunner

        return ClassicalRunner(method)
    if method is not None:
        raise ValueError("Monitor: pass either a model or a classical method, not both")
    if isinstance(model, (str, Path)):
        from rppg_distill.deploy import load_runner

        return load_runner(model)
    if not hasattr(model, "run") or not hasattr(model, "contract"):
        raise TypeError("Monitor(model): pass a model path (.onnx/.plan) or a runner with "
                        "`.contract` and `.run(x)`")
    return model


class Monitor:
    def __init__(self, model=None, config: MonitorConfig | None = None, face_backend=None, *,
                 method: str | None = None):
        self.runner = _open_model(model, method)
        # runners that reduce each crop to a few numbers (classical: mean skin RGB)
        self._reduce = getattr(self.runner, "reduce_crop", None)
        self.contract = c = self.runner.contract
        self.cfg = cfg = config or MonitorConfig()
        if cfg.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {cfg.mode!r}")
        self.fs = float(c.fs)
        self.T = int(c.frames)
        self.offline = cfg.mode == "offline"
        self.hop = int(cfg.hop or getattr(self.runner, "hop", None)
                       or (self.T if self.offline else max(1, self.T // 2)))
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
        detect_every, max_hold = cfg.face_detection(c)
        self.tracker = FaceTracker(face_backend, TrackerSettings(
            detect_every=detect_every, coef=c.face_box_coef, size=int(c.height),
            max_hold=max_hold))
        self._ola = OverlapAdd(self.T, c.output)   # overlap-add stitching of model windows
        self.timer = StageTimer()
        self.frames_in = 0
        self._frame_shape = None
        self._last_t = None
        self._ring = np.zeros((self.T, 3) if self._reduce else
                              (self.T, int(c.height), int(c.width), 3), np.float32)
        self.last_crop = None        # uint8 face crop of the latest frame with a face (plots)
        self._reset_segment()
        if cfg.warmup:
            self._warmup()

    def _warmup(self) -> None:
        """First calls allocate (onnxruntime arenas, the core's DFT basis) and import (the
        quality measures pull in scipy): pay for them here, not in the first window."""
        if self._reduce:  # a window of plausible skin means (zeros have no colour to normalize)
            rng = np.random.default_rng(0)
            x = (np.array([150.0, 110.0, 90.0]) * (1 + 0.01 * rng.standard_normal(
                self.runner.input_shape(1)))).astype(np.float32)
        else:
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
        self._n = 0                  # resampled samples in this segment (ring slots are
                                     # rewritten before a window reads them: no clearing needed)
        self._since = 0              # samples since the last model window
        self._ola.reset()            # stitched signal; samples [0, _ola.final) already emitted
        self._hr = (math.nan, math.nan, math.nan, False)
        self._have_hr = False
        self._invalid = None         # why the last HR window was rejected: "no_signal",
                                     # "codec_rhythm" (status of the frames that follow)
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
                      status=status if not (status == "ok" and not valid)
                      else (self._invalid or "warming_up"),
                      updated=updated,
                      bvp_t=bvp_t if bvp_t is not None else np.zeros(0),
                      bvp=bvp if bvp is not None else np.zeros(0, np.float32))

    def _emit_final(self, upto: int):
        out = self._ola.emit(upto)
        if out is None:
            return None, None
        first, vals = out
        ts = self._seg_t0 + np.arange(first, first + len(vals)) / self.fs
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
        x = (self._ring[idx] if self._reduce
             else normalize_window(self._ring[idx], self.contract.normalization))
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
            self._ola.add(start, yi, fr)
        self._estimate_hr(starts[-1] + self.T, force=False)
        self._trim(starts[-1] + self.T)
        self.timer.add("hr", time.perf_counter() - t0)

    def _estimate_hr(self, end: int, force: bool) -> None:
        """HR on the last hr_window_s seconds of stitched signal ending at sample ``end``, at
        most every ``hr_update_s`` (unless ``force``)."""
        if (not force and self._last_hr_end is not None
                and end - self._last_hr_end < self.hr_every_n):
            return
        base = self._ola.base
        avail = end - max(base, end - self.hr_n)
        if not (end >= self.min_hr_n and avail >= self.min_hr_n):
            return
        lo = max(end - min(self.hr_n, end) - base, 0)
        sig = self._ola.values(base + lo, end)
        f = float(peak_frequency(sig.astype(np.float32), self.fs, self.contract.band))
        self._last_hr_end = end
        self._invalid = None
        if not math.isfinite(f):  # flat (or NaN, zeroed by OverlapAdd) model output: no pulse power
            self._invalid = "no_signal"
        elif self.cfg.key_frame_period_s and explain_peak(
                sig, self.fs, self.contract.band, f, self.cfg.key_frame_period_s):
            self._invalid = "codec_rhythm"  # the peak is the key-frame rhythm or its beat
        if self._invalid:
            self._hr = (math.nan, math.nan, math.nan, False)
            self._have_hr = False
            return
        hr = 60.0 * f
        try:
            snr, conc = quality(sig, self.fs, hr, self.contract.band)
        except ValueError:
            snr, conc = math.nan, math.nan
        conf = (snr >= self.cfg.min_snr_db) and (conc >= self.cfg.min_peak_concentration)
        self._hr = (hr, snr, conc, bool(conf))
        self._have_hr = True

    def _trim(self, end: int) -> None:
        """Keep only what the HR window and the next windows need."""
        self._ola.trim(end - max(self.hr_n, self.T) - self.T)

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
        crop_u8 = self.tracker.crop(frame, box)
        self.last_crop = crop_u8
        crop = (self._reduce(crop_u8) if self._reduce else crop_u8.astype(np.float32))
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
        if self._n >= self.T and self._last_hr_end != self._covered and self._ola.acc.size:
            self._estimate_hr(self._covered, force=True)
        return self._emit_final(self._ola.end)

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
