"""Fitzpatrick skin types of the synthetic generator: colour, pulsatile amplitude, assignment."""

from itertools import pairwise

import numpy as np
import pytest

pytest.importorskip("cv2")

from rppg_distill.data.synthetic import SynthConfig, generate, simulate, skin_tones
from rppg_distill.data.synthetic.face import photo_skin_rgb


def test_types_darker_and_weaker_monotonically():
    types = [skin_tones.get(t) for t in skin_tones.TYPES]
    ita = [t.ita_deg for t in types]
    lum = [float(t.rgb @ np.array([0.2126, 0.7152, 0.0722])) for t in types]
    amp = [t.pulse_scale for t in types]
    assert all(a > b for a, b in pairwise(ita))
    assert all(a > b for a, b in pairwise(lum))
    assert all(a > b for a, b in pairwise(amp)) and amp[0] == 1.0
    # each colour sits in its type's ITA class (Chardon 1991 / Del Bino 2013 boundaries)
    bounds = [(55, 90), (41, 55), (28, 41), (10, 28), (-30, 10), (-90, -30)]
    for (lo, hi), a in zip(bounds, ita):
        assert lo < a <= hi
    # red > green > blue for every skin colour
    for t in types:
        assert t.rgb[0] > t.rgb[1] > t.rgb[2]


def test_skin_gain_maps_photo_skin_to_type_colour():
    ref = photo_skin_rgb()
    for t in skin_tones.TYPES:
        np.testing.assert_allclose(ref * skin_tones.skin_gain(t, ref), skin_tones.get(t).rgb, rtol=1e-5)
    with pytest.raises(ValueError, match="Fitzpatrick"):
        skin_tones.get("VII")
    with pytest.raises(ValueError, match="positive"):
        skin_tones.skin_gain("I", [0.0, 1.0, 1.0])


def test_assignment_covers_all_types_and_is_seeded():
    for seed in range(5):
        six = [skin_tones.assign_type(seed, i) for i in range(6)]
        assert sorted(six) == sorted(skin_tones.TYPES)
        assert [skin_tones.assign_type(seed, i) for i in range(6, 12)] == six
    assert [skin_tones.assign_type(0, i) for i in range(6)] != [skin_tones.assign_type(1, i) for i in range(6)]


def _skin_mean(sim, view="frontal"):
    fr = sim.frames[view].astype(np.float64)
    x, y, w, h = (int(v) for v in sim.face_boxes[view])
    cx, cy = x + w // 2, y + h // 2
    return fr[:, cy - h // 6:cy + h // 6, cx - w // 6:cx + w // 6].mean(axis=(0, 1, 2))


def test_simulated_subjects_follow_their_type():
    cfg = SynthConfig(duration_s=0.5, fps=10.0, size=64, radar=False, views=("frontal",), seed=3)
    sims = {}
    for s in range(1, 7):
        sim = simulate(s, "before", cfg)
        sims[sim.meta["fitzpatrick"]] = sim
    assert sorted(sims) == sorted(skin_tones.TYPES)
    lum = [_skin_mean(sims[t]) @ np.array([0.2126, 0.7152, 0.0722]) for t in skin_tones.TYPES]
    assert all(a > b for a, b in pairwise(lum))
    # deterministic: the same subject again gives identical frames and the same type
    again = simulate(1, "before", cfg)
    first = next(v for v in sims.values() if v.subject == 1)
    np.testing.assert_array_equal(again.frames["frontal"], first.frames["frontal"])
    assert again.meta == first.meta


def test_manifest_records_fitzpatrick(tmp_path):
    m = generate(tmp_path, 6, duration_s=0.3, fps=10.0, size=48, workers=1, formats=("mcd_rppg",),
                 states=("before",), views=("frontal",), radar=False, seed=1)
    types = [r["fitzpatrick"] for r in m["recordings"]]
    assert sorted(types) == sorted(skin_tones.TYPES)
