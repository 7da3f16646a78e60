"""MCD-rPPG reader ("Gaze into the heart", Egorov et al. 2025): three cameras, states before/after.

Layout (DATASETS.md): ``video/{pid}_{camera}_{state}.avi``, ``ppg_sync/{pid}_{camera}_{state}.txt``
(PPG at frame rate, first token per line), ``ppg/{pid}_{state}.PW`` (raw PPG, 100 Hz) and
``db.csv`` (patient_id, camera, step, video, ppg_sync, pulse, age, bmi, ...).

The camera -> view mapping is configuration (``camera_views``); the default maps cam2
``USBVideo`` to ``frontal`` and cam1 ``FullHDwebcam`` / cam3 ``IriunWebcam`` to the sides (which
camera is frontal in the release is not certain). Each video's fps is read from its own header
(24 and 30 have been reported); ``fps=`` overrides it. Length/error policy: see ``_common``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rppg_distill.data.readers._common import (
    DEFAULT_TOLERANCE_FRAMES,
    ErrorSink,
    check_fps,
    checked_loader,
    natural_key,
    read_first_token_lines,
    reconcile_lengths,
)
from rppg_distill.data.types import VIEWS, Recording
from rppg_distill.data.video_io import read_video, video_info

NAME = "mcd_rppg"
DEFAULT_CAMERA_VIEWS = {"FullHDwebcam": "side_left", "USBVideo": "frontal", "IriunWebcam": "side_right"}
STATE_ORDER = {"before": 0, "after": 1}


def _parse_stem(stem: str) -> tuple[str, str, str]:
    parts = stem.split("_")
    if len(parts) < 3:
        raise ValueError(f"MCD-rPPG video name is not {{pid}}_{{camera}}_{{state}}: {stem}")
    return "_".join(parts[:-2]), parts[-2], parts[-1]


def _entries(root: Path, use_db: bool) -> list[dict]:
    db = root / "db.csv"
    if use_db and db.is_file():
        with open(db, newline="") as f:
            rows = list(csv.DictReader(f))
        out = []
        for r in rows:
            video = r.get("video") or ""
            if not video:
                continue
            stem = Path(video).stem
            pid, cam, state = _parse_stem(stem)
            out.append({"pid": str(r.get("patient_id") or pid), "camera": r.get("camera") or cam,
                        "state": r.get("step") or state, "video": root / video,
                        "ppg_sync": root / (r.get("ppg_sync") or f"ppg_sync/{stem}.txt"),
                        "pulse": r.get("pulse"), "db": dict(r.items())})
        # de-duplicate (db.csv may hold one row per biomarker set)
        seen, uniq = set(), []
        for e in out:
            if e["video"] not in seen:
                seen.add(e["video"])
                uniq.append(e)
        return uniq
    vdir = root / "video"
    if not vdir.is_dir():
        raise ValueError(f"MCD-rPPG root has neither db.csv nor a video/ folder: {root}")
    out = []
    for v in vdir.glob("*.avi"):
        pid, cam, state = _parse_stem(v.stem)
        out.append({"pid": pid, "camera": cam, "state": state, "video": v,
                    "ppg_sync": root / "ppg_sync" / f"{v.stem}.txt", "pulse": None, "db": {}})
    return out


def read(root: str | Path, *, camera_views: dict | None = None, views=None, states=None,
         subjects=None, fps: float | None = None, tolerance_frames: int = DEFAULT_TOLERANCE_FRAMES,
         use_db: bool = True, verify: str = "header", on_error: str = "raise",
         skipped: list | None = None) -> list[Recording]:
    """Read MCD-rPPG recordings under ``root``.

    Args:
        camera_views: camera name -> view (default ``DEFAULT_CAMERA_VIEWS``).
        views, states, subjects: optional filters (iterables of names).
        fps: override the header fps of every video.
        tolerance_frames: allowed |label length - frame count| (see ``_common``).
        use_db: list recordings from db.csv when present (else from ``video/*.avi``).
        verify: "header" (frame count from the AVI header; decoding re-checks it) or "decode"
            (decode every video now to count frames; slow, exact).
        on_error, skipped: error policy (see ``_common``).
    Returns recordings sorted by numeric subject id, state (before, after), view.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"MCD-rPPG root not found: {root}")
    cams = dict(camera_views or DEFAULT_CAMERA_VIEWS)
    bad = set(cams.values()) - set(VIEWS)
    if bad:
        raise ValueError(f"camera_views maps to unknown views {sorted(bad)}; views are {VIEWS}")
    sink = ErrorSink(on_error, skipped)
    recs: list[Recording] = []
    for e in _entries(root, use_db):
        name = Path(e["video"]).name
        try:
            if e["camera"] not in cams:
                raise ValueError(f"{name}: camera {e['camera']!r} is not in camera_views {sorted(cams)}")
            view = cams[e["camera"]]
            if views is not None and view not in set(views):
                continue
            if states is not None and e["state"] not in set(states):
                continue
            if subjects is not None and e["pid"] not in {str(s) for s in subjects}:
                continue
            info = video_info(e["video"])
            rate = check_fps(fps if fps is not None else info["fps"], str(e["video"]))
            n_frames = info["frame_count"]
            if verify == "decode" or n_frames <= 0:
                n_frames = len(read_video(e["video"]))
            bvp = read_first_token_lines(e["ppg_sync"])
            n = reconcile_lengths(n_frames, len(bvp), tolerance_frames, f"{name} vs {Path(e['ppg_sync']).name}")
            hr = None
            try:
                hr = float(e["pulse"]) if e["pulse"] not in (None, "") else None
            except ValueError:
                hr = None
            video = Path(e["video"])
            raw = root / "ppg" / f"{e['pid']}_{e['state']}.PW"
            recs.append(Recording(
                dataset=NAME, subject=e["pid"], view=view, video=video, fps=rate, state=e["state"],
                camera=e["camera"], bvp=bvp[:n], hr_bpm=hr,
                meta={"label_file": str(e["ppg_sync"]), "raw_ppg": str(raw) if raw.is_file() else None,
                      "n_frames": n, "trimmed_frames": {"video": n_frames - n, "label": len(bvp) - n},
                      "db": e["db"]},
                frame_loader=checked_loader(lambda v=video: read_video(v), n, tolerance_frames, name)))
        except ValueError as err:
            sink(name, err)
    recs.sort(key=lambda r: (natural_key(r.subject), STATE_ORDER.get(r.state, 9), r.state,
                             VIEWS.index(r.view)))
    return recs


def read_raw_ppg(path: str | Path) -> np.ndarray:
    """The raw 100 Hz PPG of a ``.PW`` file (one value per line, first token)."""
    return read_first_token_lines(Path(path))
