"""Preprocessing: recordings -> uint8 face crops in the clip cache, in parallel, resumable.

``preprocess(records, cache_dir, settings)`` runs the face tracker over each video (streamed
frame by frame, so memory per worker is a few frames plus the label arrays), writes the entry
files atomically and returns a :class:`CacheReport` naming every flagged or skipped recording.

What is redone on a second run (each entry's manifest stores three hashes):
    - ``face``: source file fingerprint + backend config + detection/smoothing settings -> full
      redo (decode, detect, crop);
    - ``crop``: crop size and box coefficient -> re-crop with the stored boxes, no detection;
    - ``label``: bvp/radar arrays, fps and recording metadata -> rewrite labels and manifest only.
An entry whose hashes all match is reused; a missing or unreadable manifest (interrupted run)
means the entry is redone. Flagged entries are remembered too, so they are reported again
without being recomputed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rppg_distill.data.cache.store import (
    CACHE_VERSION, MANIFEST, NpyStreamWriter, array_hash, atomic_save_npy, atomic_write_bytes,
    atomic_write_json, read_manifest, stable_hash)
from rppg_distill.data.face import FaceTracker, NoFaceError, TrackerSettings, crop_resize
from rppg_distill.data.face import get_face_backend
from rppg_distill.data.types import Recording

# ------------------------------------------------------------------------------------ settings
_FACE_KEYS = ("detect_every", "smoothing", "window", "max_hold", "max_lead_frames",
              "kalman_q", "kalman_r")
_CROP_KEYS = ("size", "coef")


@dataclass
class PreprocessSettings:
    """What preprocessing does. ``workers`` and ``progress`` do not affect the output.

    backend / backend_cfg: face backend name and its settings (e.g. {"model_path": ...}).
    tracker: detection cadence, smoothing, box coefficient and crop size.
    min_face_frac: an entry with fewer frames backed by a detection than this is flagged
        ("face_lost"); it is still written, and its ``face_ok`` frames mark what is usable.
    label_tolerance: a label may differ from the frame count by this many frames (both are then
        cut to the shorter); a larger difference flags the recording ("label_mismatch").
    workers: worker processes (0: run in this process). on_error: "flag" or "raise".
    start_method: multiprocessing start method for the workers (None: "spawn", safe after
        OpenCV/torch threads exist; "fork" starts faster but can deadlock after them).
    stream: decode videos that exist on disk frame by frame in the workers instead of calling
        the reader's whole-video ``frame_loader`` (see :func:`iter_frames`).
    """

    backend: str = "haar"
    backend_cfg: dict = field(default_factory=dict)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    min_face_frac: float = 0.5
    label_tolerance: int = 0
    workers: int = 0
    progress: bool = True
    on_error: str = "flag"
    start_method: str | None = None
    stream: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> "PreprocessSettings":
        d = dict(d or {})
        tr = dict(d.pop("tracker", {}) or {})
        for k in [k for k in d if k in {f.name for f in dataclasses.fields(TrackerSettings)}]:
            tr[k] = d.pop(k)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown preprocess settings: {sorted(unknown)}")
        return cls(tracker=TrackerSettings(**tr), **d)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tracker"] = self.tracker.to_dict()
        return d


# -------------------------------------------------------------------------------------- report
@dataclass
class FlaggedRecording:
    key: str
    source: str
    reason: str  # unreadable | empty | bad_fps | no_face | face_lost | label_mismatch | error
    detail: str
    written: bool = False  # True: the entry exists in the cache (usable in part)


@dataclass
class CacheReport:
    """What one preprocessing run did. ``flagged`` lists every recording not fully usable."""

    cache_dir: str
    settings: dict
    processed: list[str] = field(default_factory=list)
    recropped: list[str] = field(default_factory=list)
    relabelled: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    flagged: list[FlaggedRecording] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_frames: int = 0
    seconds: float = 0.0

    @property
    def ok_keys(self) -> list[str]:
        bad = {f.key for f in self.flagged if not f.written}
        return sorted(k for k in self.processed + self.recropped + self.relabelled + self.reused
                      if k not in bad)

    @property
    def skipped(self) -> list[FlaggedRecording]:
        return [f for f in self.flagged if not f.written]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ok_keys"] = self.ok_keys
        return d

    def summary(self) -> str:
        lines = [f"preprocess -> {self.cache_dir}: {len(self.ok_keys)} usable, "
                 f"{len(self.processed)} processed, {len(self.recropped)} re-cropped, "
                 f"{len(self.relabelled)} relabelled, {len(self.reused)} reused, "
                 f"{len(self.skipped)} skipped, "
                 f"{len(self.flagged) - len(self.skipped)} flagged but written; "
                 f"{self.n_frames} frames in {self.seconds:.1f} s"]
        for f in self.flagged:
            what = "flagged (written)" if f.written else "SKIPPED"
            lines.append(f"  {what}: {f.key} [{f.reason}] {f.detail} ({f.source})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def save(self, cache_dir: Path) -> None:
        atomic_write_json(Path(cache_dir) / "report.json", self.to_dict())
        atomic_write_bytes(Path(cache_dir) / "report.txt", (self.summary() + "\n").encode())


# ------------------------------------------------------------------------------------- sources
def source_fingerprint(path: Path) -> dict:
    """Cheap identity of a source video/frame folder: size and mtime (not the content)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file())
        st = [f.stat() for f in files]
        return {"path": str(p), "n_files": len(files), "bytes": sum(s.st_size for s in st),
                "mtime_ns": max((s.st_mtime_ns for s in st), default=0)}
    if p.is_file():
        s = p.stat()
        return {"path": str(p), "bytes": s.st_size, "mtime_ns": s.st_mtime_ns}
    return {"path": str(p), "missing": True}


