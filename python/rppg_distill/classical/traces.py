"""From a cropped face clip to its spatially averaged RGB trace (optionally over skin pixels only)."""

from __future__ import annotations

import numpy as np

# Skin thresholds in YCrCb (Chai & Ngan 1999): 133 <= Cr <= 173, 77 <= Cb <= 127 (8-bit, JPEG YCrCb).
DEFAULT_CR = (133, 173)
DEFAULT_CB = (77, 127)


def skin_mask_ycrcb(frames, cr=DEFAULT_CR, cb=DEFAULT_CB, y_min: int = 0) -> np.ndarray:
    """Boolean skin mask [..., H, W] from RGB uint8 frames [..., H, W, 3] by YCrCb thresholds.

    Uses the full-range BT.601 conversion (as OpenCV's COLOR_RGB2YCrCb for 8-bit images).
    """
    f = np.asarray(frames)
    if f.shape[-1] != 3:
        raise ValueError(f"frames must end in 3 colour channels, got shape {f.shape}")
    r, g, b = (f[..., i].astype(np.float32) for i in range(3))
    y = 0.299 * r + 0.587 * g + 0.114 * b
    crv = (r - y) * 0.713 + 128.0
    cbv = (b - y) * 0.564 + 128.0
    return ((crv >= cr[0]) & (crv <= cr[1]) & (cbv >= cb[0]) & (cbv <= cb[1]) & (y >= y_min))


def rgb_trace(frames, skin_mask: bool | str | np.ndarray | None = None, *, cr=DEFAULT_CR,
              cb=DEFAULT_CB, min_skin_fraction: float = 0.0, chunk: int = 256):
    """Spatial mean RGB of each frame of a cropped clip.

    Args:
        frames: uint8 (or float) [N, H, W, 3] RGB.
        skin_mask: None/False = all pixels; True or "ycrcb" = per-frame YCrCb skin thresholds
            (``cr``, ``cb``); or a boolean array [H, W] or [N, H, W] given by the caller.
        min_skin_fraction: frames whose mask keeps fewer pixels than this fraction (or none at
            all) get their trace linearly interpolated from neighbouring frames.
        chunk: frames processed at once (bounds memory on long clips).

    Returns:
        float64 [N, 3] trace.

    Raises:
        ValueError: wrong shape, empty clip, or no skin pixel in any frame.
    """
    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[-1] != 3:
        raise ValueError(f"frames must have shape [N, H, W, 3], got {f.shape}")
    n, h, w, _ = f.shape
    if n == 0 or h == 0 or w == 0:
        raise ValueError(f"frames are empty (shape {f.shape})")
    out = np.empty((n, 3))
    if skin_mask is None or skin_mask is False:
        for a in range(0, n, chunk):
            out[a:a + chunk] = f[a:a + chunk].reshape(-1, h * w, 3).mean(axis=1, dtype=np.float64)
        return out
    given = None
    if not isinstance(skin_mask, (bool, str)):
        given = np.asarray(skin_mask, dtype=bool)
        if given.shape not in ((h, w), (n, h, w)):
            raise ValueError(f"skin_mask must be [H, W] or [N, H, W] = {(n, h, w)}, got {given.shape}")
    elif isinstance(skin_mask, str) and skin_mask.lower() != "ycrcb":
        raise ValueError(f"skin_mask must be None, True, 'ycrcb' or a boolean array, got {skin_mask!r}")
    counts = np.empty(n)
    for a in range(0, n, chunk):
        fc = f[a:a + chunk]
        if given is None:
            m = skin_mask_ycrcb(fc, cr, cb)
        elif given.ndim == 2:
            m = np.broadcast_to(given, fc.shape[:3])
        else:
            m = given[a:a + chunk]
        cnt = m.reshape(m.shape[0], -1).sum(axis=1)
        sums = np.einsum("nhwc,nhw->nc", fc.astype(np.float64), m.astype(np.float64))
        counts[a:a + chunk] = cnt
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a:a + chunk] = sums / cnt[:, None]
    good = counts > max(0.0, min_skin_fraction * h * w)
    if not good.any():
        raise ValueError("no skin pixel in any frame: check the crop or the YCrCb thresholds")
    if not good.all():
        idx = np.arange(n)
        for c in range(3):
            out[~good, c] = np.interp(idx[~good], idx[good], out[good, c])
    return out


def fill_dropped_frames(rgb) -> np.ndarray:
    """Replace dropped frames of an RGB-mean trace [T, 3] by linear interpolation.

    A frame is dropped when a channel is not finite or not > 0 (a black or missing frame of a
    recording: its mean colour carries no pulse and would inject a step into every method).

    Returns:
        float64 [T, 3] (a copy).

    Raises:
        ValueError: wrong shape, or no valid frame at all.
    """
    arr = np.array(rgb, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise ValueError(f"rgb trace must have shape [T, 3] with T > 0, got {arr.shape}")
    good = np.all(np.isfinite(arr) & (arr > 0), axis=1)
    if not good.any():
        raise ValueError("rgb trace has no valid frame (all black, missing or NaN)")
    if not good.all():
        idx = np.arange(arr.shape[0])
        for c in range(3):
            arr[~good, c] = np.interp(idx[~good], idx[good], arr[good, c])
    return arr
