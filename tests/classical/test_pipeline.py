"""The classical HR pipeline (ClassicalPipeline): HR through drift and noise, windows, aggregation,
dropped frames, bad settings; the fs-scaled detrending."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_classical import synth_trace

from rppg_distill.classical import DEFAULT_METHOD, METHODS, ClassicalPipeline, fill_dropped_frames
from rppg_distill.signal.filters import detrend, detrend_lambda
from rppg_distill.signal.hr import aggregate_hr

FS = 30.0


@pytest.mark.parametrize("name", sorted(METHODS))
def test_pipeline_recovers_hr_through_drift(name):
    # strong slow drift (10 %) and sensor noise: detrending and the band-pass must handle it
    rgb = synth_trace(bpm=66.0, seconds=24.0, drift=0.10, noise=0.001, seed=3)
    pipe = ClassicalPipeline(method=name)
    t, hrs = pipe.track(rgb, FS)
    assert len(hrs) == 15 and np.allclose(np.diff(t), 1.0)  # 10 s windows every 1 s over 24 s
    assert abs(pipe.hr(rgb, FS) - 66.0) < 3.0


def test_default_is_a_known_method_and_settings_are_reported():
    p = ClassicalPipeline()
    assert p.method == DEFAULT_METHOD in METHODS
    d = p.as_dict()
    assert d["band"] == [0.75, 2.5] and d["filter_order"] == 1 and d["window_s"] == 10.0
    assert ClassicalPipeline(method="CHROM").method == "chrom"


def test_short_recording_gives_one_window():
    rgb = synth_trace(bpm=80.0, seconds=7.0)
    t, hrs = ClassicalPipeline().track(rgb, FS)
    assert t.shape == hrs.shape == (1,) and abs(hrs[0] - 80.0) < 4.0


def test_dropped_frames_are_filled_not_fatal():
    rgb = synth_trace(bpm=75.0, seconds=15.0)
    rgb[100] = 0.0
    rgb[200] = np.nan
    filled = fill_dropped_frames(rgb)
    assert np.all(np.isfinite(filled)) and np.all(filled > 0)
    assert np.allclose(filled[100], (rgb[99] + rgb[101]) / 2)
    assert abs(ClassicalPipeline().hr(rgb, FS) - 75.0) < 3.0
    with pytest.raises(ValueError, match="no valid frame"):
        fill_dropped_frames(np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"\[T, 3\]"):
        fill_dropped_frames(np.ones((10, 4)))


@pytest.mark.parametrize("kw,match", [
    ({"method": "nope"}, "unknown classical method"),
    ({"band": (2.0, 1.0)}, "band"),
    ({"filter_order": 0}, "filter_order"),
    ({"detrend_lam_at_30": -1.0}, "detrend_lam_at_30"),
    ({"window_s": 0.0}, "window_s"),
    ({"aggregate": "mean"}, "aggregate"),
])
def test_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        ClassicalPipeline(**kw)


def test_bad_fs_and_band_above_nyquist():
    rgb = synth_trace(seconds=12.0)
    with pytest.raises(ValueError, match="fs"):
        ClassicalPipeline().pulse(rgb, 0.0)
    with pytest.raises(ValueError, match="Nyquist"):
        ClassicalPipeline().pulse(rgb, 4.0)


def test_aggregate_median_and_mode():
    hrs = [70.0, 71.0, 70.5, 140.0, 141.0, 48.0, np.nan]
    assert aggregate_hr(hrs) == pytest.approx(70.75)
    # the mode follows the cluster most windows agree on, even a minority of them
    spread = [72.0, 72.5, 73.0, 95.0, 100.0, 110.0, 130.0]
    assert abs(aggregate_hr(spread, "mode") - 72.5) < 1.0
    assert aggregate_hr(spread, "median") == 95.0
    with pytest.raises(ValueError, match="no finite"):
        aggregate_hr([np.nan])
    with pytest.raises(ValueError, match="unknown HR aggregate"):
        aggregate_hr([70.0], "mean")


def test_spectrum_aggregate_finds_the_pulse_under_moving_noise():
    # every window: a weak 72 bpm pulse plus a stronger sinusoid at a random in-band frequency,
    # so each window's own peak is noise; the mean spectrum still peaks at the pulse
    rng = np.random.default_rng(0)
    t = np.arange(300) / FS
    noise_hz = rng.uniform(0.8, 2.4, 24)
    noise_hz = noise_hz[np.abs(noise_hz - 1.2) > 0.15]
    w = np.stack([0.6 * np.sin(2 * np.pi * 1.2 * t) + np.sin(2 * np.pi * f * t + rng.uniform(0, 6))
                  for f in noise_hz])
    pipe = ClassicalPipeline(aggregate="spectrum")
    assert abs(pipe.aggregate_windows(w, FS) - 72.0) < 1.0
    assert np.all(np.abs(pipe.peak_hr(w, FS) - 72.0) > 5.0)   # no single window finds it


def test_detrend_lambda_keeps_the_cutoff_in_hz():
    # a 0.05 Hz drift is removed and a 1.2 Hz pulse kept at 15 fps as at 30 fps
    for fs in (15.0, 30.0, 60.0):
        t = np.arange(int(20 * fs)) / fs
        lam = detrend_lambda(fs)
        drift = detrend(np.sin(2 * np.pi * 0.05 * t), lam)
        pulse = detrend(np.sin(2 * np.pi * 1.2 * t), lam)
        assert np.std(drift[50:-50]) < 0.1
        assert np.std(pulse[50:-50]) > 0.65
    assert detrend_lambda(30.0) == 100.0 and detrend_lambda(15.0) == 25.0
    with pytest.raises(ValueError):
        detrend_lambda(30.0, -5.0)


def test_pipeline_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClassicalPipeline().method = "chrom"
