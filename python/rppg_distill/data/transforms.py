"""Clip transforms applied on the fly to uint8 crops (numpy only; rPPG-Toolbox definitions).

Video transforms take ``[T, H, W, C]`` (uint8 or float) and return float32 of the same shape:

- ``diff_normalized``: d_t = (x_{t+1} - x_t) / (x_{t+1} + x_t + 1e-7), divided by the std of
  all d (over the whole clip), a zero frame appended so the length stays T, NaN -> 0
  (rPPG-Toolbox ``BaseLoader.diff_normalize_data``).
- ``standardized``: (x - mean) / std over the whole clip, NaN -> 0 (``standardized_data``).
- ``raw``: the pixel values as float32 (0..255).

Label transforms on ``[T]``: ``diff_normalized`` (np.diff / std, a 0 appended),
``standardized``, ``raw``. rPPG-Toolbox applies them to the whole video before chunking; here
they run per clip, so the std is the clip's (the difference is a per-clip scale).
A constant input (std 0) gives zeros instead of NaN/inf.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VIDEO_TRANSFORMS = ("diff_normalized", "standardized", "raw")
_EPS_STD = 1e-12


def _safe_div_std(x: np.ndarray) -> np.ndarray:
    sd = float(np.std(x))
    if not np.isfinite(sd) or sd < _EPS_STD:
        return np.zeros_like(x)
    x = x / sd
    x[~np.isfinite(x)] = 0
    return x


def diff_normalized(frames: np.ndarray) -> np.ndarray:
    x = np.asarray(frames, dtype=np.float32)
    if x.shape[0] < 2:
        return np.zeros_like(x)
    a, b = x[:-1], x[1:]
    d = (b - a) / (b + a + 1e-7)
    d = _safe_div_std(d)
    return np.concatenate([d, np.zeros_like(x[:1])], axis=0).astype(np.float32, copy=False)


def standardized(frames: np.ndarray) -> np.ndarray:
    x = np.asarray(frames, dtype=np.float32)
    return _safe_div_std(x - x.mean()).astype(np.float32, copy=False)


def raw(frames: np.ndarray) -> np.ndarray:
    return np.asarray(frames, dtype=np.float32)


def diff_normalized_label(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.shape[-1] < 2:
        return np.zeros_like(y)
    d = _safe_div_std(np.diff(y, axis=-1))
    return np.concatenate([d, np.zeros_like(y[..., :1])], axis=-1).astype(np.float32, copy=False)


def standardized_label(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    return _safe_div_std(y - y.mean()).astype(np.float32, copy=False)


_VIDEO = {"diff_normalized": diff_normalized, "standardized": standardized, "raw": raw}
_LABEL = {"diff_normalized": diff_normalized_label, "standardized": standardized_label,
          "raw": lambda y: np.asarray(y, dtype=np.float32)}


def _names(transform: str | Sequence[str]) -> list[str]:
    names = [transform] if isinstance(transform, str) else list(transform)
    if not names:
        raise ValueError("at least one transform is needed")
    for n in names:
        if n not in _VIDEO:
            raise ValueError(f"unknown transform {n!r}; choose from {VIDEO_TRANSFORMS}")
    return names


def apply_video_transform(frames: np.ndarray, transform: str | Sequence[str]) -> np.ndarray:
    """uint8 [T, H, W, C] -> float32 [T, H, W, C * len(transform)] (several are concatenated
    along channels in the given order, like rPPG-Toolbox's DATA_TYPE list)."""
    outs = [_VIDEO[n](frames) for n in _names(transform)]
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)


def apply_label_transform(y: np.ndarray, transform: str) -> np.ndarray:
    if transform not in _LABEL:
        raise ValueError(f"unknown label transform {transform!r}; choose from {VIDEO_TRANSFORMS}")
    return _LABEL[transform](y)


def standardize_channels(x: np.ndarray) -> np.ndarray:
    """Per-channel (first axis) standardization of a [C, T] signal such as radar I/Q."""
    x = np.asarray(x, dtype=np.float32)
    mu = x.mean(axis=-1, keepdims=True)
    sd = x.std(axis=-1, keepdims=True)
    return np.where(sd > _EPS_STD, (x - mu) / np.maximum(sd, _EPS_STD), 0).astype(np.float32)
