"""Face backend interface, the backend registry and box geometry (numpy + OpenCV only, no torch).

A backend detects faces in one RGB frame. Everything else (detection every N frames, smoothing,
enlarging, cropping) lives in :mod:`rppg_distill.data.face.tracker` and is backend independent.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class FaceBackendError(RuntimeError):
    """A face backend cannot be created (missing package, missing model file, bad config)."""


class NoFaceError(ValueError):
    """No face was found in any frame of a video."""


@dataclass(frozen=True)
class Detection:
    """One face: box in pixels of the frame it was found in (x, y = top-left corner)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def box(self) -> np.ndarray:
        return np.array([self.x, self.y, self.w, self.h], dtype=np.float64)


@runtime_checkable
class FaceBackend(Protocol):
    """What every backend provides.

    ``name`` is the registry name; ``config()`` returns the settings that change its output (it
    goes into the cache settings hash); ``detect(frame)`` takes uint8 [H, W, 3] RGB and returns
    the faces found, best first (an empty list when there is none).
    """

    name: str

    def detect(self, frame: np.ndarray) -> list[Detection]: ...

    def config(self) -> dict: ...


# name -> "module:attribute" (lazy, so that optional backends cost nothing until asked for)
_REGISTRY: dict[str, str | Callable[..., FaceBackend]] = {
    "haar": "rppg_distill.data.face.haar:HaarFaceBackend",
    "mediapipe": "rppg_distill.data.face.mediapipe_backend:MediaPipeFaceBackend",
}


def register_face_backend(name: str, factory: str | Callable[..., FaceBackend]) -> None:
    """Add a backend: ``factory`` is a callable ``(**cfg) -> FaceBackend`` or "module:attr"."""
    _REGISTRY[name] = factory


def available_face_backends() -> list[str]:
    """Registered backend names (registered is not the same as importable)."""
    return sorted(_REGISTRY)


def get_face_backend(name: str = "haar", **cfg) -> FaceBackend:
    """Create the backend ``name`` with its settings, e.g. ``get_face_backend("mediapipe",
    model_path=...)``. Raises FaceBackendError with the reason when it cannot be made."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise FaceBackendError(
            f"unknown face backend {name!r}; registered: {', '.join(available_face_backends())}"
        ) from None
    if isinstance(factory, str):
        mod, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(mod), attr)
    return factory(**cfg)


# ----------------------------------------------------------------------------- box geometry
def enlarge_box(box, coef: float = 1.5, square: bool = True) -> np.ndarray:
    """Grow (x, y, w, h) about its centre by ``coef``; ``square`` uses max(w, h) for both sides
    (rPPG-Toolbox's ``LARGE_BOX_COEF`` behaviour)."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2.0, y + h / 2.0
    if square:
        w = h = max(w, h)
    w, h = w * coef, h * coef
    return np.array([cx - w / 2.0, cy - h / 2.0, w, h], dtype=np.float64)


def crop_resize(frame: np.ndarray, box, size: int | tuple[int, int] = 72,
                interpolation: int | None = None) -> np.ndarray:
    """Cut ``box`` (x, y, w, h; may reach outside the frame) out of ``frame`` and resize it.

    Parts of the box outside the frame are filled by replicating the border, so the crop keeps the
    box's geometry (no stretching). Returns uint8 [S, S, 3] (or [h, w, 3] for a tuple size).
    """
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a [H, W, 3] frame, got shape {frame.shape}")
    out_h, out_w = (size, size) if isinstance(size, int) else size
    H, W = frame.shape[:2]
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0 and np.isfinite([x, y, w, h]).all()):
        raise ValueError(f"invalid box {box}")
    x0, y0 = int(round(x)), int(round(y))
    x1, y1 = max(x0 + 1, int(round(x + w))), max(y0 + 1, int(round(y + h)))
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError(f"box {box} lies outside the {W}x{H} frame")
    patch = frame[cy0:cy1, cx0:cx1]
    pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if any(pads):
        patch = cv2.copyMakeBorder(np.ascontiguousarray(patch), *pads, cv2.BORDER_REPLICATE)
    if interpolation is None:
        shrinking = patch.shape[0] > out_h or patch.shape[1] > out_w
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(patch), (out_w, out_h), interpolation=interpolation)
