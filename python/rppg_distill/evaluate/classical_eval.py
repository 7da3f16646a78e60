"""Evaluate classical methods on face-crop clips (cache entries or anything with the same fields)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rppg_distill.classical import rgb_trace, run_method
from rppg_distill.evaluate.pipeline import evaluate_signal, summarize
from rppg_distill.evaluate.tables import per_view_table


@dataclass
class Clip:
    """Minimal clip: what ``evaluate_classical`` needs (a ``ClipCache`` entry has the same fields)."""

    key: str
    view: str
    subject: str
    fps: float
    frames: np.ndarray        # uint8 [N, H, W, 3] face crops
    bvp: np.ndarray | None    # [N] label


def evaluate_classical(clips, methods=("pos",), *, protocol="crossview", window_s: float | None = 20.0,
                       stride_s: float | None = None, skin_mask=None, on_error: str = "raise"):
    """Run classical methods on clips and read HR per window from prediction and label.

    Args:
        clips: iterable of objects with ``key, view, subject, fps, frames [N,H,W,3], bvp [N]``
            (``ClipCache`` entries, or ``Clip``). Clips without a label are skipped (listed).
        methods: method names (see ``rppg_distill.classical.METHODS``).
        protocol, window_s, stride_s: HR protocol and windows (``evaluate_signal``).
        skin_mask: passed to ``rgb_trace`` (None: all crop pixels; "ycrcb": skin thresholds).
        on_error: "raise", or "skip" to list failing clips in ``skipped`` and go on.

    Returns:
        (rows, skipped): rows are window dicts with ``method, key, view, subject`` added;
        skipped is a list of (key, reason).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    rows, skipped = [], []
    for clip in clips:
        bvp = clip.bvp
        if bvp is None:
            skipped.append((clip.key, "no label"))
            continue
        try:
            frames = np.asarray(clip.frames)
            n = min(len(frames), len(bvp), int(getattr(clip, "n_usable", len(frames)) or len(frames)))
            trace = rgb_trace(frames[:n], skin_mask=skin_mask)
            label = np.asarray(bvp[:n], dtype=np.float64)
            for m in methods:
                pred = run_method(m, trace, clip.fps)
                for r in evaluate_signal(pred, label, clip.fps, protocol, window_s, stride_s):
                    rows.append(dict(r, method=m, key=clip.key, view=clip.view,
                                     subject=str(clip.subject)))
        except ValueError as err:
            if on_error == "raise":
                raise ValueError(f"{clip.key}: {err}") from err
            skipped.append((clip.key, str(err)))
    return rows, skipped


def classical_table(rows, value: str = "mae", digits: int = 2):
    """Per-view table (rows = methods) of a metric from ``evaluate_classical`` rows."""
    records = []
    for (method, view), m in summarize(rows, by=("method", "view")).items():
        records.append({"method": method, "view": view, value: m[value]})
    return per_view_table(records, value=value, digits=digits)
