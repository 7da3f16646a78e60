"""Must show (issue 3): on synthetic multi-view data, POS on frontal views gives HR MAE < 3 bpm over
20 s windows, and side views are measurably harder for the classical methods (lower pulse SNR and
PSD peak concentration).

The fast version simulates in memory (no codec) and crops with the generator's face boxes; the
slow one uses more subjects and both states.
"""

from __future__ import annotations

import numpy as np
import pytest

synthetic = pytest.importorskip("rppg_distill.data.synthetic")

from rppg_distill.evaluate import Clip, classical_table, evaluate_classical, summarize


def _clips(subjects, states, size):
    cfg = synthetic.SynthConfig(n_subjects=max(subjects), duration_s=20.0, size=size, radar=False,
                                seed=0)
    clips = []
    for s in subjects:
        for st in states:
            sim = synthetic.simulate(s, st, cfg)
            for view, frames in sim.frames.items():
                x, y, w, h = (int(round(v)) for v in sim.face_boxes[view])
                clips.append(Clip(f"{s}_{st}_{view}", view, str(s), cfg.fps,
                                  frames[:, y:y + h, x:x + w], sim.bvp))
    return clips


def _check(clips, methods=("pos", "chrom")):
    rows, skipped = evaluate_classical(clips, methods, protocol="crossview", window_s=20.0)
    assert not skipped
    per = summarize(rows, by=("method", "view"))
    pos_front = per[("pos", "frontal")]
    assert pos_front["mae"] < 3.0, classical_table(rows).to_text()
    for m in methods:
        front = per[(m, "frontal")]
        side = [per[(m, v)] for v in ("side_left", "side_right")]
        # since the issue-10 calibration the side views carry a real but weaker pulse: on light skin
        # and 20 s windows every view may find HR, so "harder" is the pulse SNR (side pulse gain 0.8,
        # less visible skin: ~0.9 dB lower here), not the MAE
        assert np.mean([s["snr_db"] for s in side]) < front["snr_db"] - 0.5, classical_table(rows, "snr_db").to_text()
        assert np.mean([s["concentration"] for s in side]) < front["concentration"]
    return rows


def test_pos_frontal_accurate_side_harder_small():
    _check(_clips(subjects=(1, 2), states=("before",), size=72))


@pytest.mark.slow
def test_pos_frontal_accurate_side_harder_full():
    rows = _check(_clips(subjects=range(1, 7), states=("before", "after"), size=96),
                  methods=("pos", "chrom", "green"))
    print(classical_table(rows).to_markdown())
