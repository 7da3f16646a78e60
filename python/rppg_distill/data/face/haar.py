"""OpenCV Haar cascade face backend: the offline default.

The cascade XML files ship inside ``opencv-python-headless<5`` (``cv2.data.haarcascades``);
OpenCV 5 wheels dropped them, hence the pin. Detection runs on a grey, downscaled copy of the
frame for speed; boxes are returned in full-frame pixels. By default the copy is as small as it
can be while the smallest face to find (``min_size_frac`` of the shorter side: 48 px, 7.5 % of
the width of a 640x480 frame) still covers the cascade's 24 px window: a fixed small size
(e.g. 160 px) loses the faces of wide driver-monitoring cameras.

No histogram equalization: the cascade normalizes every window by its own variance, and a global
``equalizeHist`` on a frame where the face is small stretches the background's range and flattens
the face (measured: no detection of a 13 %-wide face on a plain background with it, found without
it; bench/face_size.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rppg_distill.data.face.base import Detection, FaceBackendError


def _cascade_dir() -> Path:
    import cv2

    base = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if not base:
        raise FaceBackendError(
            "OpenCV has no bundled Haar cascades (cv2.data.haarcascades); install "
            "'opencv-python-headless<5' or pass cascade=<path to an XML file>"
        )
    return Path(base)


class HaarFaceBackend:
    """Haar cascade detector.

    Args:
        cascade: file name inside ``cv2.data.haarcascades`` or a path to a cascade XML.
        scale_factor, min_neighbors: ``detectMultiScale`` parameters.
        min_size_frac: smallest face side as a fraction of the frame's shorter side.
        max_side: None (default): downscale as far as a ``min_size_frac`` face still covers the
            cascade's window; an int: downscale so that the longer side is at most this (0: never;
            faces smaller than the window at that scale are not found).
    """

    name = "haar"
    accepts_min_side = True  # detect(frame, min_side=...) skips the pyramid levels below a size

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml",
                 scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size_frac: float = 0.1, max_side: int | None = None):
        import cv2

        path = Path(cascade)
        if not path.is_file():
            path = _cascade_dir() / cascade
        if not path.is_file():
            raise FaceBackendError(f"Haar cascade not found: {path}")
        self._clf = cv2.CascadeClassifier(str(path))
        if self._clf.empty():
            raise FaceBackendError(f"Haar cascade failed to load: {path}")
        self.cascade = path.name
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size_frac = float(min_size_frac)
        self.max_side = None if max_side is None else int(max_side)
        if not 0 < self.min_size_frac <= 1 or (self.max_side is not None and self.max_side < 0):
            raise FaceBackendError(f"haar: need 0 < min_size_frac <= 1 and max_side >= 0, got "
                                   f"{min_size_frac}, {max_side}")
        self.window = int(max(self._clf.getOriginalWindowSize()))  # 24 px for the default XML

    def config(self) -> dict:
        return {"backend": self.name, "cascade": self.cascade, "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "min_size_frac": self.min_size_frac,
                "max_side": self.max_side, "equalize_hist": False}

    def scale_for(self, H: int, W: int) -> float:
        """Downscale factor (<= 1) of the detection copy of an H x W frame."""
        if self.max_side is None:
            return min(1.0, self.window / (self.min_size_frac * min(H, W)))
        if self.max_side and max(H, W) > self.max_side:
            return self.max_side / max(H, W)
        return 1.0

    def detect(self, frame: np.ndarray, min_side: float | None = None) -> list[Detection]:
        """Faces in ``frame`` (uint8 [H, W, 3] RGB), best first. ``min_side`` (frame pixels): skip
        smaller faces; the tracker passes a fraction of the face it follows, which leaves out the
        largest (slowest) pyramid levels without changing the detections at the face's scale."""
        import cv2

        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
        H, W = frame.shape[:2]
        scale = self.scale_for(H, W)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            grey = cv2.resize(grey, (max(1, round(W * scale)), max(1, round(H * scale))),
                              interpolation=cv2.INTER_AREA)
        m = max(1, int(self.min_size_frac * min(grey.shape)))
        if min_side is not None:
            m = min(max(m, int(min_side * scale)), min(grey.shape))
        rects, _, weights = self._clf.detectMultiScale3(
            grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(m, m), outputRejectLevels=True)
        if len(rects) == 0:
            return []
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        dets = [Detection(float(x) / scale, float(y) / scale, float(w) / scale, float(h) / scale,
                          float(s))
                for (x, y, w, h), s in zip(np.asarray(rects).reshape(-1, 4), weights)]
        # best first by the cascade's level weight (the largest box is often a false positive
        # on clothing), then by area
        dets.sort(key=lambda d: (d.score, d.w * d.h), reverse=True)
        return dets
