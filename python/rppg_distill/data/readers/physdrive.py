"""PhysDrive reader (RGB + mmWave, in-vehicle), minimal and configuration-driven.

Default layout (the release's layout is less certain than the others, so every name is a
parameter): ``{subject}/{A|B|C}{S|T}/RGB.mp4`` and ``{subject}/{cond}/Label/BVP.mat`` (key
``"BVP"``); optional radar ``{subject}/{cond}/mmwave.mat`` (complex range-azimuth-Doppler crops,
kept only as a path in ``meta["mmwave"]``; no processing here). The BVP is taken at frame rate when
its length matches the frame count within ``tolerance_frames``; if it is an integer multiple
``label_fps / fps`` it is resampled by interpolation (``label_fps`` given), else an error.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rppg_distill.data.readers._common import (
    DEFAULT_TOLERANCE_FRAMES,
    ErrorSink,
    check_fps,
    checked_loader,
    natural_key,
    reconcile_lengths,
)
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import read_video, video_info

NAME = "physdrive"


def read(root: str | Path, *, video_name: str = "RGB.mp4", label_path: str = "Label/BVP.mat",
         label_key: str = "BVP", condition_pattern: str = r"^[ABC][ST]$", radar_name: str = "mmwave.mat",
         fps: float | None = None, label_fps: float | None = None, subjects=None,
         tolerance_frames: int = DEFAULT_TOLERANCE_FRAMES, on_error: str = "raise",
         skipped: list | None = None) -> list[Recording]:
    from scipy.io import loadmat

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"PhysDrive root not found: {root}")
    cond_re = re.compile(condition_pattern)
    sink = ErrorSink(on_error, skipped)
    recs = []
    for sdir in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name)):
        if subjects is not None and sdir.name not in {str(s) for s in subjects}:
            continue
        for cdir in sorted((p for p in sdir.iterdir() if p.is_dir() and cond_re.match(p.name)),
                           key=lambda p: p.name):
            name = f"{sdir.name}/{cdir.name}"
            try:
                video = cdir / video_name
                lab = cdir / label_path
                if not lab.is_file():
                    raise ValueError(f"label file not found: {lab}")
                try:
                    mat = loadmat(str(lab))
                except Exception as err:
                    raise ValueError(f"{lab}: unreadable .mat ({err})") from None
                if label_key not in mat:
                    keys = sorted(k for k in mat if not k.startswith("__"))
                    raise ValueError(f"{lab}: no key {label_key!r} (keys: {keys})")
                bvp = np.asarray(mat[label_key], np.float64).reshape(-1)
                info = video_info(video)
                rate = check_fps(fps if fps is not None else info["fps"], str(video))
                n_frames = info["frame_count"] if info["frame_count"] > 0 else len(read_video(video))
                if label_fps and abs(label_fps - rate) > 1e-6:
                    t_lab = np.arange(len(bvp)) / label_fps
                    t_vid = np.arange(n_frames) / rate
                    if t_vid[-1] > t_lab[-1] + tolerance_frames / rate:
                        raise ValueError(f"{name}: BVP covers {t_lab[-1]:.2f} s, video {t_vid[-1]:.2f} s")
                    bvp = np.interp(t_vid, t_lab, bvp)
                n = reconcile_lengths(n_frames, len(bvp), tolerance_frames, f"{name}: {video_name} vs {label_path}")
                rad = cdir / radar_name
                recs.append(Recording(
                    dataset=NAME, subject=sdir.name, view="frontal", video=video, fps=rate, state=cdir.name,
                    bvp=bvp[:n].astype(np.float32),
                    meta={"label_file": str(lab), "mmwave": str(rad) if rad.is_file() else None, "n_frames": n},
                    frame_loader=checked_loader(lambda v=video: read_video(v), n, tolerance_frames, str(video))))
            except ValueError as err:
                sink(name, err)
    return recs
