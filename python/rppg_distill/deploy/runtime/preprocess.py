"""Window normalization for deployment: the training transforms (``rppg_distill.data.transforms``,
numpy, rPPG-Toolbox definitions) applied per window and laid out as the model input. No torch."""

from __future__ import annotations

import numpy as np


def normalize_window(frames: np.ndarray, normalization: str) -> np.ndarray:
    """uint8/float [T, H, W, 3] RGB -> float32 [3, T, H, W] model input.

    The same function the clip datasets use (``data.transforms.apply_video_transform``), so the
    deployed model sees exactly what it was trained on: ``diff_normalized``, ``standardized`` or
    ``raw``.
    """
    from rppg_distill.data.transforms import apply_video_transform

    x = np.asarray(frames)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got shape {x.shape}")
    out = apply_video_transform(x.astype(np.float32, copy=False), normalization)
    return np.ascontiguousarray(out.transpose(3, 0, 1, 2), dtype=np.float32)
