"""MediaPipe face backend through the Tasks API ``FaceDetector`` (BlazeFace short range).

mediapipe >= 0.10.30 ships no model files, so the model path is required and comes from config
(e.g. ``face_detection_short_range.tflite``). Nothing is downloaded at run time.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rppg_distill.data.face.base import Detection, FaceBackendError

MODEL_ENV = "RPPG_DISTILL_FACE_MODEL"


class MediaPipeFaceBackend:
    """MediaPipe Tasks FaceDetector in IMAGE mode.

    Args:
        model_path: the ``.tflite`` detector (falls back to $RPPG_DISTILL_FACE_MODEL).
        min_detection_confidence: score threshold.
    """

    name = "mediapipe"

    def __init__(self, model_path: str | os.PathLike | None = None,
                 min_detection_confidence: float = 0.5, **_ignored):
        model_path = model_path or os.environ.get(MODEL_ENV)
        if not model_path:
            raise FaceBackendError(
                "the mediapipe face backend needs model_path (a FaceDetector .tflite, e.g. "
                f"face_detection_short_range.tflite) or ${MODEL_ENV}")
        path = Path(model_path)
        if not path.is_file():
            raise FaceBackendError(f"mediapipe face model not found: {path}")
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as err:
            raise FaceBackendError(
                f"the mediapipe face backend needs the 'mediapipe' package ({err}); "
                "install the extra: pip install 'rppg-distill[mediapipe]'") from err
        self._mp = mp
        opts = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=float(min_detection_confidence))
        try:
            self._det = vision.FaceDetector.create_from_options(opts)
        except Exception as err:  # mediapipe raises RuntimeError/ValueError on bad models
            raise FaceBackendError(f"mediapipe could not load {path}: {err}") from err
        self.model = path.name
        self.min_detection_confidence = float(min_detection_confidence)

    def config(self) -> dict:
        return {"backend": self.name, "model": self.model,
                "min_detection_confidence": self.min_detection_confidence}

    def detect(self, frame: np.ndarray) -> list[Detection]:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected uint8 [H, W, 3] RGB, got {frame.dtype} {frame.shape}")
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB,
                               data=np.ascontiguousarray(frame))
        result = self._det.detect(image)
        dets = []
        for d in result.detections:
            bb = d.bounding_box
            score = float(d.categories[0].score) if d.categories else 1.0
            dets.append(Detection(float(bb.origin_x), float(bb.origin_y),
                                  float(bb.width), float(bb.height), score))
        dets.sort(key=lambda d: (d.score, d.w * d.h), reverse=True)
        return dets

    def close(self) -> None:
        self._det.close()
