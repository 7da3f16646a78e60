"""Classical methods recover HR from synthetic RGB traces; the clip->trace function; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from rppg_distill.classical import METHODS, rgb_trace, run_method, skin_mask_ycrcb
from rppg_distill.signal import hr_protocol

FS = 30.0
SKIN = np.array([175.0, 120.0, 100.0])       # a mean skin tone (R, G, B)
PULSE_DIR = np.array([0.33, 0.77, 0.53])     # normalized blood-volume signature (Wang 2017, de Haan 2014)


def synth_trace(bpm=72.0, seconds=20.0, seed=0, amp=0.004, noise=0.0005, flicker=0.0,
                flicker_hz=1.9, specular=0.0, drift=0.05):
    """Skin trace: tone x (1 + illumination) x (1 + pulse along the PBV signature) + specular + noise.

    Illumination: slow drift and an optional in-band flicker (multiplicative, same on R,G,B);
    specular: white additive light varying slowly; pulse with a harmonic and slight HR variability.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    f = bpm / 60.0 * (1 + 0.02 * np.sin(2 * np.pi * 0.1 * t))
    phase = 2 * np.pi * np.cumsum(f) / FS
    p = np.sin(phase) + 0.3 * np.sin(2 * phase + 0.8)
    illum = 1 + drift * np.sin(2 * np.pi * 0.05 * t) + flicker * np.sin(2 * np.pi * flicker_hz * t)
    spec = specular * (1 + np.sin(2 * np.pi * 0.13 * t))
    rgb = SKIN * illum[:, None] * (1 + amp * p[:, None] * PULSE_DIR / PULSE_DIR[1])
    rgb += 255 * spec[:, None] + noise * SKIN * rng.standard_normal(rgb.shape)
    return rgb


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("bpm", [58.0, 72.0, 110.0])
def test_method_recovers_hr_clean(name, bpm):
    bvp = run_method(name, synth_trace(bpm, seed=int(bpm)), FS)
    assert bvp.shape == (600,) and np.all(np.isfinite(bvp))
    assert abs(hr_protocol(bvp, FS, "rpm_distill") - bpm) < 1.5


@pytest.mark.parametrize("name, kwargs", [("pos", {}), ("chrom", {}), ("lgi", {}),
                                          ("pbv", {"signature": (0.27, 0.80, 0.54)})])
def test_method_robust_to_inband_illumination_flicker(name, kwargs):
    rgb = synth_trace(80.0, flicker=0.01, flicker_hz=1.9, specular=0.002, seed=3)
    assert abs(hr_protocol(run_method(name, rgb, FS, **kwargs), FS, "rpm_distill") - 80.0) < 1.5


def test_pbv_windowed_and_bad_signature():
    bvp = run_method("pbv", synth_trace(66.0, seed=5), FS, window_s=3.2)
    assert abs(hr_protocol(bvp, FS, "rpm_distill") - 66.0) < 1.5
    with pytest.raises(ValueError, match="signature"):
        run_method("pbv", synth_trace(), FS, signature=(0, 0, 0))


def test_green_is_fooled_by_flicker_that_pos_removes():
    rgb = synth_trace(80.0, flicker=0.01, flicker_hz=1.9, seed=3)
    assert abs(hr_protocol(run_method("green", rgb, FS), FS, "rpm_distill") - 114.0) < 1.5
    assert abs(hr_protocol(run_method("pos", rgb, FS), FS, "rpm_distill") - 80.0) < 1.5


def test_pos_matches_a_direct_loop_implementation():
    rgb = synth_trace(72.0, seconds=4.0, seed=1)
    win = int(np.ceil(1.6 * FS))
    ref = np.zeros(len(rgb))
    for n in range(win - 1, len(rgb)):
        m = n - win + 1
        cn = rgb[m:n + 1] / rgb[m:n + 1].mean(axis=0)
        s = cn @ np.array([[0, 1, -1], [-2, 1, 1]], dtype=float).T
        h = s[:, 0] + s[:, 0].std() / s[:, 1].std() * s[:, 1]
        ref[m:n + 1] += h - h.mean()
    np.testing.assert_allclose(run_method("pos", rgb, FS), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bad_traces(name):
    with pytest.raises(ValueError, match=r"\[T, 3\]"):
        run_method(name, np.zeros((100, 4)), FS)
    with pytest.raises(ValueError, match="empty"):
        run_method(name, np.zeros((0, 3)), FS)
    bad = synth_trace(seconds=4.0)
    bad[10, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        run_method(name, bad, FS)


@pytest.mark.parametrize("name", ["pos", "chrom", "pbv", "ica"])
def test_too_short_or_bad_fs(name):
    with pytest.raises(ValueError):
        run_method(name, synth_trace(seconds=0.3), FS)
    with pytest.raises(ValueError, match="fs"):
        run_method(name, synth_trace(seconds=4.0), 0.0)


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown classical method"):
        run_method("nope", synth_trace(), FS)


# ---------------------------------------------------------------- clip -> trace
def _clip(n=8, h=12, w=10):
    rng = np.random.default_rng(0)
    frames = np.zeros((n, h, w, 3), np.uint8)
    frames[:] = (30, 200, 40)             # green background: not skin
    frames[:, 3:9, 2:8] = (200, 140, 120)  # skin patch
    frames[:, 3:9, 2:8, 1] += rng.integers(0, 3, size=(n, 6, 6)).astype(np.uint8)
    return frames


def test_rgb_trace_all_pixels_and_skin_mask():
    frames = _clip()
    np.testing.assert_allclose(rgb_trace(frames), frames.reshape(8, -1, 3).mean(axis=1))
    skin = rgb_trace(frames, skin_mask="ycrcb")
    np.testing.assert_allclose(skin, frames[:, 3:9, 2:8].reshape(8, -1, 3).mean(axis=1))
    m = skin_mask_ycrcb(frames[0])
    assert m[3:9, 2:8].all() and m.sum() == 36
    given = np.zeros((12, 10), bool)
    given[0, 0] = True
    np.testing.assert_allclose(rgb_trace(frames, skin_mask=given), frames[:, 0, 0].astype(float))


def test_rgb_trace_frames_without_skin_are_interpolated():
    frames = _clip()
    frames[4] = (30, 200, 40)
    tr = rgb_trace(frames, skin_mask=True)
    np.testing.assert_allclose(tr[4], (tr[3] + tr[5]) / 2)


def test_rgb_trace_bad_input():
    with pytest.raises(ValueError, match="N, H, W, 3"):
        rgb_trace(np.zeros((4, 5, 5)))
    with pytest.raises(ValueError, match="empty"):
        rgb_trace(np.zeros((0, 5, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="no skin"):
        rgb_trace(np.full((3, 5, 5, 3), (30, 200, 40), np.uint8), skin_mask=True)
    with pytest.raises(ValueError, match="skin_mask"):
        rgb_trace(_clip(), skin_mask="hsv")
