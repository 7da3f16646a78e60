"""MCD-rPPG reader on fixtures written in the real layout by the synthetic writers."""

import csv
import shutil

import numpy as np
import pytest

pytest.importorskip("cv2")

from rppg_distill.data.readers import get_reader
from rppg_distill.data.synthetic import SynthConfig, generate, simulate
from rppg_distill.data.synthetic.formats import write_mcd_db, write_mcd_view

KW = dict(duration_s=1.0, fps=10.0, size=64, radar=False, codec="FFV1")


@pytest.fixture(scope="module")
def mcd_root(tmp_path_factory):
    out = tmp_path_factory.mktemp("mcd")
    generate(out, 2, seed=3, workers=1, formats=("mcd_rppg",), **KW)
    return out / "mcd_rppg"


def test_layout_and_roundtrip(mcd_root):
    names = sorted(p.name for p in (mcd_root / "video").iterdir())
    assert names[0] == "1_FullHDwebcam_after.avi" and len(names) == 12
    assert (mcd_root / "ppg" / "1_before.PW").is_file()
    assert (mcd_root / "ppg_sync" / "2_USBVideo_after.txt").is_file()
    with open(mcd_root / "db.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"patient_id", "camera", "step", "video", "ppg_sync", "pulse"} <= set(rows[0])
    recs = get_reader("mcd_rppg")(mcd_root)
    assert [r.subject for r in recs] == ["1"] * 6 + ["2"] * 6
    assert [r.view for r in recs[:3]] == ["frontal", "side_left", "side_right"]
    assert [r.state for r in recs[:6]] == ["before"] * 3 + ["after"] * 3
    cfg = SynthConfig(n_subjects=2, seed=3, **KW)
    sim = simulate(1, "before", cfg)
    r = recs[0]
    assert r.camera == "USBVideo" and r.fps == pytest.approx(10.0)
    np.testing.assert_allclose(r.bvp, sim.bvp, atol=1e-5)
    np.testing.assert_array_equal(r.load_frames(), sim.frames["frontal"])  # FFV1 is lossless
    assert r.hr_bpm == pytest.approx(sim.hr_bpm, abs=0.06)


def test_camera_mapping_is_config(mcd_root):
    cams = {"FullHDwebcam": "frontal", "USBVideo": "side_left", "IriunWebcam": "side_right"}
    recs = get_reader("mcd")(mcd_root, camera_views=cams, views=["frontal"], states=["after"])
    assert [(r.subject, r.camera) for r in recs] == [("1", "FullHDwebcam"), ("2", "FullHDwebcam")]
    with pytest.raises(ValueError, match="camera"):
        get_reader("mcd")(mcd_root, camera_views={"USBVideo": "frontal"})


def test_without_db_and_fps_override(mcd_root, tmp_path):
    root = tmp_path / "m"
    shutil.copytree(mcd_root, root)
    (root / "db.csv").unlink()
    recs = get_reader("mcd")(root, fps=24.0)
    assert len(recs) == 12 and all(r.fps == 24.0 for r in recs) and recs[0].hr_bpm is None


def _one(tmp_path, n_frames=10, n_label=10, fps=10.0):
    fr = np.full((n_frames, 16, 16, 3), 100, np.uint8)
    row = write_mcd_view(tmp_path, "7", "USBVideo", "before", fr, fps, np.zeros(n_label), codec="FFV1")
    write_mcd_db(tmp_path, [row])
    return tmp_path


def test_bad_inputs(tmp_path):
    read = get_reader("mcd_rppg")
    root = _one(tmp_path / "short", n_label=6)
    with pytest.raises(ValueError, match="7_USBVideo_before.*label has 6 samples.*shorter"):
        read(root)
    skipped = []
    with pytest.warns(UserWarning):
        assert read(root, on_error="skip", skipped=skipped) == []
    assert skipped and skipped[0][0] == "7_USBVideo_before.avi"
    # within tolerance: cut to the shorter, recorded in meta
    r = read(_one(tmp_path / "tol", n_label=11))[0]
    assert len(r.bvp) == 10 and r.meta["trimmed_frames"]["label"] == 1 and len(r.load_frames()) == 10
    root = _one(tmp_path / "missing")
    (root / "ppg_sync" / "7_USBVideo_before.txt").unlink()
    with pytest.raises(ValueError, match="label file not found.*7_USBVideo_before.txt"):
        read(root)
    root = _one(tmp_path / "corrupt")
    (root / "video" / "7_USBVideo_before.avi").write_bytes(b"RIFF" + b"\0" * 100)
    with pytest.raises(ValueError, match="7_USBVideo_before.avi"):
        read(root)
    root = _one(tmp_path / "zero")
    (root / "video" / "7_USBVideo_before.avi").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read(root)


def test_fps_zero_header(tmp_path):
    root = _one(tmp_path / "fps0")
    p = root / "video" / "7_USBVideo_before.avi"
    b = bytearray(p.read_bytes())
    i = b.find(b"strh")
    b[i + 32:i + 36] = (0).to_bytes(4, "little")
    p.write_bytes(bytes(b))
    with pytest.raises(ValueError, match="7_USBVideo_before.avi: invalid fps"):
        get_reader("mcd")(root)
    assert len(get_reader("mcd")(root, fps=30.0)) == 1  # explicit override
