"""HR from diff_normalized outputs must be taken after integration (the FFT peak of a
difference signal is often a harmonic)."""

import numpy as np
import pytest

from rppg_distill.signal import hr_fft, to_pulse
from rppg_distill.train.config import CrossViewConfig


def _pulse(hr_bpm=60.0, fs=30.0, n=300):
    t = np.arange(n) / fs
    f = hr_bpm / 60.0
    # a beat with strong harmonics (sharp systolic upstroke)
    return (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(2 * np.pi * 2 * f * t + 0.3)
            + 0.4 * np.sin(2 * np.pi * 3 * f * t + 0.7))


def test_diff_label_peak_is_a_harmonic_and_to_pulse_fixes_it():
    y = _pulse()[None]
    d = np.diff(y, axis=-1, append=y[:, -1:])
    d = d / d.std()
    wrong = hr_fft(d, 30.0, (0.5, 3.0))[0]
    assert abs(wrong - 60.0) > 30          # the 3rd harmonic (180 bpm) wins on the difference
    x = to_pulse(d, "diff_normalized")
    assert abs(hr_fft(x, 30.0, (0.5, 3.0))[0] - 60.0) < 2.0
    assert np.array_equal(to_pulse(y, "standardized"), y)
    with pytest.raises(ValueError, match="label_transform"):
        to_pulse(y, "diff")


def test_crossview_default_feeds_standardized_frames_with_diff_labels():
    cfg = CrossViewConfig()
    assert cfg.data.transform == "standardized"
    assert cfg.data.label_transform == "diff_normalized"
