"""The per-recording worker: one recording -> one cache entry directory plus its manifest.

``process_recording(rec, out, settings, hashes, mode, prev) -> manifest`` streams frames through
the face tracker (mode "full"), re-crops with stored boxes ("recrop") or rewrites labels only
("relabel"); the entry is built in a staging folder and committed as a whole. Problems of the
input become a stored flagged manifest (or raise with ``on_error="raise"``), their reason chosen
by the error's type: ``no_face`` (:class:`NoFaceError`), ``empty``
(:class:`~rppg_distill.data.video_io.EmptyVideoError`), ``unreadable`` (any other
:class:`~rppg_distill.data.video_io.VideoReadError`), ``bad_fps``, ``label_mismatch``. Anything
else (``io_error`` for an OSError such as a full disk, ``error`` for the unexpected, with a
traceback) is "failed": reported, not stored, retried by the next run.
``_run_task`` / ``_worker_init`` are the process-pool entry points.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rppg_distill.data.cache.settings import PreprocessSettings
from rppg_distill.data.cache.sources import _meta_jsonable, iter_frames, source_fingerprint
from rppg_distill.data.cache.store import (
    CACHE_VERSION,
    MANIFEST,
    NpyStreamWriter,
    atomic_save_npy,
    atomic_write_json,
    commit_entry,
    staging_dir,
)
from rppg_distill.data.face import FaceTracker, NoFaceError, crop_resize, get_face_backend
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import CorruptVideoError, EmptyVideoError, VideoReadError


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
    """Pool worker start: one OpenCV thread; exit when the parent process dies."""
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover
        pass
    _exit_with_parent()


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """Start a daemon thread that ends this process when its parent is gone.

    A worker of a killed parent (``kill -9``) would otherwise finish its task and then wait
    forever for the next one: the task queue's write end is open in the worker itself. The
    parent's sentinel (a pipe that closes when it dies) and a change of ``os.getppid()`` are
    watched; the staging folder a killed task leaves carries this PID and is removed by the next
    run (:func:`~rppg_distill.data.cache.store.remove_stale_temps`).
    """
    import multiprocessing as mp
    import multiprocessing.connection
    import threading

    parent = mp.parent_process()
    ppid = os.getppid()

    def watch() -> None:
        while True:
            if parent is not None and parent.sentinel is not None:
                if mp.connection.wait([parent.sentinel], timeout=poll_s):
                    break
            else:
                time.sleep(poll_s)
            if os.getppid() != ppid:
                break
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


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
        tail = int((rec.meta or {}).get("radar_tail", 0)) if name == "radar" else 0
        if name == "radar" and tail and 0 < n - n_frames <= tail + s.label_tolerance:
            m["radar_tail"] = n - n_frames   # recorded past the last frame (readers declare it)
        elif n != n_frames:
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
    """Process one recording into the entry folder ``out`` and return its manifest.

    ``mode``: "full" (detect + crop), "recrop" (crop with the boxes in ``prev``), "relabel"
    (keep the frames of ``prev``, rewrite the labels). The entry is built in a staging folder
    and replaces ``out`` as a whole (:func:`~rppg_distill.data.cache.store.commit_entry`).

    Status "ok", or "flagged" (a property of the input: unreadable, no face, bad labels; the
    verdict is stored and reused), or "failed" (anything else: a full disk, a permission error,
    an unexpected exception; nothing is stored, so the next run retries). Raises only in
    ``on_error="raise"`` mode.
    """
    out = Path(out)
    work = staging_dir(out)
    m = _base_manifest(rec, hashes, s)
    try:
        if work.exists():  # left by an earlier process that had this PID
            shutil.rmtree(work)
        work.mkdir(parents=True)
        _build_entry(rec, work, out, s, m, mode, prev)
        atomic_write_json(work / MANIFEST, m)
        commit_entry(work, out)
    except (_Flag, NoFaceError, VideoReadError) as err:
        reason, detail = _reason(err)
        if s.on_error == "raise":
            raise ValueError(f"{rec.key} ({rec.video}): {reason}: {detail}") from None
        m.update(status="flagged", reason=reason, detail=detail, written=False, files={})
        _store_verdict(work, out, m)
    except Exception as err:
        if s.on_error == "raise":
            raise
        m.update(status="failed", reason="io_error" if isinstance(err, OSError) else "error",
                 written=False, files={}, detail=f"{type(err).__name__}: {err}",
                 traceback=traceback.format_exc(limit=5))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return m


def _store_verdict(work: Path, out: Path, m: dict) -> None:
    """A flagged recording: its entry becomes the manifest alone (no files). A failure to store
    it turns the verdict into "failed" (retried by the next run)."""
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        atomic_write_json(work / MANIFEST, m)
        commit_entry(work, out)
    except OSError as err:
        m.update(status="failed", reason="io_error", detail=f"{m['reason']}: {m['detail']} "
                                                              f"(not stored: {err})")


def _build_entry(rec: Recording, work: Path, src: Path, s: PreprocessSettings, m: dict, mode: str,
                 prev: dict | None) -> None:
    """Write the entry's files into ``work`` (reading kept files of ``prev`` from ``src``)."""
    if rec.fps is None or not np.isfinite(rec.fps) or rec.fps <= 0:
        raise _Flag("bad_fps", f"fps is {rec.fps!r}")
    if mode == "relabel":
        n = _reuse_frames(m, prev, src, work)
    else:
        n = _write_frames(rec, work, src, s, m, mode, prev)
    _write_labels(rec, work, n, m, s)
    _set_status(m, rec, n, s)


