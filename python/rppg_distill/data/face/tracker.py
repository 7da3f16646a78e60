"""Per-video face tracking: detect every N frames, smooth the box, enlarge it, crop and resize.

Streaming and bounded in memory: frames go in one at a time and crops come out in order. Frames
seen before the first detection are buffered (at most ``max_lead_frames``) and cropped with the
first box found. A frame whose box is not backed by a recent detection is marked ``face_ok=False``
and its crop is cropped at the last known box: the crop is never the full frame, and the flags
let the clip datasets drop those windows. A video with no face at all raises NoFaceError.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from rppg_distill.data.face.base import FaceBackend, NoFaceError, crop_resize, enlarge_box

MAX_BACKOFF_FRAMES = 16  # longest wait between detector calls while no face is found
TRACKED_MIN_SIDE = 0.6   # while a face is followed, faces under this share of its side are ignored


@dataclass(frozen=True)
class TrackerSettings:
    """Settings that change the boxes and crops (all of them go into the cache settings hash).

    detect_every: run the detector every N frames (1: every frame). After a miss it retries
        after 1, 2, 4, ... frames (at most ``detect_every``), so a video without a face does
        not pay for a detection on every frame; ``backoff=False`` retries on every frame.
    smoothing: "median" (running median of the last ``window`` detections), "kalman"
        (constant-velocity Kalman filter per box coordinate) or "none".
    coef: enlarge the detected box by this factor about its centre (square boxes).
    size: output crop side in pixels.
    max_hold: a box stays valid this many frames after its last detection; later frames get
        ``face_ok=False``.
    max_lead_frames: frames buffered while waiting for the first detection.
    """

    detect_every: int = 10
    smoothing: str = "median"
    window: int = 5
    coef: float = 1.5
    size: int = 72
    max_hold: int = 60
    max_lead_frames: int = 300
    kalman_q: float = 1.0
    kalman_r: float = 16.0
    backoff: bool = True

    def __post_init__(self):
        if self.detect_every < 1 or self.window < 1 or self.size < 8 or self.coef <= 0:
            raise ValueError(f"invalid tracker settings: {self}")
        if self.smoothing not in ("median", "kalman", "none"):
            raise ValueError(f"smoothing must be median, kalman or none, not {self.smoothing!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class _Kalman:
    """Constant-velocity Kalman filter on (cx, cy, side), one independent 2-state filter each."""

    def __init__(self, z: np.ndarray, q: float, r: float):
        self.x = np.stack([z, np.zeros_like(z)], axis=1)  # [3, 2] (position, velocity)
        self.P = np.tile(np.diag([r, 100.0]), (len(z), 1, 1))
        self.q, self.r = q, r
        self.F = np.array([[1.0, 1.0], [0.0, 1.0]])
        self.Q = q * np.array([[0.25, 0.5], [0.5, 1.0]])

    def predict(self, steps: int) -> None:
        for _ in range(steps):
            self.x = self.x @ self.F.T
            self.P = self.F @ self.P @ self.F.T + self.Q

    def update(self, z: np.ndarray) -> np.ndarray:
        S = self.P[:, 0, 0] + self.r
        K = self.P[:, :, 0] / S[:, None]  # [3, 2]
        y = z - self.x[:, 0]
        self.x = self.x + K * y[:, None]
        I_KH = np.eye(2)[None] - K[:, :, None] * np.array([1.0, 0.0])[None, None, :]
        self.P = I_KH @ self.P
        return self.x[:, 0].copy()


def _to_csz(box: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    return np.array([x + w / 2, y + h / 2, max(w, h)])


def _from_csz(c: np.ndarray) -> np.ndarray:
    cx, cy, s = c
    return np.array([cx - s / 2, cy - s / 2, s, s])


class FaceTracker:
    """Streams frames to (crop, box, face_ok).

    ``boxes`` are the enlarged, smoothed crop boxes (x, y, w, h) in frame pixels.
    """

    def __init__(self, backend: FaceBackend, settings: TrackerSettings | None = None):
        self.backend = backend
        self.s = settings or TrackerSettings()
        self.reset()

    def reset(self) -> None:
        self._i = 0
        self._hist: deque = deque(maxlen=self.s.window)
        self._kf: _Kalman | None = None
        self._box: np.ndarray | None = None  # current smoothed raw box (cx, cy, side)
        self._last_det = -(10**9)
        self._next_det = 0
        self._misses_in_row = 0
        self.n_detections = 0
        self.n_misses = 0

    def _detect(self, frame: np.ndarray) -> bool:
        if self._box is not None and self._misses_in_row == 0 and \
                getattr(self.backend, "accepts_min_side", False):
            # following a face: smaller faces are not looked for (a miss retries the full search)
            dets = self.backend.detect(frame, min_side=TRACKED_MIN_SIDE * float(self._box[2]))
        else:
            dets = self.backend.detect(frame)
        if not dets:
            self.n_misses += 1
            return False
        self.n_detections += 1
        z = _to_csz(dets[0].box)
        if self.s.smoothing == "median":
            self._hist.append(z)
            self._box = np.median(np.stack(self._hist), axis=0)
        elif self.s.smoothing == "kalman":
            if self._kf is None:
                self._kf = _Kalman(z, self.s.kalman_q, self.s.kalman_r)
            else:
                self._kf.predict(self._i - self._last_det)
            self._box = self._kf.update(z)
        else:
            self._box = z
        self._last_det = self._i
        return True

    def step(self, frame: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Advance one frame; returns (enlarged crop box or None when no face yet, face_ok)."""
        if self._i >= self._next_det:
            found = self._detect(frame)
            self._misses_in_row = 0 if found else self._misses_in_row + 1
            wait = self.s.detect_every
            if not found:
                # capped: "detect once" (detect_every huge) must still find a face that appears late
                cap = min(wait, MAX_BACKOFF_FRAMES)
                wait = min(2 ** (self._misses_in_row - 1), cap) if self.s.backoff else 1
            self._next_det = self._i + wait
        self._i += 1
        if self._box is None:
            return None, False
        ok = (self._i - 1 - self._last_det) <= self.s.max_hold
        return enlarge_box(_from_csz(self._box), self.s.coef), ok

    def crop(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        return crop_resize(frame, box, self.s.size)

    def run(self, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray, bool]]:
        """Yield (crop uint8 [S,S,3], box float64 [4], face_ok) for every frame, in order.

        Raises NoFaceError when the stream ends (or ``max_lead_frames`` pass) without any face.
        """
        self.reset()
        lead: list[np.ndarray] = []
        for frame in frames:
            box, ok = self.step(frame)
            if box is None:
                lead.append(frame)
                if len(lead) > self.s.max_lead_frames:
                    raise NoFaceError(
                        f"no face in the first {len(lead)} frames "
                        f"({self.n_misses} detector calls by {self.backend.name})")
                continue
            if lead:
                for f in lead:  # frames before the first detection use the first box
                    yield self.crop(f, box), box, True
                lead.clear()
            yield self.crop(frame, box), box, ok
        if lead or self._i == 0:
            if self._i == 0:
                raise ValueError("the video has no frames")
            raise NoFaceError(
                f"no face in any of {self._i} frames ({self.n_misses} detector calls by "
                f"{self.backend.name})")
