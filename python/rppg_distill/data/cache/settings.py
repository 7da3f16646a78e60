"""Preprocessing settings: :class:`PreprocessSettings` (backend, tracker, thresholds, workers).

``PreprocessSettings.from_dict(d)`` accepts tracker fields nested under ``"tracker"`` or flat;
``to_dict()`` is the JSON form stored in every manifest and in the report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rppg_distill.data.face import TrackerSettings


@dataclass
class PreprocessSettings:
    """What preprocessing does. ``workers`` and ``progress`` do not affect the output.

    backend / backend_cfg: face backend name and its settings (e.g. {"model_path": ...}).
    tracker: detection cadence, smoothing, box coefficient and crop size.
    min_face_frac: an entry with fewer frames backed by a detection than this is flagged
        ("face_lost"); it is still written, and its ``face_ok`` frames mark what is usable.
    label_tolerance: a label may differ from the frame count by this many frames (both are then
        cut to the shorter); a larger difference flags the recording ("label_mismatch").
    workers: worker processes (0: run in this process). on_error: "flag" or "raise".
    start_method: multiprocessing start method for the workers (None: "spawn", safe after
        OpenCV/torch threads exist; "fork" starts faster but can deadlock after them).
    stream: decode videos that exist on disk frame by frame in the workers instead of calling
        the reader's whole-video ``frame_loader`` (see :func:`iter_frames`).
    """

    backend: str = "haar"
    backend_cfg: dict = field(default_factory=dict)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    min_face_frac: float = 0.5
    label_tolerance: int = 0
    workers: int = 0
    progress: bool = True
    on_error: str = "flag"
    start_method: str | None = None
    stream: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> PreprocessSettings:
        d = dict(d or {})
        tr = dict(d.pop("tracker", {}) or {})
        for k in [k for k in d if k in {f.name for f in dataclasses.fields(TrackerSettings)}]:
            tr[k] = d.pop(k)
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown preprocess settings: {sorted(unknown)}")
        return cls(tracker=TrackerSettings(**tr), **d)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["tracker"] = self.tracker.to_dict()
        return d
