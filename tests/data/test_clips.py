"""Torch clip datasets over the cache and the rPPG-Toolbox transforms."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rppg_distill.data.cache import ClipCache, preprocess
from rppg_distill.data.cache.store import atomic_save_npy
from rppg_distill.data.clips import MultiViewPairs, SingleViewClips, VideoRadarPairs
from rppg_distill.data.transforms import (
    apply_label_transform,
    apply_video_transform,
    diff_normalized,
    diff_normalized_label,
    standardized,
    standardized_label,
)
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import write_video

N, T = 40, 16


# ----------------------------------------------------------------------------- transforms
def _toolbox_diff_normalize(data):
    """rPPG-Toolbox's definition written out with loops (float64), for comparison."""
    n, h, w, c = data.shape
    out = np.zeros((n - 1, h, w, c))
    for j in range(n - 1):
        out[j] = (data[j + 1] - data[j]) / (data[j + 1] + data[j] + 1e-7)
    out = out / np.std(out)
    out = np.append(out, np.zeros((1, h, w, c)), axis=0)
    out[np.isnan(out)] = 0
    return out


def test_transforms_match_toolbox_definitions():
    x = np.random.default_rng(0).integers(0, 256, (12, 5, 5, 3)).astype(np.uint8)
    np.testing.assert_allclose(diff_normalized(x), _toolbox_diff_normalize(x.astype(np.float64)),
                               rtol=1e-4, atol=1e-5)
    xf = x.astype(np.float64)
    np.testing.assert_allclose(standardized(x), (xf - xf.mean()) / xf.std(), rtol=1e-4, atol=1e-5)
    y = np.sin(np.arange(50) / 3)
    d = np.diff(y)
    np.testing.assert_allclose(diff_normalized_label(y), np.append(d / d.std(), 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(standardized_label(y), (y - y.mean()) / y.std(), rtol=1e-5, atol=1e-6)
    assert apply_video_transform(x, "raw").dtype == np.float32
    assert apply_video_transform(x, ["diff_normalized", "standardized"]).shape == (12, 5, 5, 6)
    assert apply_label_transform(y, "raw").dtype == np.float32


def test_transforms_constant_input_gives_zeros_not_nan():
    x = np.full((6, 4, 4, 3), 7, np.uint8)
    for name in ("diff_normalized", "standardized"):
        out = apply_video_transform(x, name)
        assert np.isfinite(out).all() and not out.any()
    z = np.zeros((6, 4, 4, 3), np.uint8)  # 0 + 0 denominators
    assert np.isfinite(diff_normalized(z)).all()
    with pytest.raises(ValueError, match="unknown transform"):
        apply_video_transform(x, "minmax")


# ------------------------------------------------------------------------------- datasets
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Two subjects x (frontal, side_left) + one unlabelled radar recording, from astronaut."""
    from test_cache import face_frames  # same folder (pytest rootdir-relative import)

    tmp = tmp_path_factory.mktemp("clips")
    frames = face_frames(N)
    video = write_video(tmp / "v.avi", frames, 30.0, codec="MJPG")
    recs = []
    for subj in ("s1", "s2"):
        for view in ("frontal", "side_left"):
            bvp = np.sin(np.arange(N) / 3 + (view == "side_left")).astype(np.float32)
            radar = np.random.default_rng(len(recs)).standard_normal((10, N)).astype(np.float32)
            recs.append(Recording("test", subj, view, video, 30.0, state="rest", bvp=bvp,
                                  radar=radar))
    recs.append(Recording("test", "s3", "frontal", video, 30.0, state="rest", bvp=None,
                          radar=np.ones((10, N), np.float32)))
    rep = preprocess(recs, tmp / "cache", {"workers": 0, "progress": False, "size": 24})
    assert not rep.flagged
    return ClipCache(tmp / "cache"), recs


def test_single_view_clips(cache):
    c, recs = cache
    ds = SingleViewClips(c, recs, clip_len=T, stride=8)
    assert ds.skipped == [(recs[4].key, "no bvp label")]
    assert len(ds) == 4 * len(range(0, N - T + 1, 8))
    item = ds[1]
    assert item["video"].shape == (3, T, 24, 24) and item["video"].dtype == torch.float32
    assert item["bvp"].shape == (T,) and item["has_label"] and item["fps"] == 30.0
    e = c[item["key"]]
    s = item["start"]
    ref = diff_normalized(np.asarray(e.frames[s:s + T])).transpose(3, 0, 1, 2)
    np.testing.assert_allclose(item["video"].numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(item["bvp"].numpy(), diff_normalized_label(e.bvp[s:s + T]), rtol=1e-5)
    raw = SingleViewClips(c, recs[:1], clip_len=T, transform="raw", views=["frontal"])[0]
    np.testing.assert_array_equal(raw["video"].numpy(),
                                  np.asarray(c[recs[0]].frames[:T]).transpose(3, 0, 1, 2))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["video"].shape == (3, 3, T, 24, 24) and len(batch["key"]) == 3


def test_clips_drop_windows_without_face(cache, tmp_path):
    c, recs = cache
    e = c[recs[0]]
    ok = e.face_ok.copy()
    try:
        bad = ok.copy()
        bad[10] = False
        atomic_save_npy(e.path / "face_ok.npy", bad)
        ds = SingleViewClips(c, recs[:1], clip_len=T, stride=4)
        starts = [s for _, s in ds.index]
        assert all(not (s <= 10 < s + T) for s in starts) and starts
        assert len(SingleViewClips(c, recs[:1], clip_len=T, stride=4, require_face=False)) > len(ds)
    finally:
        atomic_save_npy(e.path / "face_ok.npy", ok)


def test_multiview_pairs(cache):
    c, recs = cache
    ds = MultiViewPairs(c, recs, clip_len=T, stride=T)
    assert len(ds.pairs) == 2 and len(ds) == 2 * len(range(0, N - T + 1, T))
    for i in range(len(ds)):
        it = ds[i]
        assert it["teacher_key"].endswith("frontal") and it["student_view"] == "side_left"
        assert it["teacher_key"].split("__")[1] == it["student_key"].split("__")[1]
        assert it["teacher_video"].shape == it["student_video"].shape == (3, T, 24, 24)
        t = c[it["teacher_key"]]
        np.testing.assert_allclose(
            it["bvp"].numpy(), diff_normalized_label(t.bvp[it["start"]:it["start"] + T]), rtol=1e-5)
    with pytest.raises(ValueError, match="no teacher/student pairs"):
        MultiViewPairs(c, [recs[1]], clip_len=T)  # a side view alone has no teacher


def test_video_radar_pairs(cache):
    c, recs = cache
    ds = VideoRadarPairs(c, recs, clip_len=T, stride=T)
    assert len(ds) == 5 * len(range(0, N - T + 1, T))
    labelled = [ds[i] for i in range(len(ds))]
    assert sum(not it["has_label"] for it in labelled) == len(range(0, N - T + 1, T))
    it = ds[0]
    r = c[it["key"]].radar[:, :T]
    ref = (r - r.mean(1, keepdims=True)) / r.std(1, keepdims=True)
    assert it["radar"].shape == (10, T)
    np.testing.assert_allclose(it["radar"].numpy(), ref, rtol=1e-4, atol=1e-5)
    unl = next(it for it in labelled if not it["has_label"])
    assert not unl["bvp"].any() and torch.isfinite(unl["radar"]).all()
    raw = VideoRadarPairs(c, recs[:1], clip_len=T, radar_transform="raw")[0]
    np.testing.assert_array_equal(raw["radar"].numpy(), r)
    assert len(VideoRadarPairs(c, recs, clip_len=T, require_label=True)) < len(
        VideoRadarPairs(c, recs, clip_len=T))


def test_dataset_errors(cache):
    c, recs = cache
    with pytest.raises(ValueError, match="no clips of 100 frames"):
        SingleViewClips(c, recs, clip_len=100)
    with pytest.raises(ValueError, match="clip_len"):
        SingleViewClips(c, recs, clip_len=1)
    missing = Recording("test", "nobody", "frontal", c.root, 30.0)
    ds = SingleViewClips(c, recs[:1] + [missing], clip_len=T)
    assert (missing.key, "not in the cache") in ds.skipped
