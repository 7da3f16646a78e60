"""Shared checks for dataset readers.

Length policy (every reader): the label length must equal the video frame count within
``tolerance_frames`` (default 2 frames: encoders and label exporters often differ by one frame at
the ends). Within the tolerance the longer of the two is cut to the shorter; the cut is recorded in
``Recording.meta["trimmed_frames"]`` (and the frame loader applies the same cut). Beyond it the
reader raises ValueError naming the files; it never pads.

Error policy: ``on_error="raise"`` (default) raises the first ValueError; ``on_error="skip"``
leaves the recording out, warns, and appends ``(name, reason)`` to the ``skipped`` list if given.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rppg_distill.data.video_io import natural_key  # noqa: F401  (re-exported for the readers)

DEFAULT_TOLERANCE_FRAMES = 2


class ErrorSink:
    """Implements the raise/skip policy."""

    def __init__(self, on_error: str = "raise", skipped: list | None = None):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.skipped = skipped if skipped is not None else []

    def __call__(self, name: str, err: Exception) -> None:
        if self.on_error == "raise":
            raise err if isinstance(err, ValueError) else ValueError(f"{name}: {err}") from err
        self.skipped.append((str(name), str(err)))
        warnings.warn(f"skipping {name}: {err}", stacklevel=3)


def reconcile_lengths(n_frames: int, n_label: int, tolerance: int, what: str) -> int:
    """Return the common length, or raise ValueError when they differ by more than ``tolerance``."""
    if n_frames <= 0:
        raise ValueError(f"{what}: video has 0 frames")
    if n_label <= 0:
        raise ValueError(f"{what}: label is empty")
    if abs(n_frames - n_label) > tolerance:
        rel = "shorter" if n_label < n_frames else "longer"
        raise ValueError(f"{what}: label has {n_label} samples, video has {n_frames} frames "
                         f"(label {rel} by {abs(n_frames - n_label)} > tolerance {tolerance})")
    return min(n_frames, n_label)


def check_fps(fps: float, what: str) -> float:
    if fps is None or not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"{what}: invalid fps {fps!r} (0 or missing in the header; pass fps= to override)")
    return float(fps)


def read_first_token_lines(path: Path) -> np.ndarray:
    """One value per line, the first whitespace/comma-separated token; blank lines ignored."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"label file not found: {path}")
    vals = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            tok = re.split(r"[\s,;]+", line)[0]
            try:
                vals.append(float(tok))
            except ValueError:
                if i == 1:  # tolerate one header line
                    continue
                raise ValueError(f"label file {path}, line {i}: not a number: {tok!r}") from None
    if not vals:
        raise ValueError(f"label file is empty: {path}")
    arr = np.asarray(vals, np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"label file has NaN/inf values: {path}")
    return arr


def checked_loader(load: Callable[[], np.ndarray], n: int, tolerance: int, what: str,
                   start: int = 0) -> Callable[[], np.ndarray]:
    """Wrap a frame loader: decode, verify the real frame count, apply the same cut as the labels."""

    def loader() -> np.ndarray:
        frames = load()
        got = len(frames) - start
        if got < n or got - n > tolerance:
            raise ValueError(f"{what}: decoded {got} frames, expected {n} from the header/labels "
                             f"(tolerance {tolerance}; use verify='decode' to count frames at read time)")
        return frames[start:start + n]

    return loader
