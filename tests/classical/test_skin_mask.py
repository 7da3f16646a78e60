"""Skin pixels inside a face box: the forehead/cheek ROI and the YCrCb colour test."""

from __future__ import annotations

import numpy as np
import pytest

from rppg_distill.data.face.skin import ROI_BOXES, SKIN_MODES, face_roi_mask, skin_mean_rgb

SKIN = (200, 140, 120)     # passes the YCrCb thresholds
HAIR = (30, 25, 20)


def _face(size=64):
    """A crop: skin everywhere, dark 'eyes' on the eye line, a red 'mouth', dark hair on top."""
    c = np.zeros((size, size, 3), np.uint8)
    c[:] = SKIN
    s = size
    c[int(0.36 * s):int(0.46 * s), int(0.2 * s):int(0.4 * s)] = HAIR     # eyes
    c[int(0.36 * s):int(0.46 * s), int(0.6 * s):int(0.8 * s)] = HAIR
    c[int(0.76 * s):int(0.86 * s), int(0.35 * s):int(0.65 * s)] = (150, 20, 30)  # mouth
    c[:int(0.1 * s)] = HAIR                                              # hair above the forehead
    return c


def test_roi_excludes_eyes_and_mouth():
    m = face_roi_mask(64, 64)
    assert m.dtype == np.uint8 and m.shape == (64, 64)
    assert m[int(0.41 * 64), int(0.3 * 64)] == 0 and m[int(0.81 * 64), 32] == 0   # eye, mouth
    assert m[int(0.14 * 64), 32] == 255 and m[int(0.6 * 64), int(0.25 * 64)] == 255  # forehead, cheek
    assert 0.1 < (m > 0).mean() < 0.3
    assert len(ROI_BOXES) == 3


def test_mean_is_skin_colour_only():
    c = _face()
    rgb, frac = skin_mean_rgb(c)              # roi+ycrcb: the hair in the forehead band is dropped
    assert np.allclose(rgb, SKIN, atol=0.5) and 0.6 < frac < 1.0
    rgb_roi, _ = skin_mean_rgb(c, "roi")      # geometry only: some hair gets in
    assert rgb_roi[0] < SKIN[0] - 5
    rgb_all, _ = skin_mean_rgb(c, "none")
    assert rgb_all[0] < rgb_roi[0]


def test_no_skin_colour_falls_back_to_the_roi():
    c = np.full((48, 48, 3), (40, 200, 40), np.uint8)   # green light: nothing passes YCrCb
    rgb, frac = skin_mean_rgb(c)
    assert frac == 0.0 and np.allclose(rgb, (40, 200, 40))


@pytest.mark.parametrize("bad,match", [
    (np.zeros((8, 8, 3), np.float32), "uint8"),
    (np.zeros((8, 8), np.uint8), "uint8"),
])
def test_bad_crops(bad, match):
    with pytest.raises(ValueError, match=match):
        skin_mean_rgb(bad)


def test_bad_mode_and_tiny_crop():
    with pytest.raises(ValueError, match="skin mode"):
        skin_mean_rgb(_face(), "everything")
    with pytest.raises(ValueError, match="too small"):
        face_roi_mask(2, 2)
    assert "roi+ycrcb" in SKIN_MODES
