"""Torch clip datasets over the uint8 clip cache (transforms applied on the fly).

Items are dicts of tensors (video ``[C, T, H, W]`` float32, labels ``[T]`` float32) plus
strings/ints for bookkeeping; the default DataLoader collate batches them.

- :class:`SingleViewClips`: clips of one recording at a time.
- :class:`MultiViewPairs`: the teacher (frontal) and a student (side) view of the same subject,
  state and time window (frames with the same index; the cameras are synchronized).
- :class:`VideoRadarPairs`: a video clip and the radar ``[10, T]`` of the same window.

Windows start at 0, stride, 2*stride, ... and must fit in the usable length of the entry
(min of frames and labels). With ``require_face=True`` (default) a window containing a frame
whose box is not backed by a detection is dropped. What was dropped and why is in ``skipped``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from rppg_distill.data.cache.store import CacheEntry, ClipCache
from rppg_distill.data.clip_rate import (
    grid_length,
    needs_resampling,
    ok_on_grid,
    resample_frames,
    resample_signal,
)
from rppg_distill.data.transforms import apply_label_transform, apply_video_transform, standardize_channels

__all__ = ["MultiViewPairs", "SingleViewClips", "VideoRadarPairs", "default_label_transform"]


def default_label_transform(transform: str | Sequence[str]) -> str:
    """The label transform matching a video transform (rPPG-Toolbox pairs them like this)."""
    names = [transform] if isinstance(transform, str) else list(transform)
    if len(names) == 1:
        return names[0]
    return "diff_normalized" if "diff_normalized" in names else "standardized"


def _has(e: CacheEntry, name: str) -> bool:
    """Whether the cache entry holds the array ``name`` ("bvp", "radar")."""
    return name in e.manifest.get("files", {})


def _as_cache(cache) -> ClipCache:
    return cache if isinstance(cache, ClipCache) else ClipCache(cache)


class _ClipsBase(Dataset):
    fs: float | None = None     # the clips' rate; None: each recording's own (see _AtRate)

    def __init__(self, cache, records, clip_len: int, stride: int | None,
                 transform, label_transform, require_face: bool):
        if clip_len < 2:
            raise ValueError(f"clip_len must be >= 2, got {clip_len}")
        self.cache = _as_cache(cache)
        self.clip_len = int(clip_len)
        self.stride = int(stride or clip_len)
        if self.stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        apply_video_transform(np.zeros((2, 2, 2, 3), np.uint8), transform)  # validate names
        self.transform = transform
        self.label_transform = label_transform or default_label_transform(transform)
        apply_label_transform(np.zeros(2, np.float32), self.label_transform)
        self.require_face = require_face
        self.skipped: list[tuple[str, str]] = []
        self._face_ok: dict[str, np.ndarray | None] = {}
        self.entries = self._resolve(records)

    def _resolve(self, records) -> list[CacheEntry]:
        usable = set(self.cache.keys())
        if records is None:
            keys = sorted(usable)
        else:
            keys = [getattr(r, "key", r) for r in records]
        out = []
        for k in keys:
            if k not in usable:
                e = self.cache._entries.get(k)
                why = (f"flagged at preprocessing: {e.manifest.get('reason')}: "
                       f"{e.manifest.get('detail')}") if e is not None else "not in the cache"
                self.skipped.append((k, why))
                continue
            out.append(self.cache[k])
        return out

    def _windows(self, n: int, oks: Sequence[np.ndarray | None]) -> list[int]:
        starts = range(0, n - self.clip_len + 1, self.stride)
        if not self.require_face:
            return list(starts)
        ok = np.ones(n, bool)
        for a in oks:
            if a is not None:
                ok &= np.asarray(a[:n], bool)
        bad = np.concatenate([[0], np.cumsum(~ok)])
        return [s for s in starts if bad[s + self.clip_len] - bad[s] == 0]

    def _index_single(self, reject: Callable[[CacheEntry], str | None], what: str) -> None:
        """Index the windows of every entry; ``reject(e)`` gives a reason to skip ``e`` or None."""
        self.index: list[tuple[int, int]] = []
        kept = []
        for e in self.entries:
            why = reject(e)
            if why is not None:
                self.skipped.append((e.key, why))
                continue
            ws = self._windows(*self._grid(e))
            if not ws:
                self.skipped.append((e.key, f"no full window ({e.n_usable} usable frames)"))
                continue
            kept.append(e)
            self.index += [(len(kept) - 1, s) for s in ws]
        self.entries = kept
        self._check_nonempty(what)

    def _grid(self, e: CacheEntry) -> tuple[int, list]:
        """(samples, per-sample face flags) of ``e`` on the clips' time grid."""
        return e.n_usable, [e.face_ok]

    def _check_nonempty(self, what: str) -> None:
        if not self.index:
            reasons = "; ".join(f"{k}: {r}" for k, r in self.skipped[:10]) or "no entries"
            raise ValueError(f"{type(self).__name__}: no {what} of {self.clip_len} frames in "
                             f"{self.cache.root} ({reasons})")

    def _video(self, e: CacheEntry, s: int) -> torch.Tensor:
        x = np.asarray(e.frames[s:s + self.clip_len])
        x = apply_video_transform(x, self.transform)  # [T, H, W, C]
        return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1, 2)))

    def _label(self, y: np.ndarray | None, s: int) -> tuple[torch.Tensor, bool]:
        if y is None:
            return torch.zeros(self.clip_len, dtype=torch.float32), False
        seg = np.asarray(y[s:s + self.clip_len], dtype=np.float32)
        return torch.from_numpy(apply_label_transform(seg, self.label_transform)), True

    _bvp_cache: dict

    def _bvp(self, e: CacheEntry):
        if not hasattr(self, "_bvp_cache") or self._bvp_cache.get("pid") != os.getpid():
            self._bvp_cache = {"pid": os.getpid()}
        if e.key not in self._bvp_cache:
            self._bvp_cache[e.key] = (e.bvp, e.radar)
        return self._bvp_cache[e.key]

    def __len__(self) -> int:
        return len(self.index)


