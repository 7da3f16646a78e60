"""Synthetic generator: seeding, physiology ranges, radar physics, views, HR recoverability."""

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from rppg_distill.data.synthetic import SynthConfig, generate, simulate
from rppg_distill.data.synthetic.pulse import draw_physiology, make_signals
from rppg_distill.data.synthetic.radar import WAVELENGTH_MM


def _pos(rgb, fs):
    """Minimal POS (Wang et al. 2017) for the test only; the SDK's lives in rppg_distill.classical."""
    n, w = len(rgb), int(1.6 * fs)
    h = np.zeros(n)
    proj = np.array([[0, 1, -1], [-2, 1, 1]])
    for i in range(w, n + 1):
        c = rgb[i - w:i] / rgb[i - w:i].mean(0)
        s = c @ proj.T
        p = s[:, 0] + s[:, 0].std() / (s[:, 1].std() + 1e-9) * s[:, 1]
        h[i - w:i] += p - p.mean()
    return h


def _hr(x, fs, lo=0.7, hi=3.0):
    x = x - x.mean()
    f = np.fft.rfftfreq(len(x) * 8, 1 / fs)
    p = np.abs(np.fft.rfft(x * np.hanning(len(x)), len(x) * 8))
    m = (f >= lo) & (f <= hi)
    return 60 * f[m][np.argmax(p[m])]


def test_seeded_and_shapes():
    cfg = SynthConfig(duration_s=1.0, fps=10.0, size=64, seed=4)
    a, b = simulate(1, "before", cfg), simulate(1, "before", cfg)
    for v in cfg.views:
        assert a.frames[v].shape == (10, 64, 64, 3) and a.frames[v].dtype == np.uint8
        np.testing.assert_array_equal(a.frames[v], b.frames[v])
    np.testing.assert_array_equal(a.bvp, b.bvp)
    np.testing.assert_array_equal(a.radar_iq, b.radar_iq)
    assert a.radar_iq.shape == (240, 512)   # 1 s of video + radar_tail_s = 1 s at 120 Hz
    c = simulate(1, "before", SynthConfig(duration_s=1.0, fps=10.0, size=64, seed=5))
    assert not np.array_equal(a.bvp, c.bvp)


def test_physiology_ranges():
    for seed in range(20):
        for state in ("before", "after"):
            rng = np.random.default_rng(seed)
            p = draw_physiology(rng, state)
            s = make_signals(p, 30.0, rng)
            assert 45 <= s.hr_bpm.min() and s.hr_bpm.max() <= 150
            assert 0.15 <= p.resp_hz <= 0.4 and 0.05 <= p.cardiac_mm <= 0.5
            assert abs(s.ppg.mean()) < 1e-6 and abs(s.ppg.std() - 1) < 1e-6
            assert s.hr_bpm.std() > 0.3  # variability


def test_radar_phase_tracks_chest():
    cfg = SynthConfig(duration_s=8.0, fps=30.0, size=32, views=("frontal",), seed=2)
    sim = simulate(1, "before", cfg)
    iq = sim.radar_iq[:, ::2]
    spec = np.fft.fft(iq, axis=1)
    b = 5 + np.argmax(np.abs(spec[:, 5:20]).sum(0))
    phase = np.unwrap(np.angle(spec[:, b]))
    t = np.arange(len(phase)) / 120.0
    chest = np.interp(t, sim.signals.t, sim.signals.chest_mm)
    disp = (phase - phase.mean()) * WAVELENGTH_MM / (4 * np.pi)
    r = np.corrcoef(disp, chest)[0, 1]
    assert abs(r) > 0.9
    # the radar lag switch delays the radar
    lag = simulate(1, "before", SynthConfig(duration_s=8.0, fps=30.0, size=32, views=("frontal",), seed=2,
                                            radar_lag_s=0.5))
    ph2 = np.unwrap(np.angle(np.fft.fft(lag.radar_iq[:, ::2], axis=1)[:, b]))
    xc = [np.corrcoef(ph2[k:], phase[:len(phase) - k])[0, 1] for k in range(0, 120, 6)]
    assert int(np.argmax(xc)) * 6 == 60


def test_frontal_face_found_and_pos_hr():
    """Haar finds the face in sampled frontal frames; POS on the frontal view recovers HR."""
    casc = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    cfg = SynthConfig(duration_s=10.0, views=("frontal", "side_left"), radar=False, seed=0)
    sim = simulate(1, "before", cfg)
    fr = sim.frames["frontal"]
    for f in fr[::25]:
        enc = cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], cv2.IMREAD_COLOR)
        assert len(casc.detectMultiScale(cv2.cvtColor(enc, cv2.COLOR_BGR2GRAY), 1.1, 4, minSize=(40, 40))) > 0
    x, y, w, h = (int(v) for v in sim.face_boxes["frontal"])
    rgb = fr[:, y:y + h, x:x + w].reshape(len(fr), -1, 3).mean(1)
    assert abs(_hr(_pos(rgb, 30.0), 30.0) - sim.hr_bpm) < 3.0


@pytest.mark.slow
def test_sides_harder_than_frontal():
    """Over 6 subjects x 2 states x 20 s (MJPG q95 round trip), POS error frontal < 3 bpm and < sides."""
    cfg = SynthConfig(duration_s=20.0, radar=False, seed=0)
    err = {v: [] for v in cfg.views}
    for s in range(1, 7):
        for st in cfg.states:
            sim = simulate(s, st, cfg)
            for v, fr in sim.frames.items():
                fr = np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], 1)
                               for f in fr])
                x, y, w, h = (int(a) for a in sim.face_boxes[v])
                rgb = fr[:, max(y, 0):y + h, max(x, 0):x + w].reshape(len(fr), -1, 3).mean(1)
                err[v].append(abs(_hr(_pos(rgb, 30.0), 30.0) - sim.hr_bpm))
    mae = {v: float(np.mean(e)) for v, e in err.items()}
    assert mae["frontal"] < 3.0
    assert mae["side_left"] > mae["frontal"] and mae["side_right"] > mae["frontal"]


def test_generate_manifest(tmp_path):
    m = generate(tmp_path, 1, duration_s=0.5, fps=10.0, size=48, workers=1, formats=("mcd_rppg",),
                 states=("before",), radar=False)
    assert (tmp_path / "synth_manifest.json").is_file() and len(m["recordings"]) == 1
    assert sorted(p.name for p in (tmp_path / "mcd_rppg" / "video").iterdir()) == [
        "1_FullHDwebcam_before.avi", "1_IriunWebcam_before.avi", "1_USBVideo_before.avi"]
    with pytest.raises(ValueError, match="format"):
        generate(tmp_path, 1, formats=("nope",))


def test_synth_cli(tmp_path, capsys):
    from rppg_distill.cli import main

    rc = main(["synth", str(tmp_path), "--subjects", "1", "--seconds", "0.5", "--fps", "10", "--size", "48",
               "--no-radar", "--states", "before", "--formats", "mcd_rppg,ubfc_rppg", "--quiet", "--workers", "1"])
    assert rc == 0 and "wrote 1" in capsys.readouterr().out
    assert (tmp_path / "ubfc_rppg" / "subject1" / "ground_truth.txt").is_file()
    assert (tmp_path / "mcd_rppg" / "db.csv").is_file()
