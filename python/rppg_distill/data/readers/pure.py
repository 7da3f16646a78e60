"""PURE reader: frames ``{SS-TT}/{SS-TT}/Image*.png``, labels ``{SS-TT}.json``.

The JSON holds ``/FullPackage[i]`` entries with ``Timestamp`` (ns) and ``Value.waveform`` (the
pulse-oximeter PPG, ~60 Hz), and ``/Image[i].Timestamp`` (ns) for the frames. Frame file names are
``Image{timestamp_ns}.png``; frame times come from the JSON ``/Image`` list when it matches the
frame count, else from the file names. The PPG is resampled (linear interpolation) to the frame
times; fps = 1 / median frame interval (``fps=`` overrides). Frames outside the PPG time span
by more than ``tolerance_frames`` frame intervals are an error, never extrapolated silently.
Subjects (``SS``) sort numerically; the state is the task ``TT``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from rppg_distill.data.readers._common import DEFAULT_TOLERANCE_FRAMES, ErrorSink, check_fps, natural_key
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import read_frame_folder

NAME = "pure"
_SESSION = re.compile(r"^(\d+)-(\d+)$")


def _frame_times(folder: Path, labels: dict) -> tuple[list[Path], np.ndarray]:
    files = sorted(folder.glob("Image*.png"), key=lambda p: natural_key(p.name))
    if not files:
        raise ValueError(f"no Image*.png frames in {folder}")
    img = labels.get("/Image") or []
    if len(img) == len(files):
        ts = np.array([float(e["Timestamp"]) for e in img])
    else:
        try:
            ts = np.array([float(re.sub(r"\D", "", p.stem)) for p in files])
        except ValueError:
            raise ValueError(f"{folder}: frame names carry no timestamps and /Image does not match") from None
    return files, ts * 1e-9


def read(root: str | Path, *, fps: float | None = None, subjects=None,
         tolerance_frames: int = DEFAULT_TOLERANCE_FRAMES, on_error: str = "raise",
         skipped: list | None = None) -> list[Recording]:
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"PURE root not found: {root}")
    sessions = sorted((int(m.group(1)), int(m.group(2)), d) for d in root.iterdir()
                      if d.is_dir() and (m := _SESSION.match(d.name)))
    sink = ErrorSink(on_error, skipped)
    recs = []
    for subj, task, d in sessions:
        if subjects is not None and str(subj) not in {str(s) for s in subjects}:
            continue
        try:
            jpath = root / f"{d.name}.json"
            if not jpath.is_file():
                jpath = d / f"{d.name}.json"
            if not jpath.is_file():
                raise ValueError(f"label file not found: {root / (d.name + '.json')}")
            try:
                labels = json.loads(jpath.read_text())
                pkgs = labels["/FullPackage"]
                pt = np.array([float(p["Timestamp"]) for p in pkgs]) * 1e-9
                pv = np.array([float(p["Value"]["waveform"]) for p in pkgs])
            except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
                raise ValueError(f"{jpath}: not a PURE label file ({type(err).__name__}: {err})") from None
            if len(pt) < 2:
                raise ValueError(f"{jpath}: fewer than 2 PPG samples")
            frame_dir = d / d.name if (d / d.name).is_dir() else d
            files, ft = _frame_times(frame_dir, labels)
            dt = float(np.median(np.diff(ft))) if len(ft) > 1 else 0.0
            rate = check_fps(fps if fps is not None else (1.0 / dt if dt > 0 else 0.0), str(frame_dir))
            order = np.argsort(pt)
            pt, pv = pt[order], pv[order]
            tol_s = tolerance_frames / rate
            if ft[0] < pt[0] - tol_s or ft[-1] > pt[-1] + tol_s:
                raise ValueError(f"{d.name}: frames span {ft[0]:.3f}-{ft[-1]:.3f} s but the PPG covers "
                                 f"{pt[0]:.3f}-{pt[-1]:.3f} s (beyond tolerance {tolerance_frames} frames)")
            bvp = np.interp(ft, pt, pv).astype(np.float32)
            n = len(files)
            recs.append(Recording(
                dataset=NAME, subject=str(subj), view="frontal", video=frame_dir, fps=rate, state=f"{task:02d}",
                bvp=bvp, meta={"label_file": str(jpath), "frame_times_s": ft - ft[0], "n_frames": n},
                frame_loader=lambda fd=frame_dir, n=n: _load(fd, n)))
        except ValueError as err:
            sink(d.name, err)
    return recs


def _load(folder: Path, n: int) -> np.ndarray:
    frames = read_frame_folder(folder, "Image*.png")
    if len(frames) != n:
        raise ValueError(f"{folder}: {len(frames)} frames, expected {n}")
    return frames
