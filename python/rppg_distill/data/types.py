"""The record every reader returns: one video of one subject in one view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VIEWS = ("frontal", "side_left", "side_right")


@dataclass
class Recording:
    """One video of one subject in one view, with its labels.

    Attributes:
        dataset: dataset name, e.g. "mcd_rppg", "ubfc_rppg", "synthetic".
        subject: subject id (splits are by subject).
        state: recording state ("before"/"after" in MCD-rPPG; "" when the dataset has none).
        view: "frontal", "side_left" or "side_right" (single-view datasets use "frontal").
        camera: the raw camera name of the dataset.
        video: path of the video file or of the frame folder.
        fps: frame rate read from the file (or an explicit override).
        bvp: float32 [N] pulse label at frame rate, or None when unlabelled.
        radar: float32 [10, N] radar I/Q of 5 range bins at frame rate, or None; [10, N + tail]
            when the radar ran on past the last frame (``meta["radar_tail"]`` = tail samples).
        hr_bpm: average ground-truth heart rate when known.
        meta: anything else the reader knows (e.g. radar lag, source files).
        frame_loader: callable returning uint8 [N, H, W, 3] RGB frames; set by the reader.
    """

    dataset: str
    subject: str
    view: str
    video: Path
    fps: float
    state: str = ""
    camera: str = ""
    bvp: np.ndarray | None = None
    radar: np.ndarray | None = None
    hr_bpm: float | None = None
    meta: dict = field(default_factory=dict)
    frame_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        """A unique, filesystem-safe id: dataset/subject/state/view."""
        parts = [self.dataset, self.subject, self.state or "-", self.view]
        return "__".join(p.replace("/", "_") for p in parts)

    @property
    def has_label(self) -> bool:
        return self.bvp is not None

    def load_frames(self) -> np.ndarray:
        """Decode all frames: uint8 [N, H, W, 3] RGB. Raises ValueError naming the file if unreadable."""
        if self.frame_loader is None:
            from rppg_distill.data.video_io import read_video

            return read_video(self.video)
        return self.frame_loader()
