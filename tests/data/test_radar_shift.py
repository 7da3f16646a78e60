"""A radar window that starts after its video clip's is read from the recording (never a roll),
from the generator's EquiPleth files through the reader and the cache to VideoRadarPairs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cv2")

from rppg_distill.data.cache import ClipCache, preprocess
from rppg_distill.data.clips import VideoRadarPairs
from rppg_distill.data.readers import get_reader
from rppg_distill.data.synthetic import SynthConfig, generate
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import write_video

N, T, SHIFT = 40, 16, 6


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One recording whose radar runs SHIFT samples past the video, one whose radar stops with it."""
    from test_cache import face_frames  # same folder (pytest rootdir-relative import)

    tmp = tmp_path_factory.mktemp("shift")
    video = write_video(tmp / "v.avi", face_frames(N), 30.0, codec="MJPG")
    bvp = np.sin(np.arange(N) / 3).astype(np.float32)
    ramp = lambda n: (np.arange(n)[None, :] + 1000 * np.arange(10)[:, None]).astype(np.float32)  # noqa: E731
    recs = [Recording("test", "tail", "frontal", video, 30.0, state="rest", bvp=bvp, radar=ramp(N + SHIFT),
                      meta={"radar_tail": SHIFT}),
            Recording("test", "flush", "frontal", video, 30.0, state="rest", bvp=bvp, radar=ramp(N))]
    rep = preprocess(recs, tmp / "cache", {"workers": 0, "progress": False, "size": 24})
    assert not rep.flagged
    return ClipCache(tmp / "cache"), recs


def test_shifted_window_is_the_recording_later(cache):
    c, recs = cache
    ds = VideoRadarPairs(c, recs[:1], clip_len=T, stride=8, radar_transform="raw")
    assert c[recs[0].key].manifest["radar_tail"] == SHIFT
    for i in range(len(ds)):
        s = ds.index[i][1]
        a, b = ds[i], ds.item(i, SHIFT)
        np.testing.assert_array_equal(a["radar"].numpy(), recs[0].radar[:, s:s + T])
        np.testing.assert_array_equal(b["radar"].numpy(), recs[0].radar[:, s + SHIFT:s + SHIFT + T])
        assert not torch.equal(b["radar"], torch.roll(a["radar"], SHIFT, -1))   # not a circular roll
        assert torch.equal(a["video"], b["video"]) and torch.equal(a["bvp"], b["bvp"])
        assert (a["radar_offset"], b["radar_offset"]) == (0, SHIFT)
        assert ds.radar_room(i) == N + SHIFT - (s + T)


def test_windows_without_room_are_refused_at_the_end(cache):
    c, recs = cache
    ds = VideoRadarPairs(c, recs[1:], clip_len=T, stride=8, radar_transform="raw")
    rooms = [ds.radar_room(i) for i in range(len(ds))]
    assert rooms == [N - (s + T) for _, s in ds.index] and rooms[-1] < SHIFT <= rooms[0]
    ds.item(0, SHIFT)
    with pytest.raises(ValueError, match="does not fit"):
        ds.item(len(ds) - 1, SHIFT)


def test_generator_reader_cache_carry_the_radar_tail(tmp_path):
    kw = dict(duration_s=4.0, fps=10.0, size=64, codec="FFV1", states=("before",), views=("frontal",))
    generate(tmp_path, 1, seed=0, workers=1, formats=("equipleth",), **kw)  # a skin type Haar finds at 64 px
    recs = get_reader("equipleth")(tmp_path / "equipleth", fps=10.0)
    r = recs[0]
    assert len(r.bvp) == 40 and r.radar.shape == (10, 50) and r.meta["radar_tail"] == 10
    rep = preprocess(recs, tmp_path / "cache", {"workers": 0, "progress": False, "size": 24})
    assert not rep.flagged
    ds = VideoRadarPairs(ClipCache(tmp_path / "cache"), recs, clip_len=20, stride=10, radar_transform="raw",
                         require_face=False)
    last = len(ds) - 1
    s = ds.index[last][1]
    assert s + 20 == 40 and ds.radar_room(last) == 10       # the last clip ends with the video...
    np.testing.assert_allclose(ds.item(last, 10)["radar"].numpy(), r.radar[:, 50 - 20:], rtol=1e-6)
    # ...and its shifted radar window is the 1 s the radar recorded after the last frame
    with pytest.raises(ValueError, match="radar_tail_s"):
        SynthConfig(radar_tail_s=1.5, radar_lag_s=0.5)
