"""UBFC-rPPG, EquiPleth, PURE and PhysDrive readers on tiny fixtures in the real formats."""

import json

import numpy as np
import pytest

pytest.importorskip("cv2")

from rppg_distill.data.readers import get_reader
from rppg_distill.data.readers.equipleth import load_rf, organize
from rppg_distill.data.synthetic import SynthConfig, generate, simulate
from rppg_distill.data.synthetic.radar import pack_dca1000
from rppg_distill.data.video_io import write_frame_folder, write_video

KW = dict(duration_s=1.0, fps=10.0, size=64, codec="FFV1", states=("before", "after"))


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn")
    generate(out, 2, seed=5, workers=1, formats=("ubfc_rppg", "equipleth"), views=("frontal",), **KW)
    return out


def test_ubfc_roundtrip(synth_root):
    recs = get_reader("ubfc")(synth_root / "ubfc_rppg")
    assert [r.subject for r in recs] == ["1", "2"] and all(r.view == "frontal" for r in recs)
    sim = simulate(2, "before", SynthConfig(n_subjects=2, seed=5, views=("frontal",), **KW))
    np.testing.assert_allclose(recs[1].bvp, sim.bvp, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(recs[1].load_frames(), sim.frames["frontal"])
    assert recs[1].hr_bpm == pytest.approx(sim.hr_bpm, abs=0.01)


def test_ubfc_sorted_numerically_and_errors(tmp_path):
    fr = np.zeros((5, 8, 8, 3), np.uint8)
    for n in (10, 2):
        d = tmp_path / f"subject{n}"
        write_video(d / "vid.avi", fr, 30.0, codec="FFV1")
        (d / "ground_truth.txt").write_text("1 2 3 4 5\n60 60 60 60 60\n0 .1 .2 .3 .4\n")
    assert [r.subject for r in get_reader("ubfc")(tmp_path)] == ["2", "10"]
    (tmp_path / "subject10" / "ground_truth.txt").write_text("1 2\n60 60\n0 .1\n")
    with pytest.raises(ValueError, match="subject10.*label has 2 samples"):
        get_reader("ubfc")(tmp_path)
    (tmp_path / "subject10" / "ground_truth.txt").unlink()
    skipped = []
    with pytest.warns(UserWarning):
        recs = get_reader("ubfc")(tmp_path, on_error="skip", skipped=skipped)
    assert [r.subject for r in recs] == ["2"] and skipped[0][0] == "subject10"
    assert "ground_truth.txt" in skipped[0][1]


def test_equipleth_roundtrip_and_radar(synth_root):
    root = synth_root / "equipleth"
    assert (root / "rgb_files" / "v_1_2" / "rgbd_rgb_0.png").is_file()
    assert (root / "rf_files" / "1_2" / "rf.pkl").is_file()
    vital = np.load(root / "rf_files" / "1_1" / "vital_dict.npy", allow_pickle=True).item()
    assert "NOM_PLETHWaveExport" in vital["rgbd"]
    recs = get_reader("equipleth")(root, fps=10.0)
    assert [(r.subject, r.state) for r in recs] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    r = recs[0]
    sim = simulate(1, "before", SynthConfig(n_subjects=2, seed=5, views=("frontal",), **KW))
    np.testing.assert_allclose(r.bvp, sim.bvp, atol=1e-6)
    assert r.radar.shape == (10, len(sim.bvp) + 10) and r.radar.dtype == np.float32  # + radar_tail_s at 10 fps
    assert r.meta["radar_tail"] == 10
    assert 5 <= r.meta["range_bin"] < 20
    frames = r.load_frames()
    assert frames.shape[0] == len(r.bvp) and frames.dtype == np.uint8
    # the DCA1000 packing round-trips exactly (up to int16 rounding)
    raw, hdr = load_rf(root / "rf_files" / "1_1" / "rf.pkl")
    iq = organize(raw, 512)
    np.testing.assert_allclose(iq, np.round(sim.radar_iq.real) + 1j * np.round(sim.radar_iq.imag), atol=1)
    assert hdr["bytes"] == raw.size * 2


def test_equipleth_bad_inputs(synth_root, tmp_path):
    import shutil

    root = tmp_path / "e"
    shutil.copytree(synth_root / "equipleth", root)
    (root / "rf_files" / "1_1" / "rf.pkl").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="rf.pkl"):
        get_reader("equipleth")(root, fps=10.0)
    with pytest.raises(ValueError, match="fps"):
        get_reader("equipleth")(root, fps=0)
    np.save(root / "rgb_files" / "v_2_1" / "rgbd_ppg.npy", np.zeros(27))
    skipped = []
    with pytest.warns(UserWarning):
        recs = get_reader("equipleth")(root, fps=10.0, on_error="skip", skipped=skipped)
    assert [(r.subject, r.state) for r in recs] == [("1", "2"), ("2", "2")]
    assert {s[0] for s in skipped} == {"v_1_1", "v_2_1"}


