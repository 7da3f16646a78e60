"""Recording sources: stream uint8 [H, W, 3] RGB frames and fingerprint the source cheaply.

``iter_frames(rec, stream)`` decodes a video file or frame folder one frame at a time (bounded
memory) or falls back to the reader's ``frame_loader``; ``source_fingerprint(path)`` is size +
mtime, not content. ``_meta_jsonable`` makes recording metadata storable in a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rppg_distill.data.types import Recording


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
            raise video_io.EmptyVideoError(f"frame folder has no image frames: {p}")
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise video_io.CorruptVideoError(f"cannot decode frame image (corrupt): {f}")
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