def _reason(err: Exception) -> tuple[str, str]:
    """(manifest reason, detail) of an expected failure, by its type."""
    if isinstance(err, _Flag):
        return err.reason, err.detail
    if isinstance(err, NoFaceError):
        return "no_face", str(err)
    if isinstance(err, EmptyVideoError):
        return "empty", str(err)
    return "unreadable", str(err)


def _reuse_frames(m: dict, prev: dict, src: Path, work: Path) -> int:
    """Mode "relabel": the entry keeps the frames, boxes and their statistics of ``prev``
    (hard-linked from ``src`` into ``work``; copied where links are not possible)."""
    keep = {k: prev["files"][k] for k in ("frames", "boxes", "face_ok") if k in prev.get("files", {})}
    for fn in keep.values():
        try:
            os.link(src / fn, work / fn)
        except OSError:
            shutil.copy2(src / fn, work / fn)
    for k in ("n_frames", "checksum", "face_ok_frac", "n_detections", "n_misses", "frame_shape",
              "crop_size"):
        if k in prev:
            m[k] = prev[k]
    m["files"].update(keep)
    return int(prev["n_frames"])


def _write_frames(rec: Recording, out: Path, src: Path, s: PreprocessSettings, m: dict, mode: str,
                  prev: dict | None) -> int:
    """Modes "full"/"recrop": stream face crops ``[N, S, S, 3]`` into ``out``/frames.npy, with
    boxes.npy and face_ok.npy beside it ("recrop" reads the old boxes from ``src``); fills the
    frame statistics of ``m`` and returns N."""
    size = s.tracker.size
    writer = NpyStreamWriter(out / "frames.npy", (size, size, 3))
    shapes: list[tuple] = []
    try:
        frames = _same_size(iter_frames(rec, s.stream), rec.video, shapes)
        if mode == "recrop":
            boxes, oks = _recrop_into(writer, frames, src, prev, s, m)
        else:
            boxes, oks = _track_into(writer, frames, s, m)
        n = writer.n
        m["checksum"] = writer.close()
    except BaseException:  # any failure or interruption: leave no temp file
        writer.abort()
        raise
    m["files"]["frames"] = "frames.npy"
    atomic_save_npy(out / "boxes.npy", np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
    atomic_save_npy(out / "face_ok.npy", np.asarray(oks, dtype=bool))
    m["files"].update(boxes="boxes.npy", face_ok="face_ok.npy")
    m["n_frames"] = n
    m["crop_size"] = size
    m["face_ok_frac"] = float(np.mean(oks)) if oks else 0.0
    m["frame_shape"] = list(shapes[0]) if shapes else None
    return n


def _same_size(frames: Iterator[np.ndarray], video: Path, shapes: list) -> Iterator[np.ndarray]:
    """Pass frames through; the first one's shape goes into ``shapes``. Raises EmptyVideoError
    when there is none and CorruptVideoError when the size changes mid-stream."""
    for f in frames:
        if not shapes:
            shapes.append(f.shape)
        elif f.shape != shapes[0]:
            raise CorruptVideoError(f"frame size changes mid-stream {shapes[0]} -> {f.shape}: {video}")
        yield f
    if not shapes:
        raise EmptyVideoError(f"the recording has no frames: {video}")


def _track_into(writer: NpyStreamWriter, frames: Iterator[np.ndarray], s: PreprocessSettings,
                m: dict) -> tuple[list, list[bool]]:
    """Mode "full": detect and track the face, append the crops; (boxes, face found per frame)."""
    tracker = FaceTracker(_backend(s.backend, s.backend_cfg), s.tracker)
    boxes, oks = [], []
    for crop, box, ok in tracker.run(frames):
        writer.append(crop)
        boxes.append(box)
        oks.append(ok)
    m.update(n_detections=tracker.n_detections, n_misses=tracker.n_misses)
    return boxes, oks


def _recrop_into(writer: NpyStreamWriter, frames: Iterator[np.ndarray], src: Path, prev: dict,
                 s: PreprocessSettings, m: dict) -> tuple[list, list[bool]]:
    """Mode "recrop": crop with the boxes of ``prev`` (in ``src``), rescaled to the new ``coef``."""
    old_boxes = np.load(src / prev["files"]["boxes"])
    old_ok = np.load(src / prev["files"]["face_ok"])
    scale = s.tracker.coef / float(prev["settings"]["tracker"]["coef"])
    boxes, oks = [], []
    for i, frame in enumerate(frames):
        if i >= len(old_boxes):
            raise _Flag("error", "source has more frames than the cached boxes; "
                                 "it changed since the boxes were computed")
        x, y, w, h = old_boxes[i].astype(np.float64)
        cx, cy = x + w / 2, y + h / 2
        box = np.array([cx - w * scale / 2, cy - h * scale / 2, w * scale, h * scale])
        writer.append(crop_resize(frame, box, s.tracker.size))
        boxes.append(box)
        oks.append(bool(old_ok[i]))
    m.update({k: prev.get(k) for k in ("n_detections", "n_misses")})
    return boxes, oks


def _set_status(m: dict, rec: Recording, n: int, s: PreprocessSettings) -> None:
    """ok, or flagged "face_lost" (entry kept) when the face was found in too few frames."""
    m["n_frames_usable"] = _usable_len(rec, n)
    m["status"], m["reason"], m["detail"] = "ok", "", ""
    if m.get("face_ok_frac", 1.0) < s.min_face_frac:
        m["status"], m["reason"] = "flagged", "face_lost"
        m["detail"] = (f"face found in only {100 * m['face_ok_frac']:.0f}% of frames "
                       f"(min {100 * s.min_face_frac:.0f}%); usable frames kept")
        m["written"] = True


def _run_task(args) -> dict:
    rec, out, s, hashes, mode, prev = args
    return process_recording(rec, out, s, hashes, mode, prev)