def _streamable(rec: Recording) -> bool:
    return Path(rec.video).exists()


def iter_frames(rec: Recording, stream: bool = True) -> Iterator[np.ndarray]:
    """Stream uint8 [H, W, 3] RGB frames of a recording.

    With ``stream`` and an existing ``rec.video`` file/folder, frames are decoded one at a time
    (bounded memory) and ``rec.meta["frame_start"]`` / ``rec.meta["n_frames"]`` (when a reader
    sets them) select the same frames the reader's loader would return. Otherwise (or for
    in-memory sources) ``rec.load_frames()`` is called and iterated.
    """
    if rec.frame_loader is not None and not (stream and _streamable(rec)):
        yield from rec.load_frames()
        return
    start = int(rec.meta.get("frame_start", 0) or 0)
    n_max = rec.meta.get("n_frames")
    i = 0
    for frame in _iter_source(rec):
        if i >= start:
            if n_max is not None and i - start >= int(n_max):
                return
            yield frame
        i += 1


def _iter_source(rec: Recording) -> Iterator[np.ndarray]:
    from rppg_distill.data import video_io

    p = Path(rec.video)
    if p.is_dir():
        import cv2

        files = sorted((f for f in p.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg",
                                                                       ".bmp")),
                       key=lambda f: video_io.natural_key(f.name))
        if not files:
            raise ValueError(f"frame folder has no image frames: {p}")
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise ValueError(f"cannot decode frame image (corrupt): {f}")
            yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return
    for frame, _t in video_io.iter_video(p):
        yield frame


def _meta_jsonable(meta: dict) -> dict:
    out = {}
    for k, v in (meta or {}).items():
        try:
            json.dumps(v)
            out[k] = v
        except TypeError:
            out[k] = repr(v) if not isinstance(v, np.ndarray) else f"array{v.shape}"
    return out


def _hashes(rec: Recording, backend_cfg: dict, s: PreprocessSettings) -> dict:
    tr = s.tracker.to_dict()
    face = stable_hash({"v": CACHE_VERSION, "src": source_fingerprint(rec.video),
                        "backend": backend_cfg, **{k: tr[k] for k in _FACE_KEYS},
                        "min_face_frac": s.min_face_frac,
                        "frames": [rec.meta.get("frame_start", 0), rec.meta.get("n_frames"),
                                   bool(s.stream and _streamable(rec))
                                   or rec.frame_loader is None]})
    crop = stable_hash({k: tr[k] for k in _CROP_KEYS})
    label = stable_hash({"arrays": array_hash(rec.bvp, rec.radar), "fps": rec.fps,
                         "hr": rec.hr_bpm, "tol": s.label_tolerance,
                         "meta": [rec.dataset, rec.subject, rec.state, rec.view, rec.camera,
                                  _meta_jsonable(rec.meta)]})
    return {"face": face, "crop": crop, "label": label}


# -------------------------------------------------------------------------------------- worker
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


# ---------------------------------------------------------------------------------- preprocess
def _plan(prev: dict | None, hashes: dict) -> str:
    if prev is None:
        return "full"
    ph = prev.get("hashes", {})
    files = prev.get("files", {})
    if ph.get("face") != hashes["face"]:
        return "full"
    if prev.get("status") == "flagged" and not prev.get("written"):
        # the same inputs failed before; only a label change could change that verdict
        return "reuse" if ph.get("label") == hashes["label"] else "full"
    if ph.get("crop") != hashes["crop"]:
        return "recrop" if "boxes" in files else "full"
    if ph.get("label") != hashes["label"]:
        return "relabel"
    return "reuse"