class _AtRate(_ClipsBase):
    """Clips at one rate ``fs``: recordings at another fps are resampled (``data.clip_rate``:
    linear interpolation of frames and labels in time, before the transforms). Windows, strides
    and ``start`` are counted on the ``fs`` grid. ``fs=None`` keeps every recording's own rate."""

    def _set_rate(self, fs: float | None) -> None:
        if fs is not None and not float(fs) > 0:
            raise ValueError(f"fs must be > 0 (the model's frame rate), got {fs}")
        self.fs = None if fs is None else float(fs)

    def _rate(self, e: CacheEntry) -> float:
        """The rate of ``e``'s clips: ``fs``, or the recording's fps when ``fs`` is None."""
        return e.fps if self.fs is None else self.fs

    def _grid(self, e: CacheEntry) -> tuple[int, list]:
        return self._on_grid(e.n_usable, [e.face_ok], e.fps)

    def _on_grid(self, n: int, oks: list, fps: float) -> tuple[int, list]:
        if not needs_resampling(fps, self.fs):
            return n, oks
        return grid_length(n, fps, self.fs), [ok_on_grid(a, n, fps, self.fs) for a in oks]

    def _video_at(self, e: CacheEntry, s: int, n: int) -> torch.Tensor:
        """Clip ``s`` of ``e`` on the ``fs`` grid (``n``: usable frames of the recording)."""
        if not needs_resampling(e.fps, self.fs):
            return self._video(e, s)
        x = resample_frames(e.frames, s, self.clip_len, e.fps, self.fs, n)
        x = apply_video_transform(x, self.transform)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1, 2)))

    def _label_at(self, y: np.ndarray | None, s: int, fps: float, n: int) -> tuple[torch.Tensor, bool]:
        if y is None or not needs_resampling(fps, self.fs):
            return self._label(y, s)
        seg = resample_signal(y, s, self.clip_len, fps, self.fs, n)
        return torch.from_numpy(apply_label_transform(seg, self.label_transform)), True


