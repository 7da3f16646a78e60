"""OpenCV Haar cascade face backend: the offline default.

The cascade XML files ship inside ``opencv-python-headless<5`` (``cv2.data.haarcascades``);
OpenCV 5 wheels dropped them, hence the pin. Detection runs on a grey, downscaled copy of the
frame (longest side ``max_side`` pixels) for speed; boxes are returned in full-frame pixels.
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
        max_side: the frame is downscaled so that its longer side is at most this (0: never).
    """

    name = "haar"

    def __init__(self, cascade: str = "haarcascade_frontalface_default.xml",
                 scale_factor: float = 1.1, min_neighbors: int = 5,
                 min_size_frac: float = 0.08, max_side: int = 320):
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
        self.max_side = int(max_side)

    def config(self) -> dict:
        return {"backend": self.name, "cascade": self.cascade, "scale_factor": self.scale_factor,
                "min_neighbors": self.min_neighbors, "min_size_frac": self.min_size_frac,
                "max_side": self.max_side}

    def detect(self, frame: np.ndarray) -> list[Detection]:
        import cv2

        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
        H, W = frame.shape[:2]
        scale = 1.0
        if self.max_side and max(H, W) > self.max_side:
            scale = self.max_side / max(H, W)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            grey = cv2.resize(grey, (max(1, round(W * scale)), max(1, round(H * scale))),
                              interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        m = max(1, int(self.min_size_frac * min(grey.shape)))
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