def test_pack_dca_layout():
    iq = (np.arange(8) + 1j * (100 + np.arange(8))).reshape(2, 4)
    raw = pack_dca1000(iq).view(np.int16)
    assert raw[:8].tolist() == [0, 1, 100, 101, 2, 3, 102, 103]
    np.testing.assert_array_equal(organize(raw, 4), iq)


def _pure_fixture(root, n=6, fps=30.0, ppg_hz=60.0, name="01-02"):
    t0 = 1_400_000_000_000_000_000
    ft = t0 + (np.arange(n) * 1e9 / fps).astype(np.int64)
    pt = t0 - 50_000_000 + (np.arange(int(n / fps * ppg_hz) + 8) * 1e9 / ppg_hz).astype(np.int64)
    frames = np.random.default_rng(0).integers(0, 255, (n, 12, 16, 3), dtype=np.uint8)
    d = root / name / name
    write_frame_folder(d, frames, name="tmp_{i}.png")
    for i, t in enumerate(ft):
        (d / f"tmp_{i}.png").rename(d / f"Image{t}.png")
    label = {"/FullPackage": [{"Timestamp": int(t), "Value": {"waveform": float(np.sin(i / 3)), "pulseRate": 70,
                                                                "o2saturation": 98, "signalStrength": 4}}
                              for i, t in enumerate(pt)],
             "/Image": [{"Timestamp": int(t)} for t in ft]}
    (root / f"{name}.json").write_text(json.dumps(label))
    return frames, ft, pt


def test_pure(tmp_path):
    frames, ft, pt = _pure_fixture(tmp_path)
    _pure_fixture(tmp_path, name="10-01")
    _pure_fixture(tmp_path, name="2-01")
    recs = get_reader("pure")(tmp_path)
    assert [(r.subject, r.state) for r in recs] == [("1", "02"), ("2", "01"), ("10", "01")]
    r = recs[0]
    assert r.fps == pytest.approx(30.0, rel=1e-3)
    expect = np.interp(ft * 1e-9, pt * 1e-9, np.sin(np.arange(len(pt)) / 3))
    np.testing.assert_allclose(r.bvp, expect, atol=1e-5)
    np.testing.assert_array_equal(r.load_frames(), frames)
    (tmp_path / "10-01.json").write_text("{not json")
    with pytest.raises(ValueError, match="10-01.json"):
        get_reader("pure")(tmp_path)


def test_physdrive(tmp_path):
    from scipy.io import savemat

    fr = np.random.default_rng(1).integers(0, 255, (8, 16, 16, 3), dtype=np.uint8)
    for subj, cond in (("3", "AS"), ("3", "BT"), ("12", "CS")):
        d = tmp_path / subj / cond
        write_video(d / "RGB.avi", fr, 30.0, codec="FFV1")
        (d / "Label").mkdir(parents=True)
        savemat(str(d / "Label" / "BVP.mat"), {"BVP": np.linspace(0, 1, 8)[None, :]})
    (tmp_path / "3" / "notes").mkdir()
    recs = get_reader("physdrive")(tmp_path, video_name="RGB.avi")
    assert [(r.subject, r.state) for r in recs] == [("3", "AS"), ("3", "BT"), ("12", "CS")]
    np.testing.assert_allclose(recs[0].bvp, np.linspace(0, 1, 8), atol=1e-6)
    np.testing.assert_array_equal(recs[0].load_frames(), fr)
    savemat(str(tmp_path / "12" / "CS" / "Label" / "BVP.mat"), {"PPG": np.zeros(8)})
    with pytest.raises(ValueError, match="no key 'BVP'"):
        get_reader("physdrive")(tmp_path, video_name="RGB.avi")


def test_registry():
    with pytest.raises(ValueError, match="unknown dataset"):
        get_reader("nope")
    for n in ("mcd_rppg", "ubfc_rppg", "pure", "equipleth", "physdrive", "MCD", "ubfc"):
        assert callable(get_reader(n))
