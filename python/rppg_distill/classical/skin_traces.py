"""Real skin RGB traces with contact HR (``shared/realdata/skin_traces.npz``) and the pipeline's
accuracy on them (used by bench/real_skin.py and the regression test).

The file holds per-frame mean R, G, B of real cheek videos with one mean contact HR per video
(keys ``names, rgb [sum T, 3], lengths, hr_bpm, fps``; see its README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "RPPG_DISTILL_REALDATA"
FILE_NAME = "skin_traces.npz"


@dataclass(frozen=True)
class SkinTrace:
    name: str
    rgb: np.ndarray       # float64 [T, 3]
    fs: float
    hr_bpm: float         # contact mean HR of the video


def find_realdata(start: str | Path | None = None) -> Path | None:
    """The folder holding ``skin_traces.npz``: ``$RPPG_DISTILL_REALDATA``, else ``../shared/realdata``
    next to the checkout that holds ``start`` (or any parent of it); None when absent."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env) if (Path(env) / FILE_NAME).is_file() else None
    here = Path(start or Path.cwd()).resolve()
    for p in [here, *here.parents]:
        cand = p.parent / "shared" / "realdata"
        if (cand / FILE_NAME).is_file():
            return cand
    return None


def load_skin_traces(path: str | Path) -> list[SkinTrace]:
    """Read ``skin_traces.npz`` (a file or its folder); ValueError when its layout is wrong."""
    p = Path(path)
    if p.is_dir():
        p = p / FILE_NAME
    if not p.is_file():
        raise FileNotFoundError(f"skin traces not found: {p}")
    with np.load(p, allow_pickle=False) as d:
        missing = {"names", "rgb", "lengths", "hr_bpm", "fps"} - set(d.files)
        if missing:
            raise ValueError(f"{p}: missing keys {sorted(missing)}")
        names, rgb, lengths = d["names"], d["rgb"], d["lengths"].astype(np.int64)
        hr, fs = d["hr_bpm"].astype(np.float64), d["fps"].astype(np.float64)
    if not (len(names) == len(lengths) == len(hr) == len(fs)) or rgb.shape != (lengths.sum(), 3):
        raise ValueError(f"{p}: inconsistent sizes (names {len(names)}, lengths {len(lengths)}, "
                         f"hr {len(hr)}, fps {len(fs)}, rgb {rgb.shape} vs sum {lengths.sum()})")
    off = np.concatenate([[0], np.cumsum(lengths)])
    return [SkinTrace(str(names[i]), rgb[off[i]:off[i + 1]].astype(np.float64), float(fs[i]),
                      float(hr[i])) for i in range(len(names))]


def evaluate_on_traces(traces, pipeline) -> dict:
    """Accuracy of a ``ClassicalPipeline`` against each trace's contact mean HR.

    Returns a dict: ``recording_mae`` / ``recording_within5`` (the pipeline's recording HR,
    i.e. the aggregate of its window HRs), ``window_mae`` / ``window_within5`` (every
    ``window_s`` window against the recording's mean HR, so true HR changes count as error),
    ``n``, ``n_windows`` and ``per_trace`` [(name, truth, estimate)].
    """
    rec_err, win_err, per = [], [], []
    for tr in traces:
        _, pulses = pipeline.window_pulses(tr.rgb, tr.fs)
        hrs = np.atleast_1d(pipeline.peak_hr(pulses, tr.fs))
        est = pipeline.aggregate_windows(pulses, tr.fs)
        rec_err.append(abs(est - tr.hr_bpm))
        win_err.append(np.abs(hrs - tr.hr_bpm))
        per.append((tr.name, tr.hr_bpm, est))
    rec, win = np.array(rec_err), np.concatenate(win_err)
    return {"recording_mae": float(rec.mean()), "recording_within5": float((rec <= 5).mean()),
            "window_mae": float(win.mean()), "window_within5": float((win <= 5).mean()),
            "n": len(rec), "n_windows": int(win.size), "per_trace": per}
