"""video_io: round trips, atomic writes, timestamps and clear errors on bad files."""

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rppg_distill.data.video_io import (
    iter_video,
    read_frame_folder,
    read_video,
    video_fps,
    video_info,
    write_frame_folder,
    write_video,
)


def _frames(n=6, h=24, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_ffv1_roundtrip_exact(tmp_path):
    fr = _frames()
    p = write_video(tmp_path / "a.avi", fr, 25.0, codec="FFV1")
    out = read_video(p)
    assert out.shape == fr.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, fr)
    assert video_fps(p) == pytest.approx(25.0)
    assert video_info(p)["frame_count"] == 6
    assert read_video(p, max_frames=2).shape[0] == 2


def test_mjpg_roundtrip_close(tmp_path):
    fr = np.full((4, 32, 32, 3), 120, np.uint8)
    fr[:, :, :, 0] = 200
    out = read_video(write_video(tmp_path / "m.avi", fr, 30.0, codec="MJPG", quality=95))
    assert np.abs(out.astype(int) - fr).max() <= 3


def test_atomic_no_temp_left(tmp_path):
    write_video(tmp_path / "a.avi", _frames(), 30.0, codec="FFV1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.avi"]
    with pytest.raises(ValueError):
        write_video(tmp_path / "b.avi", _frames(), 0.0)
    with pytest.raises(ValueError):
        write_video(tmp_path / "c.avi", np.zeros((0, 8, 8, 3), np.uint8), 30.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.avi"]


def test_iter_video_timestamps(tmp_path):
    p = write_video(tmp_path / "a.avi", _frames(5), 10.0, codec="FFV1")
    items = list(iter_video(p))
    assert len(items) == 5
    ts = np.array([t for _, t in items])
    np.testing.assert_allclose(ts, np.arange(5) / 10.0, atol=1e-3)
    assert items[0][0].shape == (24, 32, 3)


def test_bad_files_named(tmp_path):
    missing = tmp_path / "nope.avi"
    with pytest.raises(ValueError, match="nope.avi"):
        read_video(missing)
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.avi"):
        read_video(empty)
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="junk.avi"):
        read_video(junk)
    with pytest.raises(ValueError, match="junk.avi"):
        list(iter_video(junk))


def test_truncated_video(tmp_path):
    p = write_video(tmp_path / "t.avi", _frames(8, 64, 64), 30.0, codec="MJPG")
    data = p.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:300])  # header only, no frame data
    with pytest.raises(ValueError, match="cut.avi"):
        read_video(cut)


def test_frame_folder_roundtrip(tmp_path):
    fr = _frames(12)
    write_frame_folder(tmp_path / "f", fr, name="rgbd_rgb_{i}.png")
    np.testing.assert_array_equal(read_frame_folder(tmp_path / "f"), fr)  # numeric order: 2 < 10
    (tmp_path / "f" / "rgbd_rgb_3.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="rgbd_rgb_3.png"):
        read_frame_folder(tmp_path / "f")


def _zero_fps_avi(tmp_path, codec="MJPG"):
    p = write_video(tmp_path / f"f0_{codec}.avi", np.full((5, 16, 16, 3), 50, np.uint8), 30.0, codec=codec)
    b = bytearray(p.read_bytes())
    i = b.find(b"strh")
    b[i + 32:i + 36] = (0).to_bytes(4, "little")
    p.write_bytes(bytes(b))
    return p


def test_fps_zero_header_is_an_error(tmp_path):
    from rppg_distill.data.video_io import avi_header_fps

    p = write_video(tmp_path / "ok.avi", _frames(2), 24.0, codec="FFV1")
    assert avi_header_fps(p) == pytest.approx(24.0)
    bad = _zero_fps_avi(tmp_path)
    assert video_info(bad)["fps"] == 0.0  # FFmpeg alone would report 25
    with pytest.raises(ValueError, match="f0_MJPG.avi"):
        video_fps(bad)
