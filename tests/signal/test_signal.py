"""rppg_distill.signal: filters, HR estimation, quality measures, windowing, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from rppg_distill.signal import (
    PROTOCOLS,
    bandpass,
    detrend,
    hr_fft,
    hr_peaks,
    hr_protocol,
    hr_windows,
    peak_concentration,
    resample_uniform,
    sliding_windows,
    snr_db,
    window_bounds,
)

FS = 30.0


def pulse(bpm, seconds=20.0, fs=FS, noise=0.0, seed=0, harmonic=0.4, drift=0.0):
    t = np.arange(int(seconds * fs)) / fs
    f = bpm / 60.0
    x = np.sin(2 * np.pi * f * t) + harmonic * np.sin(4 * np.pi * f * t + 0.7)
    x += drift * t / t[-1]
    return x + noise * np.random.default_rng(seed).standard_normal(t.shape)


# ---------------------------------------------------------------- filters
def test_bandpass_keeps_passband_and_removes_out_of_band():
    t = np.arange(600) / FS
    inband = np.sin(2 * np.pi * 1.2 * t)
    out = bandpass(inband + np.sin(2 * np.pi * 0.1 * t) + np.sin(2 * np.pi * 8.0 * t), FS)
    core = slice(100, 500)
    assert np.max(np.abs(out[core] - inband[core])) < 0.05


def test_bandpass_batch_equals_per_row_and_axis():
    x = np.random.default_rng(1).standard_normal((3, 400))
    batch = bandpass(x, FS, 0.7, 4.0, order=4)
    for i in range(3):
        np.testing.assert_allclose(batch[i], bandpass(x[i], FS, 0.7, 4.0, order=4), atol=1e-12)
    np.testing.assert_allclose(bandpass(x.T, FS, 0.7, 4.0, order=4, axis=0), batch.T, atol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x=np.zeros(0)), "empty"),
    (dict(x=np.r_[np.zeros(300), np.nan]), "NaN"),
    (dict(x=np.zeros(20)), "too short"),
    (dict(x=np.zeros(300), fs=4.0), "Nyquist"),
    (dict(x=np.zeros(300), fs=0.0), "fs"),
    (dict(x=np.zeros(300), lo=3.0, hi=1.0), "lo < hi"),
])
def test_bandpass_bad_input(kwargs, match):
    args = dict(fs=FS) | kwargs
    with pytest.raises(ValueError, match=match):
        bandpass(**args)


def test_detrend_removes_linear_and_slow_drift():
    t = np.arange(900) / FS
    x = np.sin(2 * np.pi * 1.2 * t)
    out = detrend(x + 3.0 * t + np.sin(2 * np.pi * 0.02 * t), lam=100)
    assert np.std(out[50:-50] - x[50:-50]) < 0.1


# ---------------------------------------------------------------- HR by FFT peak
@pytest.mark.parametrize("bpm", [48.0, 72.0, 97.3, 150.0])
@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_protocols_recover_sinusoid(bpm, name):
    assert abs(hr_protocol(pulse(bpm), FS, name) - bpm) < 0.2


def test_hr_fft_72_bpm_within_02_and_batch():
    x = np.stack([pulse(72.0), pulse(90.0, noise=0.3), pulse(60.0, drift=2.0)])
    hr = hr_fft(x, FS, filter_order=6)
    assert hr.shape == (3,)
    np.testing.assert_allclose(hr, [72.0, 90.0, 60.0], atol=0.2)
    assert abs(hr_fft(pulse(72.0), FS) - 72.0) < 0.2
    assert isinstance(hr_fft(pulse(72.0), FS), float)


def test_hr_fft_band_is_respected():
    x = pulse(72.0, harmonic=0.0) + 2.0 * pulse(200.0, harmonic=0.0)  # 200 bpm outside 0.75-3 Hz
    assert abs(hr_fft(x, FS, band=(0.75, 3.0)) - 72.0) < 0.3
    assert abs(hr_fft(x, FS, band=(0.75, 4.0)) - 200.0) < 0.3


def test_hr_fft_rpm_distill_needs_filter_edges_to_be_handled_with_drift():
    x = pulse(84.0, drift=20.0, noise=0.2, seed=3)
    assert abs(hr_protocol(x, FS, "rpm_distill") - 84.0) < 0.3


@pytest.mark.parametrize("bad, match", [
    (np.zeros(0), "empty"),
    (np.r_[pulse(72.0)[:-1], np.nan], "NaN"),
    (pulse(72.0)[:20], "too short"),
    (np.zeros((2, 3, 100)), "rank"),
])
def test_hr_fft_bad_signal(bad, match):
    with pytest.raises(ValueError, match=match):
        hr_fft(bad, FS)


@pytest.mark.parametrize("fs, band, match", [
    (0.0, (0.75, 3.0), "fs"), (-30.0, (0.75, 3.0), "fs"), (float("nan"), (0.75, 3.0), "fs"),
    (5.0, (0.75, 3.0), "Nyquist"), (FS, (3.0, 0.75), "lo < hi"), (FS, (0.0, 3.0), "lo < hi"),
])
def test_hr_fft_bad_fs_or_band(fs, band, match):
    with pytest.raises(ValueError, match=match):
        hr_fft(pulse(72.0), fs, band)


def test_unknown_protocol():
    with pytest.raises(ValueError, match="unknown HR protocol"):
        hr_protocol(pulse(72.0), FS, "nope")


# ---------------------------------------------------------------- HR by peaks
@pytest.mark.parametrize("bpm", [55.0, 72.0, 120.0])
def test_hr_peaks(bpm):
    assert abs(hr_peaks(pulse(bpm, noise=0.1), FS) - bpm) < 1.0


def test_hr_peaks_bad_input():
    with pytest.raises(ValueError, match="constant"):
        hr_peaks(np.ones(300), FS, filter_order=None)
    with pytest.raises(ValueError, match="rank"):
        hr_peaks(np.zeros((2, 300)), FS)


# ---------------------------------------------------------------- quality
def test_snr_clean_higher_than_noisy():
    clean = snr_db(pulse(72.0, noise=0.05), FS, 72.0)
    noisy = snr_db(pulse(72.0, noise=1.0), FS, 72.0)
    assert clean > noisy + 10
    assert clean > 10
    both = snr_db(np.stack([pulse(72.0, noise=0.05), pulse(72.0, noise=1.0)]), FS, [72.0, 72.0])
    np.testing.assert_allclose(both, [clean, noisy])


def test_snr_wrong_reference_hr_is_low():
    assert snr_db(pulse(72.0), FS, 120.0) < snr_db(pulse(72.0), FS, 72.0) - 20


def test_peak_concentration_hand_computed_and_ordering():
    n = 300
    t = np.arange(n) / FS
    x = np.sin(2 * np.pi * (12 * FS / n) * t)  # bin 12 = 1.2 Hz
    # periodic Hann spreads a bin-centred tone over 3 bins with amplitudes -1/4, 1/2, -1/4:
    # powers 1/16, 1/4, 1/16, so max / sum = (1/4) / (3/8) = 2/3
    assert abs(peak_concentration(x, FS) - 2.0 / 3.0) < 1e-9
    assert abs(peak_concentration(x, FS, window=None) - 1.0) < 1e-9
    clean = peak_concentration(pulse(72.0, noise=0.05), FS)
    noisy = peak_concentration(pulse(72.0, noise=1.0), FS)
    assert 0 < noisy < clean <= 1


# ---------------------------------------------------------------- windows, resampling
def test_window_bounds():
    assert window_bounds(600, FS, 20.0) == [(0, 600)]
    assert window_bounds(1300, FS, 20.0) == [(0, 600), (600, 1200)]
    assert window_bounds(900, FS, 20.0, 5.0) == [(0, 600), (150, 750), (300, 900)]
    assert window_bounds(100, FS, 20.0) == [(0, 100)]
    assert window_bounds(100, FS, None) == [(0, 100)]
    with pytest.raises(ValueError, match="shorter"):
        window_bounds(100, FS, 20.0, short="error")


def test_hr_windows_tracks_changing_hr():
    x = np.concatenate([pulse(60.0), pulse(90.0)])
    np.testing.assert_allclose(hr_windows(x, FS, "rpm_distill", 20.0), [60.0, 90.0], atol=0.3)
    wins, starts = sliding_windows(x, FS, 20.0)
    assert len(wins) == 2 and starts.tolist() == [0.0, 20.0]


def test_resample_uniform_recovers_hr_from_jittered_timestamps():
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(0.8, 1.2, 900) / FS)
    x = np.sin(2 * np.pi * 1.3 * t)
    tu, xu = resample_uniform(t, x, fs=FS)
    assert np.allclose(np.diff(tu), 1 / FS)
    assert np.max(np.abs(xu - np.sin(2 * np.pi * 1.3 * tu))) < 0.02
    assert abs(hr_fft(xu, FS) - 78.0) < 0.2
    tu2, xc = resample_uniform(t, np.stack([x, 2 * x], axis=1), kind="cubic")
    assert xc.shape == (len(tu2), 2)


@pytest.mark.parametrize("t, v, match", [
    ([0.0], [1.0], "at least 2"), ([0.0, 1.0, 0.5], [1, 2, 3], "non-decreasing"),
    ([0.0, 1.0], [1.0, np.nan], "NaN"), ([0.0, 0.0], [1.0, 2.0], "distinct"),
    ([0.0, 1.0], [1.0, 2.0, 3.0], "values must be"),
])
def test_resample_bad_input(t, v, match):
    with pytest.raises(ValueError, match=match):
        resample_uniform(t, v)


def test_signal_imports_without_torch():
    import subprocess
    import sys
    code = ("import sys, rppg_distill.signal, rppg_distill.classical; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("window", ["hann", None])
def test_hr_fft_matches_an_independent_dft(independent_peak_frequency, window):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 450)) + np.stack([pulse(b, 15.0) for b in (50, 66, 72, 90, 120, 160)])
    got = hr_fft(x, FS, (0.75, 3.0), 0.1, window=window)
    want = 60 * independent_peak_frequency(x, FS, (0.75, 3.0), step_hz=0.1 / 60,
                                           window="hann" if window else "none")
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_hr_fft_goes_through_the_spectral_core(monkeypatch):
    import rppg_distill.signal.hr as hr_mod
    calls = []
    real = hr_mod._core_peak_frequency()

    def spy(*a, **k):
        calls.append(k)
        return real(*a, **k)

    monkeypatch.setattr(hr_mod, "_core_peak_frequency", lambda: spy)
    hr_protocol(pulse(72.0), FS, "rpm_distill")
    assert calls == [dict(step_hz=0.1 / 60, window="none", demean=True)]
