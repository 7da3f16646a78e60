"""Chance level of blind HR predictors (hand-computed values)."""

import math

import numpy as np
import pytest

from rppg_distill.evaluate import chance_level


def test_hand_computed_three_clips():
    # HRs 60, 70, 90: median 70 -> |60-70|, 0, |90-70| = 10, 0, 20 -> 10
    # pairs: |60-70| = 10, |60-90| = 30, |70-90| = 20 -> mean over the 3 unordered pairs = 20
    c = chance_level([60.0, 70.0, 90.0])
    assert c["constant_mae"] == pytest.approx(10.0)
    assert c["shuffled_mae"] == pytest.approx(20.0)
    assert c["chance_mae"] == pytest.approx(10.0)
    assert c["n"] == 3


def test_reference_distribution_sets_the_constant():
    # reference median 100 -> |60-100|, |80-100| = 40, 20 -> 30; shuffled |60-80| = 20 -> chance 20
    c = chance_level([60, 80], hr_reference=[90, 100, 110])
    assert c["constant_mae"] == pytest.approx(30.0)
    assert c["shuffled_mae"] == pytest.approx(20.0)
    assert c["chance_mae"] == pytest.approx(20.0)


def test_two_clusters_even_count():
    # 4 clips, 2 at 60 and 2 at 100: median 80 -> constant 20; ordered pairs i != j: 12, of which
    # 8 differ by 40 -> 320 / 12 = 26.67
    c = chance_level(np.array([60, 60, 100, 100]))
    assert c["constant_mae"] == pytest.approx(20.0)
    assert c["shuffled_mae"] == pytest.approx(320.0 / 12.0)
    assert c["chance_mae"] == pytest.approx(20.0)


def test_single_clip_has_no_shuffled_guess():
    c = chance_level([72.0])
    assert c["constant_mae"] == 0.0 and math.isnan(c["shuffled_mae"]) and c["chance_mae"] == 0.0


@pytest.mark.parametrize("bad, match", [([], "empty"), ([70.0, np.nan], "NaN"), ([70.0, np.inf], "NaN")])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        chance_level(bad)
    with pytest.raises(ValueError, match="hr_reference"):
        chance_level([70.0], hr_reference=bad)
