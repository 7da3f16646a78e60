"""Skin pixels inside a face box for the classical methods (numpy + OpenCV, no torch).

Two masks are combined (``skin_mean_rgb``):

- geometry (``face_roi_mask``): the forehead band and both cheeks of a face detector's box, which
  leaves out the eyes and brows (blinks, eye movement), the nostrils, the mouth and lips
  (speech), the beard area and the background at the box corners, where no pulse is but where
  motion and shading change the mean colour. Box fractions follow the usual frontal-face layout
  of a detector box (Haar / BlazeFace: brows near 0.25-0.3 of the height, the eye line near
  0.4, the mouth near 0.75-0.8).
- colour (YCrCb thresholds of ``classical.traces``, Chai & Ngan 1999): drops hair, glasses,
  shadows and the background a loose box lets in.

When fewer than ``min_skin_fraction`` of the ROI pixels pass the colour test (unusual light or
skin tones outside the thresholds), the whole ROI is used: the mean stays defined and the
``skin_fraction`` returned says how much of it was skin.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# (x0, y0, x1, y1) as fractions of a square face-detector box
FOREHEAD = (0.25, 0.06, 0.75, 0.22)
LEFT_CHEEK = (0.12, 0.50, 0.36, 0.72)
RIGHT_CHEEK = (0.64, 0.50, 0.88, 0.72)
ROI_BOXES = (FOREHEAD, LEFT_CHEEK, RIGHT_CHEEK)
SKIN_MODES = ("roi+ycrcb", "roi", "ycrcb", "none")


@lru_cache(maxsize=8)
def face_roi_mask(height: int, width: int, boxes=ROI_BOXES) -> np.ndarray:
    """uint8 mask [height, width] (255 = used) of the forehead and cheek regions of a face crop."""
    if height < 4 or width < 4:
        raise ValueError(f"face crop {width}x{height} is too small for a skin ROI")
    m = np.zeros((height, width), np.uint8)
    for x0, y0, x1, y1 in boxes:
        m[int(round(y0 * height)):int(round(y1 * height)),
          int(round(x0 * width)):int(round(x1 * width))] = 255
    m.setflags(write=False)
    return m


def _ycrcb_mask(crop: np.ndarray) -> np.ndarray:
    import cv2

    from rppg_distill.classical.traces import DEFAULT_CB, DEFAULT_CR

    ycc = cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb)  # channels Y, Cr, Cb (full-range BT.601)
    return cv2.inRange(ycc, (0, DEFAULT_CR[0], DEFAULT_CB[0]), (255, DEFAULT_CR[1], DEFAULT_CB[1]))


def skin_mean_rgb(crop, mode: str = "roi+ycrcb", min_skin_fraction: float = 0.1):
    """Mean R, G, B over the skin pixels of a face crop.

    Args:
        crop: uint8 [H, W, 3] RGB, the face detector's box (not enlarged).
        mode: "roi+ycrcb" (forehead + cheeks, skin-coloured pixels only), "roi", "ycrcb" (skin
            colour anywhere in the crop) or "none" (every pixel).
        min_skin_fraction: below this share of skin-coloured pixels in the region, the colour
            test is dropped (see the module docstring).

    Returns:
        (float64 [3] mean RGB, skin fraction in [0, 1] of the region that passed the colour test).
    """
    import cv2

    c = np.asarray(crop)
    if c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8:
        raise ValueError(f"face crop must be uint8 [H, W, 3] RGB, got {c.dtype} {c.shape}")
    if mode not in SKIN_MODES:
        raise ValueError(f"skin mode must be one of {SKIN_MODES}, got {mode!r}")
    c = np.ascontiguousarray(c)
    if mode == "none":
        return np.asarray(cv2.mean(c)[:3], np.float64), 1.0
    region = face_roi_mask(c.shape[0], c.shape[1]) if mode.startswith("roi") else None
    if mode == "roi":
        return np.asarray(cv2.mean(c, mask=region)[:3], np.float64), 1.0
    skin = _ycrcb_mask(c)
    if region is not None:
        skin = cv2.bitwise_and(skin, region)
    n_region = int(np.count_nonzero(region)) if region is not None else c.shape[0] * c.shape[1]
    frac = cv2.countNonZero(skin) / max(n_region, 1)
    if frac < min_skin_fraction:
        mean = cv2.mean(c, mask=region) if region is not None else cv2.mean(c)
    else:
        mean = cv2.mean(c, mask=skin)
    return np.asarray(mean[:3], np.float64), float(frac)
