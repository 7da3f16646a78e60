"""Face backends, box geometry and the streaming face tracker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from rppg_distill.data.face import (
    FaceBackendError,
    FaceTracker,
    NoFaceError,
    TrackerSettings,
    available_face_backends,
    crop_resize,
    enlarge_box,
    get_face_backend,
    register_face_backend,
)

# the astronaut's face in skimage.data.astronaut() (512 x 512): about x=177, y=82, w=95, h=95
FACE = np.array([177.0, 82.0, 95.0, 95.0])
MP_MODEL = Path(os.environ.get(
    "RPPG_DISTILL_FACE_MODEL",
    Path(__file__).resolve().parents[3] / "shared" / "models" / "face_detection_short_range.tflite"))


def _iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def moving_frames(n: int, amp: float = 6.0, scale: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Astronaut frames (downscaled by ``scale``) shifted sideways by a sine; returns the frames
    and the true face box per frame."""
    img = skimage.data.astronaut()
    size = int(512 * scale)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    out, boxes = [], []
    for i in range(n):
        dx = amp * np.sin(2 * np.pi * i / 40)
        m = np.float32([[1, 0, dx], [0, 1, 0]])
        out.append(cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT))
        boxes.append(FACE * scale + np.array([dx, 0, 0, 0]))
    return np.stack(out), np.stack(boxes)


@pytest.fixture(scope="module")
def haar():
    return get_face_backend("haar")


def test_registry():
    assert {"haar", "mediapipe"} <= set(available_face_backends())
    with pytest.raises(FaceBackendError, match="unknown face backend 'nope'"):
        get_face_backend("nope")

    class Fixed:
        name = "fixed"

        def detect(self, frame):
            from rppg_distill.data.face import Detection

            return [Detection(1, 2, 3, 4)]

        def config(self):
            return {"backend": "fixed"}

    register_face_backend("fixed", lambda **cfg: Fixed())
    assert get_face_backend("fixed").detect(np.zeros((8, 8, 3), np.uint8))[0].w == 3


def test_haar_finds_astronaut(haar):
    dets = haar.detect(skimage.data.astronaut())
    assert dets, "haar found no face in astronaut()"
    assert _iou(dets[0].box, FACE) > 0.6, dets[0]
    assert haar.config()["backend"] == "haar"


def test_haar_min_side_keeps_the_face_it_follows(haar):
    """The tracker's hint (skip faces under 0.6 of the followed face) leaves the detection of that
    face unchanged; a hint above every face finds nothing."""
    from rppg_distill.data.face.tracker import TRACKED_MIN_SIDE

    img = skimage.data.astronaut()
    full = haar.detect(img)[0]
    hinted = haar.detect(img, min_side=TRACKED_MIN_SIDE * full.w)
    assert hinted and np.allclose(hinted[0].box, full.box)
    assert haar.detect(img, min_side=2 * full.w) == []


def test_haar_no_face_on_flat_image(haar):
    grad = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    assert haar.detect(grad) == []


def test_haar_rejects_bad_frames(haar):
    with pytest.raises(ValueError, match="uint8"):
        haar.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        haar.detect(np.zeros((10, 10, 3), np.float32))


def test_mediapipe_needs_model_path(tmp_path, monkeypatch):
    monkeypatch.delenv("RPPG_DISTILL_FACE_MODEL", raising=False)
    with pytest.raises(FaceBackendError, match="model_path"):
        get_face_backend("mediapipe")
    with pytest.raises(FaceBackendError, match="not found"):
        get_face_backend("mediapipe", model_path=tmp_path / "missing.tflite")


def test_enlarge_box_square_about_centre():
    b = enlarge_box([10, 20, 40, 20], coef=1.5)
    np.testing.assert_allclose(b, [0, 0, 60, 60])
    np.testing.assert_allclose(enlarge_box([0, 0, 10, 10], 1.0), [0, 0, 10, 10])


def test_crop_resize_inside_and_outside():
    frame = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    c = crop_resize(frame, [10, 20, 30, 30], 30)
    np.testing.assert_array_equal(c, frame[20:50, 10:40])  # same size: exact cut
    c = crop_resize(frame, [-10, -10, 40, 40], 16)  # reaches outside: replicated border
    assert c.shape == (16, 16, 3) and c.dtype == np.uint8
    with pytest.raises(ValueError, match="outside"):
        crop_resize(frame, [500, 500, 10, 10], 16)
    with pytest.raises(ValueError, match="invalid box"):
        crop_resize(frame, [0, 0, 0, 10], 16)