def preprocess(records: Sequence[Recording], cache_dir: str | os.PathLike,
               settings: PreprocessSettings | dict | None = None, *,
               prune: bool = False) -> CacheReport:
    """Crop faces of ``records`` into ``cache_dir`` and return the report (also saved there).

    Args:
        records: recordings (from a reader or the synthetic generator); keys must be unique.
        settings: PreprocessSettings or a dict of its fields (tracker fields may be given flat).
        prune: delete cache entries whose key is not among ``records``.
    Raises ValueError for duplicate keys or an unusable backend (before any work starts).
    """
    t0 = time.perf_counter()
    s = settings if isinstance(settings, PreprocessSettings) else PreprocessSettings.from_dict(settings)
    root = Path(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    keys = [r.key for r in records]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate recording keys: {dup}")
    backend_cfg = _backend(s.backend, s.backend_cfg).config()  # fails early with a clear message
    report = CacheReport(cache_dir=str(root), settings={**s.to_dict(), "backend_config": backend_cfg})

    tasks, parallel_ok = [], []
    for rec in records:
        out = root / rec.key
        hashes = _hashes(rec, backend_cfg, s)
        prev = read_manifest(out)
        mode = _plan(prev, hashes)
        if mode == "reuse":
            report.reused.append(rec.key)
            if prev["status"] == "flagged":
                report.flagged.append(FlaggedRecording(rec.key, str(rec.video), prev["reason"],
                                                       prev["detail"], bool(prev.get("written"))))
            continue
        tasks.append((rec, out, s, hashes, mode, prev))
        if s.stream and _streamable(rec) and rec.frame_loader is not None:
            rec = dataclasses.replace(rec, frame_loader=None)  # decode from the file, streamed
            tasks[-1] = (rec, *tasks[-1][1:])
        try:
            pickle.dumps(rec)
            parallel_ok.append(True)
        except Exception:
            parallel_ok.append(False)

    results: list[tuple[str, dict]] = []
    bar = None
    if s.progress and tasks:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), desc="preprocess", unit="video")
        except ImportError:  # pragma: no cover
            bar = None

    def _done(mode, m):
        results.append((mode, m))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(m["key"][-30:])

    pool_tasks = [t for t, ok in zip(tasks, parallel_ok) if ok and s.workers > 0]
    local_tasks = [t for t, ok in zip(tasks, parallel_ok) if not (ok and s.workers > 0)]
    if pool_tasks:
        import multiprocessing as mp

        # "spawn" by default: fork after OpenCV (or torch) has started its thread pools can
        # deadlock the children. Spawn needs the caller's script to guard its entry point with
        # `if __name__ == "__main__":` (the console script does).
        ctx = mp.get_context(s.start_method or "spawn")
        with ProcessPoolExecutor(max_workers=min(s.workers, len(pool_tasks)), mp_context=ctx,
                                 initializer=_worker_init) as ex:
            futs = {ex.submit(_run_task, t): t for t in pool_tasks}
            try:
                for fut in as_completed(futs):
                    t = futs[fut]
                    _done(t[4], fut.result())
            except BrokenProcessPool as err:
                raise RuntimeError(
                    "a preprocessing worker process died (out of memory, a crash in a decoder, or "
                    "a script without an `if __name__ == \"__main__\":` guard under the spawn "
                    "start method); rerun to resume, or use workers=0 to run in this process"
                ) from err
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    for t in local_tasks:
        _done(t[4], _run_task(t))
    if bar is not None:
        bar.close()

    for mode, m in sorted(results, key=lambda r: r[1]["key"]):
        key = m["key"]
        {"full": report.processed, "recrop": report.recropped,
         "relabel": report.relabelled}[mode].append(key)
        if m["status"] == "flagged":
            report.flagged.append(FlaggedRecording(key, m["source"], m["reason"], m["detail"],
                                                   bool(m.get("written"))))
        elif mode != "relabel":
            report.n_frames += int(m.get("n_frames", 0))
        report.warnings += [f"{key}: {w}" for w in m.get("warnings", [])]
    report.flagged.sort(key=lambda f: f.key)
    if prune:
        wanted = set(keys)
        for d in root.iterdir():
            if d.is_dir() and d.name not in wanted and (d / MANIFEST).exists():
                shutil.rmtree(d)
                report.warnings.append(f"pruned stale entry {d.name}")
    report.seconds = time.perf_counter() - t0
    report.save(root)
    return report
