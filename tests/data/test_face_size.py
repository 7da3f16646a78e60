"""Faces that are there are found: small faces on wide frames at the defaults, and a face-less
video does not pay a detection on every frame (issue 11; sweep: bench/face_size.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from face_scene import face_scene

from rppg_distill.data.face import FaceTracker, TrackerSettings, get_face_backend


@pytest.mark.parametrize("frac", [0.08, 0.13])
@pytest.mark.parametrize("background", ["grey", "brick"])
def test_default_haar_finds_a_small_face_on_a_wide_frame(frac, background):
    """input: 640x480 frame, face 8 % / 13 % of the width -> found at the default settings."""
    frame, _ = face_scene(frac, background=background)
    dets = get_face_backend("haar").detect(frame)
    assert dets, f"no face of {frac:.0%} width found"
    want = frac * 640
    assert abs(dets[0].w - want) < 0.3 * want
    assert abs(dets[0].x + dets[0].w / 2 - 320) < 0.2 * want


def test_small_face_needs_the_smallest_scale_it_allows():
    b = get_face_backend("haar")
    assert b.scale_for(480, 640) == pytest.approx(24 / 48)
    assert b.scale_for(120, 160) == 1.0
    assert get_face_backend("haar", max_side=160).scale_for(480, 640) == pytest.approx(0.25)


def test_no_face_backs_off_instead_of_detecting_every_frame():
    """input: a video without a face -> detector calls back off to every `detect_every` frames."""
    blank, _ = face_scene(0.1, background="none")
    haar = get_face_backend("haar")
    tr = FaceTracker(haar, TrackerSettings(detect_every=15))
    for _ in range(90):
        assert tr.step(blank) == (None, False)
    assert tr.n_misses == 9  # at frames 0, 1, 3, 7, 15, 30, 45, 60, 75 (not 90 calls)
    eager = FaceTracker(haar, TrackerSettings(detect_every=15, backoff=False))
    for _ in range(20):
        eager.step(blank)
    assert eager.n_misses == 20


def test_face_found_again_after_backoff():
    frame, _ = face_scene(0.13)
    blank, _ = face_scene(0.13, background="none")
    tr = FaceTracker(get_face_backend("haar"), TrackerSettings(detect_every=15))
    for _ in range(40):
        tr.step(blank)
    oks = [tr.step(frame)[1] for _ in range(16)]
    assert oks[-1] and sum(oks) >= 1
    assert np.argmax(oks) <= 15  # found within one back-off period
