"""rppg_distill.evaluate: metrics vs hand values, Wilcoxon vs scipy, tables, pipeline, plots."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as st

from rppg_distill.evaluate import (
    evaluate_signal,
    hr_metrics,
    mae,
    mape,
    pearson,
    per_view_table,
    rmse,
    std_error,
    summarize,
    wilcoxon_paired,
)

FS = 30.0


# ---------------------------------------------------------------- metrics
def test_metrics_hand_computed():
    pred, gt = [70.0, 80.0, 95.0], [72.0, 80.0, 90.0]   # errors -2, 0, +5
    assert mae(pred, gt) == pytest.approx(7 / 3)
    assert rmse(pred, gt) == pytest.approx(math.sqrt(29 / 3))
    assert mape(pred, gt) == pytest.approx((2 / 72 + 0 + 5 / 90) / 3 * 100)
    assert std_error(pred, gt) == pytest.approx(np.std([-2.0, 0.0, 5.0]))
    # r by hand: centred pred (-11.67, -1.67, 13.33), gt (-8.67, -0.67, 9.33)
    pc, gc = np.array([-35, -5, 40]) / 3, np.array([-26, -2, 28]) / 3
    assert pearson(pred, gt) == pytest.approx(pc @ gc / np.sqrt((pc @ pc) * (gc @ gc)))
    m = hr_metrics(pred, gt)
    assert m["n"] == 3 and m["bias"] == pytest.approx(1.0)


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="same length"):
        mae([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        rmse([], [])
    with pytest.raises(ValueError, match="NaN"):
        mae([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="0"):
        mape([1.0], [0.0])
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


# ---------------------------------------------------------------- Wilcoxon
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wilcoxon_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.1, 0.5, 60)
    new = base + rng.normal(0.03, 0.05, 60)
    new[:3] = base[:3]                               # zero differences are dropped
    new[3:6] = base[3:6] + 0.01                      # ties in |d|
    res = wilcoxon_paired(new, base)
    ref = st.wilcoxon(new, base, zero_method="wilcox", correction=False, method="approx")
    assert res.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert abs(res.z) == pytest.approx(abs(ref.zstatistic), rel=1e-9)
    assert res.n == 57 and res.n_total == 60
    assert res.r == pytest.approx(abs(ref.zstatistic) / math.sqrt(57))
    assert res.share_improved == pytest.approx(np.mean(new > base))
    assert res.statistic == pytest.approx(st.rankdata(np.abs((new - base)[3:]))[(new - base)[3:] > 0].sum())
    one = wilcoxon_paired(new, base, alternative="greater")
    ref1 = st.wilcoxon(new, base, zero_method="wilcox", correction=False, method="approx",
                       alternative="greater")
    assert one.p == pytest.approx(ref1.pvalue, rel=1e-9)


@pytest.mark.parametrize("n,alternative", [(4, "two-sided"), (9, "two-sided"), (20, "less"), (50, "greater")])
def test_wilcoxon_exact_for_small_samples_matches_scipy(n, alternative):
    rng = np.random.default_rng(n)
    base = rng.uniform(0, 30, n)
    new = base + rng.normal(1.0, 5.0, n)             # continuous: no ties, no zeros
    res = wilcoxon_paired(new, base, alternative=alternative)
    ref = st.wilcoxon(new, base, method="exact", alternative=alternative)
    assert res.method == "exact"
    assert res.p == pytest.approx(ref.pvalue, rel=1e-9)
    approx = wilcoxon_paired(new, base, alternative=alternative, method="approx")
    assert approx.method == "approx" and approx.r == res.r   # r is always |Z|/sqrt(n)
    with pytest.raises(ValueError, match="ties"):
        wilcoxon_paired([1.0, 2.0, 3.0], [0.0, 1.0, 0.0], method="exact")


def test_wilcoxon_lower_is_better_and_errors():
    res = wilcoxon_paired([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 3.5], higher_is_better=False)
    assert res.share_improved == 0.75
    with pytest.raises(ValueError, match="zero"):
        wilcoxon_paired([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="paired"):
        wilcoxon_paired([1.0, 2.0], [1.0])


# ---------------------------------------------------------------- tables
def _records():
    recs = []
    for seed, (fl, fr, sr) in enumerate([(2.0, 4.0, 5.0), (3.0, 4.5, 5.5), (2.5, 5.0, 4.0)]):
        recs += [dict(method="B'", view="frontal", seed=seed, mae=fl),
                 dict(method="B'", view="side_left", seed=seed, mae=fr),
                 dict(method="B'", view="side_right", seed=seed, mae=sr)]
    recs += [dict(method="POS", view=v, mae=m) for v, m in
             [("frontal", 6.0), ("side_left", 9.0), ("side_right", 11.0)]]
    return recs


def test_per_view_table_mean_std_and_side_average():
    t = per_view_table(_records())
    assert t.rows == ["B'", "POS"]
    assert t.cols == ["side_left", "frontal", "side_right", "side"]
    assert t.stats("B'", "frontal") == pytest.approx((2.5, np.std([2.0, 3.0, 2.5], ddof=1), 3))
    side = [4.5, 5.0, 4.5]  # per-seed mean of left and right
    assert t.stats("B'", "side") == pytest.approx((np.mean(side), np.std(side, ddof=1), 3))
    assert t.cell_text("B'", "frontal") == "2.50 ± 0.50"
    assert t.cell_text("POS", "side") == "10.00"
    md = t.to_markdown()
    assert md.splitlines()[0] == "| mae | cam1 (left) | cam2 (frontal) | cam3 (right) | side (mean) |"
    assert "| POS | 9.00 | 6.00 | 11.00 | 10.00 |" in md
    text = t.to_text()
    assert "2.50 ± 0.50" in text and len(text.splitlines()) == 4
    csv_lines = t.to_csv().splitlines()
    assert csv_lines[0] == "row,col,mae_mean,mae_std,n_seeds"
    assert "POS,frontal,6,0,1" in csv_lines
    with pytest.raises(ValueError, match="format"):
        t.render("html")
    with pytest.raises(ValueError, match="lacks the key"):
        per_view_table([{"method": "x", "view": "frontal"}])


# ---------------------------------------------------------------- pipeline
def _pulse(bpm, seconds, noise=0.0, seed=0):
    t = np.arange(int(seconds * FS)) / FS
    return np.sin(2 * np.pi * bpm / 60 * t) + noise * np.random.default_rng(seed).standard_normal(t.size)


@pytest.mark.parametrize("protocol", ["crossview", "rpm_distill"])
def test_evaluate_signal_and_summarize(protocol):
    gt = np.concatenate([_pulse(70, 20), _pulse(85, 20)])
    pred_good = gt + 0.3 * np.random.default_rng(0).standard_normal(gt.size)
    pred_bad = np.concatenate([_pulse(100, 20, 0.5), _pulse(85, 20, 1.5, seed=2)])
    rows = [dict(r, view="frontal") for r in evaluate_signal(pred_good, gt, FS, protocol)]
    rows += [dict(r, view="side_left") for r in evaluate_signal(pred_bad, gt, FS, protocol)]
    assert len(rows) == 4
    np.testing.assert_allclose([r["hr_gt"] for r in rows], [70, 85, 70, 85], atol=0.2)
    s = summarize(rows)
    assert s["frontal"]["mae"] < 0.5 < 10 < s["side_left"]["mae"]
    assert s["frontal"]["snr_db"] > s["side_left"]["snr_db"]
    assert s["frontal"]["concentration"] > s["side_left"]["concentration"]
    with pytest.raises(ValueError, match="differ in length"):
        evaluate_signal(gt[:-1], gt, FS)


# ---------------------------------------------------------------- plots
def test_plots_write_png(tmp_path):
    from rppg_distill.evaluate import bland_altman, psd_plot

    info = bland_altman([70, 81, 92, 60], [72, 80, 90, 61], tmp_path / "ba" / "ba.png")
    assert info["bias"] == pytest.approx(0.0)
    path = psd_plot({"pred": _pulse(72, 10, 0.3), "label": _pulse(72, 10)}, FS, tmp_path / "psd.png",
                    hr_bpm=72.0)
    for p in (tmp_path / "ba" / "ba.png", path):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp.png"))


def test_evaluate_import_does_not_load_matplotlib_or_torch():
    code = ("import sys, rppg_distill.evaluate; "
            "print('matplotlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False False", out.stderr