class SingleViewClips(_AtRate):
    """Clips from single recordings.

    Args:
        cache: ClipCache or its folder.
        records: Recordings or keys to use (None: every usable entry).
        clip_len: T frames per clip; stride: step between clip starts (default T).
        transform: "diff_normalized" | "standardized" | "raw" or a list (channels concatenated).
        label_transform: default matches ``transform``.
        require_label: skip unlabelled recordings (else bvp is zeros and has_label False).
        views: keep only these views (None: all).
        fs: the clips' rate (the model's frame rate); recordings at another fps are resampled
            to it. None: each recording's own rate.

    Item: {"video": float32 [C, T, H, W], "bvp": float32 [T], "has_label": bool, "fps": float
    (the recording's), "fs": float (the clip's samples: ``fs``, or the recording's fps),
    "subject", "state", "view", "key": str, "start": int (on the ``fs`` grid)}.
    """

    def __init__(self, cache, records=None, clip_len: int = 180, stride: int | None = None,
                 transform="diff_normalized", label_transform: str | None = None, *,
                 require_face: bool = True, require_label: bool = True,
                 views: Sequence[str] | None = None, fs: float | None = None):
        self._set_rate(fs)
        super().__init__(cache, records, clip_len, stride, transform, label_transform,
                         require_face)
        if views is not None:
            self.entries = [e for e in self.entries if e.view in views]
        self._index_single(
            lambda e: "no bvp label" if require_label and not _has(e, "bvp") else None, "clips")

    def __getitem__(self, i: int) -> dict:
        ei, s = self.index[i]
        e = self.entries[ei]
        n = e.n_usable
        bvp, has = self._label_at(self._bvp(e)[0], s, e.fps, n)
        return {"video": self._video_at(e, s, n), "bvp": bvp, "has_label": has, "fps": e.fps,
                "fs": self._rate(e), "subject": e.subject, "state": e.state, "view": e.view,
                "key": e.key, "start": s}


class MultiViewPairs(_AtRate):
    """Teacher (frontal) / student (side) pairs of the same subject, state and time window.

    Recordings pair up by (dataset, subject, state). Both views must have the same fps
    (tolerance ``fps_tol`` Hz); frame i of one is frame i of the other. ``bvp`` is the
    teacher's label (the student's if the teacher has none). ``fs``: the clips' rate, as in
    :class:`SingleViewClips` (both views are resampled alike).

    Item: {"teacher_video", "student_video": float32 [C, T, H, W], "bvp": float32 [T],
    "has_label", "fps" (the recordings'), "fs" (the clips'), "subject", "state",
    "student_view", "teacher_key", "student_key", "start"}.
    """

    def __init__(self, cache, records=None, clip_len: int = 180, stride: int | None = None,
                 transform="diff_normalized", label_transform: str | None = None, *,
                 teacher_view: str = "frontal",
                 student_views: Sequence[str] = ("side_left", "side_right"),
                 require_face: bool = True, require_label: bool = True, fps_tol: float = 0.01,
                 fs: float | None = None):
        self._set_rate(fs)
        super().__init__(cache, records, clip_len, stride, transform, label_transform,
                         require_face)
        groups: dict[tuple, dict[str, CacheEntry]] = defaultdict(dict)
        for e in self.entries:
            groups[(e.dataset, e.subject, e.state)][e.view] = e
        self.pairs: list[tuple[CacheEntry, CacheEntry]] = []
        self.index: list[tuple[int, int]] = []
        for g in sorted(groups):
            views = groups[g]
            t = views.get(teacher_view)
            if t is None:
                for v, e in views.items():
                    if v in student_views:
                        self.skipped.append((e.key, f"no {teacher_view} recording to pair with"))
                continue
            for sv in student_views:
                st = views.get(sv)
                if st is None:
                    continue
                if abs(t.fps - st.fps) > fps_tol:
                    self.skipped.append((st.key, f"fps {st.fps} != teacher {t.fps}"))
                    continue
                has_lab = _has(t, "bvp") or _has(st, "bvp")
                if require_label and not has_lab:
                    self.skipped.append((st.key, "no bvp label"))
                    continue
                n = min(t.n_usable, st.n_usable)
                ws = self._windows(*self._on_grid(n, [t.face_ok, st.face_ok], t.fps))
                if not ws:
                    self.skipped.append((st.key, f"no full window with a face in both views "
                                                 f"({n} frames)"))
                    continue
                self.pairs.append((t, st))
                self.index += [(len(self.pairs) - 1, s) for s in ws]
        self._check_nonempty("teacher/student pairs")

    def __getitem__(self, i: int) -> dict:
        pi, s = self.index[i]
        t, st = self.pairs[pi]
        n = min(t.n_usable, st.n_usable)
        y = self._bvp(t)[0]
        if y is None:
            y = self._bvp(st)[0]
        bvp, has = self._label_at(y, s, t.fps, n)
        return {"teacher_video": self._video_at(t, s, n), "student_video": self._video_at(st, s, n),
                "bvp": bvp, "has_label": has, "fps": t.fps, "fs": self._rate(t), "subject": t.subject,
                "state": t.state, "student_view": st.view, "teacher_key": t.key,
                "student_key": st.key, "start": s}


