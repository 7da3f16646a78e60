"""Clips at the model's frame rate: a 25 fps recording among 30 fps ones is resampled to 30 fps
(frames and labels, linear in time), so a model trained at 30 fps sees 30 fps and the heart rate
read at the clip's rate is the recording's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rppg_distill.data.cache import ClipCache, preprocess
from rppg_distill.data.clip_rate import grid_length, needs_resampling, resample_frames, resample_signal
from rppg_distill.data.clips import MultiViewPairs, SingleViewClips
from rppg_distill.data.transforms import apply_label_transform
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import write_video
from rppg_distill.signal import hr_fft

HR_HZ = 1.2            # 72 bpm
T = 120                # 4 s at 30 fps


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """s1 frontal + side_left at 30 fps (6 s), s2 frontal + side_left at 25 fps (6 s)."""
    from test_cache import face_frames  # same folder

    tmp = tmp_path_factory.mktemp("rates")
    recs = []
    for subj, fps in (("s1", 30.0), ("s2", 25.0)):
        n = int(6 * fps)
        video = write_video(tmp / f"{subj}.avi", face_frames(n), fps, codec="MJPG")
        bvp = np.sin(2 * np.pi * HR_HZ * np.arange(n) / fps).astype(np.float32)
        for view in ("frontal", "side_left"):
            recs.append(Recording("test", subj, view, video, fps, state="rest", bvp=bvp))
    rep = preprocess(recs, tmp / "cache", {"workers": 0, "progress": False, "size": 16})
    assert not rep.flagged
    return ClipCache(tmp / "cache"), recs


def test_resampling_is_linear_interpolation_in_time():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(50).astype(np.float32)
    got = resample_signal(y, 3, 20, 25.0, 30.0, 50)
    t = (3 + np.arange(20)) / 30.0
    np.testing.assert_allclose(got, np.interp(t, np.arange(50) / 25.0, y), rtol=1e-5, atol=1e-6)
    frames = rng.integers(0, 256, (50, 2, 2, 3)).astype(np.uint8)
    fr = resample_frames(frames, 3, 20, 25.0, 30.0, 50)
    ref = np.interp(t, np.arange(50) / 25.0, frames[:, 1, 0, 2].astype(np.float64))
    np.testing.assert_allclose(fr[:, 1, 0, 2], ref, rtol=1e-5, atol=1e-4)
    assert grid_length(150, 25.0, 30.0) == 179   # the last sample at or before frame 149 (5.96 s)
    assert not needs_resampling(30.0, 30.0) and not needs_resampling(25.0, None)
    assert needs_resampling(25.0, 30.0) and needs_resampling(29.97, 30.0)


def test_single_view_clips_resample_a_25fps_recording_to_30fps(cache):
    c, recs = cache
    ds = SingleViewClips(c, recs, clip_len=T, stride=30, transform="raw", label_transform="raw",
                         fs=30.0, views=["frontal"])
    by_key = {}
    for i in range(len(ds)):
        it = ds[i]
        by_key.setdefault(it["key"], []).append(it)
        assert it["fs"] == 30.0 and it["video"].shape == (3, T, 16, 16)
        assert hr_fft(it["bvp"].numpy(), it["fs"], (0.5, 3.0), 0.1) == pytest.approx(72.0, abs=0.5)
    fps25 = [k for k in by_key if c[k].fps == 25.0]
    assert len(fps25) == 1 and by_key[fps25[0]][0]["fps"] == 25.0
    # 6 s at 25 fps are 179 samples on the 30 fps grid: clips start at 0 and 30 (60 + 120 > 179)
    assert [it["start"] for it in by_key[fps25[0]]] == [0, 30]
    e = c[fps25[0]]
    it = by_key[fps25[0]][1]
    t = (it["start"] + np.arange(T)) / 30.0
    ref = np.interp(t, np.arange(e.n_usable) / 25.0, np.asarray(e.frames[:e.n_usable, 5, 7, 1], np.float64))
    np.testing.assert_allclose(it["video"][1, :, 5, 7].numpy(), ref, rtol=1e-5, atol=1e-3)
    native = SingleViewClips(c, [c[fps25[0]].key], clip_len=T, stride=30, transform="raw")
    assert native[0]["fs"] == 25.0                  # fs=None: the recording's own rate
    assert hr_fft(apply_label_transform(native[0]["bvp"].numpy(), "raw"), 25.0, (0.5, 3.0), 0.1) \
        == pytest.approx(72.0, abs=0.5)


def test_multiview_pairs_deliver_one_rate_per_batch(cache):
    c, recs = cache
    ds = MultiViewPairs(c, recs, clip_len=T, stride=30, transform="standardized", fs=30.0)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=len(ds))))
    assert set(batch["fs"].tolist()) == {30.0} and set(batch["fps"].tolist()) == {25.0, 30.0}
    assert batch["teacher_video"].shape[2] == T
    mixed = MultiViewPairs(c, recs, clip_len=T, stride=30, transform="standardized")
    assert set(next(iter(torch.utils.data.DataLoader(mixed, batch_size=len(mixed))))["fs"].tolist()) \
        == {25.0, 30.0}


def test_crossview_trainer_refuses_a_batch_at_another_rate(cache, tmp_path):
    pytest.importorskip("rppg_distill.models")
    from rppg_distill.train import crossview
    from rppg_distill.train.config import CrossViewConfig

    c, recs = cache
    mixed = MultiViewPairs(c, recs, clip_len=T, stride=30, transform="standardized",
                           label_transform="diff_normalized")
    cfg = CrossViewConfig(scheme="asymmetric")
    cfg.model.kwargs = {"nb_filters1": 4, "nb_filters2": 4, "nb_dense": 8, "frame_depth": 10}
    cfg.data.img_size = 16
    task = crossview.CrossViewTask(cfg, torch.device("cpu"), mixed)
    batch = next(iter(torch.utils.data.DataLoader(mixed, batch_size=len(mixed))))
    with pytest.raises(ValueError, match="clips at 25, 30 fps, the model trains at data.fs=30"):
        task.training_step(task.model, batch, 0)
    single = crossview.CrossViewTask(dataclasses.replace(cfg, scheme="cam2-only"), torch.device("cpu"), mixed)
    one_view = next(iter(torch.utils.data.DataLoader(single.train_dataset(), batch_size=len(mixed))))
    with pytest.raises(ValueError, match="clips at 25, 30 fps"):
        single.training_step(single.model, one_view, 0)
