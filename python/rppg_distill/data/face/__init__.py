"""Face backends and per-video face cropping (numpy + OpenCV; never imports torch).

``get_face_backend("haar")`` is the offline default; ``get_face_backend("mediapipe",
model_path=...)`` uses the MediaPipe Tasks FaceDetector. ``FaceTracker`` turns a frame stream
into uint8 crops with detection every N frames, box smoothing and an enlarged box.
"""

from rppg_distill.data.face.base import (
    Detection,
    FaceBackend,
    FaceBackendError,
    NoFaceError,
    available_face_backends,
    crop_resize,
    enlarge_box,
    get_face_backend,
    register_face_backend,
)
from rppg_distill.data.face.tracker import FaceTracker, TrackerSettings

__all__ = [
    "Detection",
    "FaceBackend",
    "FaceBackendError",
    "FaceTracker",
    "NoFaceError",
    "TrackerSettings",
    "available_face_backends",
    "crop_resize",
    "enlarge_box",
    "get_face_backend",
    "register_face_backend",
]