class VideoRadarPairs(_ClipsBase):
    """Video clip and the radar [10, T] of the same window (radar resampled to frame rate by
    the reader). ``radar_transform``: "standardized" (per channel, per clip) or "raw".
    Unlabelled recordings are kept by default (``has_label`` False, bvp zeros): the radar
    teacher distils into the video student without labels.

    A pair can also be read with its radar window starting ``radar_offset`` samples after the
    video clip's (:meth:`item`; RPM-Distill's radar-shift robustness test, 30 samples = 1 s), taken
    from the recording itself: the radar may run past the last frame (cache entry ``radar_tail``).
    :meth:`radar_room` says how many radar samples follow a clip's window; a window without room
    is refused, never wrapped around.

    Item: {"video": float32 [C, T, H, W], "radar": float32 [10, T], "bvp": float32 [T],
    "has_label": bool, "fps", "subject", "state", "view", "key", "start", "radar_offset": int}.
    """

    def __init__(self, cache, records=None, clip_len: int = 180, stride: int | None = None,
                 transform="diff_normalized", label_transform: str | None = None, *,
                 radar_transform: str = "standardized", require_face: bool = True,
                 require_label: bool = False):
        super().__init__(cache, records, clip_len, stride, transform, label_transform,
                         require_face)
        if radar_transform not in ("standardized", "raw"):
            raise ValueError(f"radar_transform must be standardized or raw, not {radar_transform!r}")
        self.radar_transform = radar_transform

        def reject(e: CacheEntry) -> str | None:
            if not _has(e, "radar"):
                return "no radar"
            return "no bvp label" if require_label and not _has(e, "bvp") else None

        self._index_single(reject, "video/radar clips")

    def radar_room(self, i: int) -> int:
        """Radar samples of clip ``i``'s recording after the end of its window (>= 0)."""
        ei, s = self.index[i]
        return int(self._bvp(self.entries[ei])[1].shape[1]) - (s + self.clip_len)

    def item(self, i: int, radar_offset: int = 0) -> dict:
        """Clip ``i`` with its radar window starting ``radar_offset`` samples after the video's.

        Raises:
            ValueError: the recording's radar ends before the shifted window does.
        """
        ei, s = self.index[i]
        e = self.entries[ei]
        y, radar = self._bvp(e)
        off = int(radar_offset)
        if off < 0 or s + off + self.clip_len > radar.shape[1]:
            raise ValueError(f"{e.key}: a radar window at {s}+{off} of {self.clip_len} samples does not fit "
                             f"the {radar.shape[1]} radar samples of the recording")
        bvp, has = self._label(y, s)
        r = np.asarray(radar[:, s + off:s + off + self.clip_len], dtype=np.float32)
        if self.radar_transform == "standardized":
            r = standardize_channels(r)
        return {"video": self._video(e, s), "radar": torch.from_numpy(np.ascontiguousarray(r)),
                "bvp": bvp, "has_label": has, "fps": e.fps, "subject": e.subject,
                "state": e.state, "view": e.view, "key": e.key, "start": s, "radar_offset": off}

    def __getitem__(self, i: int) -> dict:
        return self.item(i, 0)
