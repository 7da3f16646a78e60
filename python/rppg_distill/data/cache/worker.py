"""The per-recording worker: one recording -> one cache entry directory plus its manifest.

``process_recording(rec, out, settings, hashes, mode, prev) -> manifest`` streams frames through
the face tracker (mode "full"), re-crops with stored boxes ("recrop") or rewrites labels only
("relabel"); entry files are written atomically. Problems become a flagged manifest (or raise
with ``on_error="raise"``). ``_run_task`` / ``_worker_init`` are the process-pool entry points.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

import numpy as np

from rppg_distill.data.cache.settings import PreprocessSettings
from rppg_distill.data.cache.sources import _meta_jsonable, iter_frames, source_fingerprint
from rppg_distill.data.cache.store import (
    CACHE_VERSION, MANIFEST, NpyStreamWriter, atomic_save_npy, atomic_write_json)
from rppg_distill.data.face import FaceTracker, NoFaceError, crop_resize
from rppg_distill.data.face import get_face_backend
from rppg_distill.data.types import Recording


class _Flag(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


_BACKEND = {}


def _backend(name: str, cfg: dict):
    k = (name, json.dumps(cfg, sort_keys=True, default=str))
    if k not in _BACKEND:
        _BACKEND[k] = get_face_backend(name, **cfg)
    return _BACKEND[k]


def _worker_init() -> None:
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover
        pass


def _base_manifest(rec: Recording, hashes: dict, s: PreprocessSettings) -> dict:
    return {"version": CACHE_VERSION, "key": rec.key, "source": str(rec.video),
            "source_fingerprint": source_fingerprint(rec.video), "dataset": rec.dataset,
            "subject": rec.subject, "state": rec.state, "view": rec.view, "camera": rec.camera,
            "fps": float(rec.fps) if rec.fps is not None else None, "hr_bpm": rec.hr_bpm,
            "meta": _meta_jsonable(rec.meta), "hashes": hashes, "settings": s.to_dict(),
            "created": time.time(), "warnings": [], "files": {}}


def _write_labels(rec: Recording, out: Path, n_frames: int, m: dict, s: PreprocessSettings) -> None:
    """Check label lengths against the frame count, write bvp/radar; raises _Flag."""
    for name, arr, axis in (("bvp", rec.bvp, 0), ("radar", rec.radar, 1)):
        if arr is None:
            (out / f"{name}.npy").unlink(missing_ok=True)
            continue
        arr = np.asarray(arr, dtype=np.float32)
        if name == "radar" and arr.ndim != 2:
            raise _Flag("label_mismatch", f"radar must be [channels, N], got {arr.shape}")
        if name == "bvp" and arr.ndim != 1:
            raise _Flag("label_mismatch", f"bvp must be [N], got {arr.shape}")
        n = arr.shape[axis]
        if n != n_frames:
            if abs(n - n_frames) > s.label_tolerance:
                raise _Flag("label_mismatch", f"{name} has {n} samples but the video has "
                                              f"{n_frames} frames (tolerance {s.label_tolerance})")
            m["warnings"].append(f"{name} length {n} != {n_frames} frames; cut to the shorter")
        if not np.isfinite(arr).all():
            raise _Flag("label_mismatch", f"{name} has NaN or inf values")
        atomic_save_npy(out / f"{name}.npy", arr)
        m["files"][name] = f"{name}.npy"


def _usable_len(rec: Recording, n_frames: int) -> int:
    n = n_frames
    if rec.bvp is not None:
        n = min(n, len(rec.bvp))
    if rec.radar is not None:
        n = min(n, np.asarray(rec.radar).shape[1])
    return n


def process_recording(rec: Recording, out: Path, s: PreprocessSettings, hashes: dict,
                      mode: str = "full", prev: dict | None = None) -> dict:
    """Process one recording into ``out`` and return its manifest (status ok or flagged).

    ``mode``: "full" (detect + crop), "recrop" (crop with the boxes in ``prev``), "relabel".
    Raises only in ``on_error="raise"`` mode; otherwise problems become a flagged manifest.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m = _base_manifest(rec, hashes, s)
    writer = None
    try:
        if rec.fps is None or not np.isfinite(rec.fps) or rec.fps <= 0:
            raise _Flag("bad_fps", f"fps is {rec.fps!r}")
        size = s.tracker.size
        if mode == "relabel":
            keep = {k: prev["files"][k] for k in ("frames", "boxes", "face_ok")
                    if k in prev.get("files", {})}
            for k in ("n_frames", "checksum", "face_ok_frac", "n_detections", "n_misses",
                      "frame_shape", "crop_size"):
                if k in prev:
                    m[k] = prev[k]
            m["files"].update(keep)
            n = int(prev["n_frames"])
        else:
            writer = NpyStreamWriter(out / "frames.npy", (size, size, 3))
            boxes, oks = [], []
            shape_seen: list = []

            def _checked(it):
                for f in it:
                    if not shape_seen:
                        shape_seen.append(f.shape)
                    elif f.shape != shape_seen[0]:
                        raise ValueError(f"frame size changes mid-stream {shape_seen[0]} -> "
                                         f"{f.shape}: {rec.video}")
                    yield f

            try:
                frames = _checked(iter_frames(rec, s.stream))
                if mode == "recrop":
                    old_boxes = np.load(out / prev["files"]["boxes"])
                    old_coef = float(prev["settings"]["tracker"]["coef"])
                    scale = s.tracker.coef / old_coef
                    old_ok = np.load(out / prev["files"]["face_ok"])
                    for i, frame in enumerate(frames):
                        if i >= len(old_boxes):
                            raise _Flag("error", "source has more frames than the cached boxes; "
                                                 "it changed since the boxes were computed")
                        x, y, w, h = old_boxes[i].astype(np.float64)
                        cx, cy = x + w / 2, y + h / 2
                        box = np.array([cx - w * scale / 2, cy - h * scale / 2, w * scale,
                                        h * scale])
                        writer.append(crop_resize(frame, box, size))
                        boxes.append(box)
                        oks.append(bool(old_ok[i]))
                    m.update({k: prev.get(k) for k in ("n_detections", "n_misses")})
                else:
                    tracker = FaceTracker(_backend(s.backend, s.backend_cfg), s.tracker)
                    for crop, box, ok in tracker.run(frames):
                        writer.append(crop)
                        boxes.append(box)
                        oks.append(ok)
                    m.update(n_detections=tracker.n_detections, n_misses=tracker.n_misses)
            except NoFaceError as err:
                raise _Flag("no_face", str(err)) from None
            except ValueError as err:
                msg = str(err)
                reason = "empty" if ("no decodable frames" in msg or "no frames" in msg
                                     or "0 bytes" in msg) else "unreadable"
                raise _Flag(reason, msg) from None
            n = writer.n
            m["checksum"] = writer.close()
            writer = None
            m["files"]["frames"] = "frames.npy"
            atomic_save_npy(out / "boxes.npy", np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
            atomic_save_npy(out / "face_ok.npy", np.asarray(oks, dtype=bool))
            m["files"].update(boxes="boxes.npy", face_ok="face_ok.npy")
            m["n_frames"] = n
            m["crop_size"] = size
            m["face_ok_frac"] = float(np.mean(oks)) if oks else 0.0
            m["frame_shape"] = list(shape_seen[0]) if shape_seen else None
        _write_labels(rec, out, n, m, s)
        m["n_frames_usable"] = _usable_len(rec, n)
        m["status"], m["reason"], m["detail"] = "ok", "", ""
        if m.get("face_ok_frac", 1.0) < s.min_face_frac:
            m["status"], m["reason"] = "flagged", "face_lost"
            m["detail"] = (f"face found in only {100 * m['face_ok_frac']:.0f}% of frames "
                           f"(min {100 * s.min_face_frac:.0f}%); usable frames kept")
            m["written"] = True
    except _Flag as flag:
        if writer is not None:
            writer.abort()
        if s.on_error == "raise":
            raise ValueError(f"{rec.key} ({rec.video}): {flag.reason}: {flag.detail}") from None
        m.update(status="flagged", reason=flag.reason, detail=flag.detail, written=False,
                 files={})
        for f in ("frames.npy", "boxes.npy", "face_ok.npy", "bvp.npy", "radar.npy"):
            (out / f).unlink(missing_ok=True)
    except Exception as err:
        if writer is not None:
            writer.abort()
        if s.on_error == "raise":
            raise
        m.update(status="flagged", reason="error", written=False, files={},
                 detail=f"{type(err).__name__}: {err}",
                 traceback=traceback.format_exc(limit=5))
    except BaseException:  # interrupted (KeyboardInterrupt, SystemExit): leave no temp file
        if writer is not None:
            writer.abort()
        raise
    atomic_write_json(out / MANIFEST, m)
    return m


def _run_task(args) -> dict:
    rec, out, s, hashes, mode, prev = args
    return process_recording(rec, out, s, hashes, mode, prev)
