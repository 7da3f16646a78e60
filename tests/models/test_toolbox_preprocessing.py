"""The runtime's window normalization and face crop are the rPPG-Toolbox's (the contracts of the
imported models name them): checked against formulas written from the toolbox's BaseLoader."""

from __future__ import annotations

import numpy as np
import pytest

from rppg_distill.data.face.base import crop_resize, enlarge_box
from rppg_distill.deploy.runtime.preprocess import normalize_window


def _toolbox_diff_normalize(data):
    """BaseLoader.diff_normalize_data: (x[j+1]-x[j]) / (x[j+1]+x[j]+1e-7), / std, a zero frame
    appended, NaN -> 0."""
    n = data.shape[0]
    out = np.zeros((n - 1,) + data.shape[1:], np.float32)
    for j in range(n - 1):
        out[j] = (data[j + 1] - data[j]) / (data[j + 1] + data[j] + 1e-7)
    out = out / np.std(out)
    out = np.append(out, np.zeros((1,) + data.shape[1:], np.float32), axis=0)
    out[np.isnan(out)] = 0
    return out


def _toolbox_standardize(data):
    data = data - np.mean(data)
    data = data / np.std(data)
    data[np.isnan(data)] = 0
    return data


@pytest.fixture
def window():
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 220, size=(1, 72, 72, 3))
    return np.clip(base + rng.normal(0, 3, size=(32, 72, 72, 3)), 0, 255).astype(np.uint8)


def test_diff_normalized_is_the_toolboxs(window):
    got = normalize_window(window, "diff_normalized")  # [3, T, H, W]
    ref = _toolbox_diff_normalize(window.astype(np.float32)).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_standardized_and_raw_are_the_toolboxs(window):
    got = normalize_window(window, "standardized")
    ref = _toolbox_standardize(window.astype(np.float32)).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(normalize_window(window, "raw"),
                                  window.astype(np.float32).transpose(3, 0, 1, 2))


def test_face_crop_is_the_toolboxs_large_box():
    """A Haar box inside the frame: the toolbox's LARGE_BOX_COEF 1.5 crop (x - 0.25 w, y - 0.25 h,
    1.5 w, 1.5 h; cv2.INTER_AREA to 72x72) equals the runtime's crop."""
    import cv2

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, size=(320, 400, 3), dtype=np.uint8)
    x, y, w, h = 120, 96, 128, 128
    coef = 1.5
    tx, ty = max(0, int(x - (coef - 1) / 2 * w)), max(0, int(y - (coef - 1) / 2 * h))
    tw, th = int(coef * w), int(coef * h)
    ref = cv2.resize(frame[ty:ty + th, tx:tx + tw], (72, 72), interpolation=cv2.INTER_AREA)
    got = crop_resize(frame, enlarge_box((x, y, w, h), coef), 72)
    np.testing.assert_array_equal(got, ref)
