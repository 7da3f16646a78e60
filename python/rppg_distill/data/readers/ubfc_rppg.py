"""UBFC-rPPG (DATASET_2) reader: ``subject{N}/vid.avi`` + ``subject{N}/ground_truth.txt``.

``ground_truth.txt`` has 3 lines (PPG, HR in bpm, time in s), each a whitespace-separated float
series with one value per video frame. Subjects are sorted by number, never directory order.
fps comes from the video header (``fps=`` overrides). Length/error policy: see ``_common``.
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
    reconcile_lengths,
)
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import read_video, video_info

NAME = "ubfc_rppg"
_SUBJ = re.compile(r"^subject(\d+)$")


def read_ground_truth(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ppg, hr_bpm, time_s) float32 arrays from a UBFC ``ground_truth.txt``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"label file not found: {path}")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if len(lines) < 3:
        raise ValueError(f"{path}: expected 3 lines (PPG, HR, time), found {len(lines)}")
    try:
        ppg, hr, t = (np.array(ln.split(), dtype=np.float64) for ln in lines[:3])
    except ValueError as err:
        raise ValueError(f"{path}: non-numeric value ({err})") from None
    if not (len(ppg) == len(hr) == len(t)):
        raise ValueError(f"{path}: line lengths differ (PPG {len(ppg)}, HR {len(hr)}, time {len(t)})")
    if len(ppg) == 0 or not np.all(np.isfinite(ppg)):
        raise ValueError(f"{path}: PPG line is empty or has NaN/inf")
    return ppg.astype(np.float32), hr.astype(np.float32), t.astype(np.float32)


def read(root: str | Path, *, fps: float | None = None, subjects=None,
         tolerance_frames: int = DEFAULT_TOLERANCE_FRAMES, video_name: str = "vid.avi",
         on_error: str = "raise", skipped: list | None = None) -> list[Recording]:
    """Read UBFC-rPPG subjects under ``root`` (sorted numerically)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"UBFC-rPPG root not found: {root}")
    dirs = [(int(m.group(1)), d) for d in root.iterdir() if d.is_dir() and (m := _SUBJ.match(d.name))]
    dirs.sort()
    sink = ErrorSink(on_error, skipped)
    recs = []
    for num, d in dirs:
        if subjects is not None and str(num) not in {str(s) for s in subjects}:
            continue
        video = d / video_name
        try:
            ppg, hr, t = read_ground_truth(d / "ground_truth.txt")
            info = video_info(video)
            rate = check_fps(fps if fps is not None else info["fps"], str(video))
            n_frames = info["frame_count"] if info["frame_count"] > 0 else len(read_video(video))
            n = reconcile_lengths(n_frames, len(ppg), tolerance_frames, f"{d.name}/{video_name} vs ground_truth.txt")
            hr_ok = hr[:n][np.isfinite(hr[:n]) & (hr[:n] > 0)]
            recs.append(Recording(
                dataset=NAME, subject=str(num), view="frontal", video=video, fps=rate, bvp=ppg[:n],
                hr_bpm=float(hr_ok.mean()) if hr_ok.size else None,
                meta={"label_file": str(d / "ground_truth.txt"), "time_s": t[:n], "hr_series": hr[:n],
                      "n_frames": n, "trimmed_frames": {"video": n_frames - n, "label": len(ppg) - n}},
                frame_loader=checked_loader(lambda v=video: read_video(v), n, tolerance_frames, str(video))))
        except ValueError as err:
            sink(d.name, err)
    return recs