@pytest.mark.parametrize("smoothing", ["median", "kalman", "none"])
def test_tracker_follows_moving_face(haar, smoothing):
    frames, truth = moving_frames(40)
    s = TrackerSettings(detect_every=5, smoothing=smoothing, size=36, coef=1.5)
    out = list(FaceTracker(haar, s).run(iter(frames)))
    assert len(out) == len(frames)
    crops = np.stack([c for c, _, _ in out])
    boxes = np.stack([b for _, b, _ in out])
    assert crops.shape == (40, 36, 36, 3) and crops.dtype == np.uint8
    assert all(ok for _, _, ok in out), "face must be found in every frame"
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    true_centre = truth[:, :2] + truth[:, 2:] / 2
    assert np.abs(centre - true_centre).max() < 12  # pixels, at 256 x 256
    side = boxes[:, 2] / 1.5
    assert np.all((side > 0.7 * truth[:, 2]) & (side < 1.4 * truth[:, 2]))


def test_tracker_buffers_frames_before_first_face(haar):
    frames, _ = moving_frames(12)
    frames[:4] = 128  # no face in the first 4 frames
    out = list(FaceTracker(haar, TrackerSettings(detect_every=4, size=24)).run(iter(frames)))
    assert len(out) == 12
    np.testing.assert_allclose(out[0][1], out[4][1])  # the first box is used for the lead frames


def test_tracker_flags_lost_face(haar):
    frames, _ = moving_frames(30)
    frames[10:] = 128  # face disappears
    out = list(FaceTracker(haar, TrackerSettings(detect_every=2, max_hold=5, size=24)).run(frames))
    oks = np.array([ok for _, _, ok in out])
    assert oks[:10].all() and not oks[20:].any()


def test_tracker_no_face_raises(haar):
    frames = np.full((6, 64, 64, 3), 90, np.uint8)
    with pytest.raises(NoFaceError, match="no face in any of 6 frames"):
        list(FaceTracker(haar, TrackerSettings(size=16)).run(frames))
    with pytest.raises(ValueError, match="no frames"):
        list(FaceTracker(haar).run([]))


def test_settings_validation():
    with pytest.raises(ValueError):
        TrackerSettings(smoothing="mean")
    with pytest.raises(ValueError):
        TrackerSettings(detect_every=0)


def test_face_and_cache_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import rppg_distill.data.face, rppg_distill.data.cache, rppg_distill.data.transforms\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _mediapipe_available() -> bool:
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.mediapipe
@pytest.mark.skipif(not _mediapipe_available(), reason="mediapipe is not installed")
@pytest.mark.skipif(not MP_MODEL.is_file(), reason=f"model file absent: {MP_MODEL}")
def test_mediapipe_finds_astronaut():
    mp = get_face_backend("mediapipe", model_path=str(MP_MODEL))
    dets = mp.detect(skimage.data.astronaut())
    assert dets and dets[0].score > 0.5
    assert _iou(dets[0].box, FACE) > 0.6, dets[0]
    frames, _ = moving_frames(20)
    out = list(FaceTracker(mp, TrackerSettings(detect_every=5, size=36)).run(frames))
    assert len(out) == 20 and all(ok for _, _, ok in out)
    assert mp.config()["model"] == MP_MODEL.name


def test_haar_finds_face_in_every_frontal_synthetic_frame(haar):
    synthetic = pytest.importorskip("rppg_distill.data.synthetic")
    cfg = synthetic.SynthConfig(n_subjects=2, duration_s=2.0, views=("frontal",), radar=False)
    for subject in (1, 2):
        sim = synthetic.simulate(subject, "before", cfg, views=("frontal",))
        frames, truth = sim.frames["frontal"], sim.face_boxes["frontal"]
        for i, f in enumerate(frames):
            dets = haar.detect(f)
            assert dets, f"subject {subject}: no face in frontal frame {i}"
            assert _iou(dets[0].box, truth) > 0.4, (i, dets[0], truth)


def test_detect_once_still_finds_a_late_face():
    """detect_every huge ("detect once", the toolbox contracts' policy): while no face is found the
    back-off is capped, so a face that appears after 200 empty frames is found within 16 frames."""
    from rppg_distill.data.face.base import Detection
    from rppg_distill.data.face.tracker import MAX_BACKOFF_FRAMES, FaceTracker, TrackerSettings

    class Late:
        name = "late"

        def detect(self, frame):
            return [] if frame[0, 0, 0] == 0 else [Detection(10, 10, 40, 40)]

    tracker = FaceTracker(Late(), TrackerSettings(detect_every=10**9, max_hold=10**9))
    empty, face = np.zeros((64, 64, 3), np.uint8), np.ones((64, 64, 3), np.uint8)
    for _ in range(200):
        assert tracker.step(empty)[0] is None
    found_at = next(i for i in range(100) if tracker.step(face)[0] is not None)
    assert found_at <= MAX_BACKOFF_FRAMES
