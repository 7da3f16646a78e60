"""evaluate_clips reads each clip at its own rate (one number or one per clip) and reports SNR."""

from __future__ import annotations

import numpy as np
import pytest

from rppg_distill.evaluate import evaluate_clips, snr_db
from rppg_distill.evaluate.pipeline import snr_band
from rppg_distill.signal import get_protocol


def _tone(bpm, fs, n, phase=0.0):
    t = np.arange(n) / fs
    return np.sin(2 * np.pi * bpm / 60.0 * t + phase)


def test_mixed_rates_read_each_clip_at_its_own_rate():
    n = 200
    rates = np.array([30.0, 25.0, 30.0, 25.0])
    hrs = [72.0, 90.0, 60.0, 110.0]
    label = np.stack([_tone(h, fs, n) for h, fs in zip(hrs, rates)])
    pred = label + 0.3 * np.random.default_rng(0).standard_normal(label.shape)
    res = evaluate_clips(pred, label, rates, "crossview")
    np.testing.assert_allclose(res["hr_true"], hrs, atol=0.6)
    # read at one rate for all, the 25 fps clips come out 30/25 too fast
    wrong = evaluate_clips(pred, label, 30.0, "crossview")
    np.testing.assert_allclose(np.array(wrong["hr_true"])[[1, 3]], np.array(hrs)[[1, 3]] * 30 / 25, atol=1.0)
    # a group of one rate gives what evaluating the group alone gives
    alone = evaluate_clips(pred[[1, 3]], label[[1, 3]], 25.0, "crossview")
    assert [res["hr_pred"][i] for i in (1, 3)] == alone["hr_pred"]
    assert [res["snr_db_per_clip"][i] for i in (1, 3)] == alone["snr_db_per_clip"]


def test_one_rate_as_a_number_or_an_array_is_the_same_and_snr_is_signal_quality():
    label = np.stack([_tone(h, 30.0, 240) for h in (66.0, 84.0, 120.0)])
    pred = label + 0.5 * np.random.default_rng(1).standard_normal(label.shape)
    a = evaluate_clips(pred, label, 30.0, "rpm_distill")
    b = evaluate_clips(pred, label, np.full(3, 30.0), "rpm_distill")
    assert a == b
    proto = get_protocol("rpm_distill")
    ref = snr_db(pred, 30.0, np.array(a["hr_true"]), snr_band(proto, 30.0))
    np.testing.assert_allclose(a["snr_db_per_clip"], ref)
    assert a["snr_db"] == pytest.approx(float(np.mean(ref)))
    clean = evaluate_clips(label, label, 30.0, "rpm_distill")
    assert clean["snr_db"] > a["snr_db"] + 3


def test_bad_rates_are_refused():
    x = np.stack([_tone(70.0, 30.0, 120)] * 2)
    with pytest.raises(ValueError, match="one rate or one per clip"):
        evaluate_clips(x, x, [30.0, 30.0, 30.0])
    with pytest.raises(ValueError, match="finite and > 0"):
        evaluate_clips(x, x, [30.0, 0.0])
