"""The demo's report: ``report.md`` (readable without the code) and ``report.png`` (four panels).

Inputs are the dicts the demo stages leave in ``report.json``: ``crossview`` (``crossview.summarize``
plus ``chance`` and ``check``), ``rpm_sweep`` (``{"gated"|"ungated": {p: [mean, std, n]}}``),
``export``, ``runtime``, ``stage_times``, ``settings`` and ``load``.
"""

from __future__ import annotations

import math
from pathlib import Path

from rppg_distill.evaluate.tables import VIEW_LABELS

SCHEME_LABELS = {"cam2-only": "cam2-only (frontal only)", "side-only": "side-only",
                 "pooled-aug": "A+ (pooled + aug.)", "symmetric": "B (symmetric KL)",
                 "asymmetric": "B' (asymmetric KL)"}
VIEWS = ("side_left", "frontal", "side_right", "side")


def _cell(ms, digits: int = 2) -> str:
    if not ms or ms[0] is None or not math.isfinite(ms[0]):
        return "–"
    return f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def table_markdown(cv: dict, key: str = "", digits: int = 2) -> list[str]:
    """Table 1 as Markdown rows: one row per scheme, the views as columns (``key`` "" = MAE,
    "_peak_conc" = peak concentration), the chance level as the last row for MAE."""
    cols = [v for v in VIEWS if any(v in row for row in cv["table"].values())]
    lines = ["| scheme | " + " | ".join(VIEW_LABELS.get(v, v) for v in cols) + " | seeds |",
             "|---|" + "---|" * len(cols) + "---|"]
    for name, row in cv["table"].items():
        lines.append(f"| {SCHEME_LABELS.get(name, name)} | "
                     + " | ".join(_cell(row.get(v + key), digits) for v in cols) + f" | {row['seeds']} |")
    if not key and cv.get("chance"):
        ch = cv["chance"]
        lines.append("| *chance level* | " + " | ".join(
            f"*{ch[v]['chance_mae']:.2f}*" if v in ch else "–" for v in cols) + " | |")
    return lines


def wilcoxon_reading(w: dict | None, what: str) -> str:
    """One sentence that says what the paired test shows, from its numbers."""
    if not w:
        return f"Wilcoxon B' vs A+ ({what}): not run (needs both schemes)."
    if "p" not in w:
        return f"Wilcoxon B' vs A+ ({what}): not computed ({w.get('error', 'no pairs')})."
    better = w["share_improved"] >= 0.5
    verdict = ("a significant difference" if w["p"] < 0.05 else "no significant difference")
    return (f"Wilcoxon signed-rank B' vs A+ ({what}, per side-view video, mean over seeds): "
            f"p = {w['p']:.3g} ({w['method']}), effect size r = {w['r']:.2f}, n = {w['n']} videos, "
            f"B' better on {100 * w['share_improved']:.0f} % of them (median difference "
            f"{w['median_diff']:+.3g}): {verdict}"
            + (f", B' {'ahead' if better else 'behind'} on most videos." if w["p"] < 0.05 else "."))


def _sweep_lines(sweep: dict) -> list[str]:
    probs = sorted({p for k in ("gated", "ungated") for p in sweep.get(k, {})}, key=float)
    lines = ["| shift probability | gated MAE (bpm) | ungated (w/o gate) MAE (bpm) | seeds |",
             "|---|---|---|---|"]
    for p in probs:
        g, u = sweep.get("gated", {}).get(p), sweep.get("ungated", {}).get(p)
        n = (g or u or [0, 0, 0])[2] if len(g or u or []) > 2 else "?"
        lines.append(f"| {p} | {_cell(g)} | {_cell(u)} | {n} |")
    return lines


def write_report_md(out: Path, report: dict) -> Path:
    s, cv = report.get("settings", {}), report.get("crossview", {})
    times = report.get("stage_times", {})
    lines = ["# rppg-distill demo report", "",
             "Heart rate (HR) from synthetic face videos filmed by three cameras (cam2 frontal, cam1/cam3 "
             "at ±45° yaw), with a contact pulse as truth. Models are trained on some views and tested on "
             "held-out subjects; every number is HR mean absolute error (MAE, beats per minute) unless "
             "said otherwise. Lower is better.", ""]
    if "load" in report:
        ld = report["load"]
        lines += [f"Run: {s.get('workers', '?')} worker process(es), total {times.get('total', float('nan')):.0f} s, "
                  f"load average {ld.get('start', float('nan')):.1f} at start and {ld.get('end', float('nan')):.1f} "
                  "at the end.", ""]
    if cv:
        lines += ["## 1. Cross-view distillation (Table 1)", "",
                  "Schemes: **cam2-only** trains on the frontal camera only; **side-only** on the side cameras; "
                  "**A+** pools all cameras with augmentation (the strongest non-distillation baseline); "
                  "**B** and **B'** train frontal and side clips of the same moment together and add a KL "
                  "term between their pulse spectra, B' with the frontal spectrum as a fixed teacher "
                  "(stop-gradient). Cells: mean ± std over seeds.", ""]
        lines += table_markdown(cv) + [""]
        lines += ["**Chance level** is the MAE of the better of two predictors that never look at the video "
                  "(the median training-free guess, or another test clip's HR): a model at or above it has "
                  "learned nothing about the pulse of that view.", ""]
        lines += ["PSD peak concentration of the predicted pulse (share of band power within ±0.1 Hz of the "
                  "peak; higher = cleaner pulse):", ""] + table_markdown(cv, "_peak_conc", 3) + [""]
        lines += ["- " + wilcoxon_reading(cv.get("wilcoxon_bprime_vs_aplus_side"), "peak concentration"),
                  "- " + wilcoxon_reading(cv.get("wilcoxon_bprime_vs_aplus_side_mae"), "HR MAE"), ""]
        for name, chk in cv.get("check", {}).items():
            lines.append(f"- {SCHEME_LABELS.get(name, name)} vs cam2-only: side MAE {chk['side_mae_delta']:+.2f} bpm, "
                         f"frontal MAE {chk['frontal_mae_delta']:+.2f} bpm")
        lines.append("")
    if "rpm_sweep" in report:
        lines += ["## 2. RPM-Distill: robustness to a misaligned radar", "",
                  "A radar teacher distils the pulse into the video student. In training, a share of the clips "
                  "(the shift probability) gets a radar window that starts 1 s later than the video, so the "
                  "teacher's pulse is out of step. The gated student's policy can switch distillation off per "
                  "sample; the ungated one cannot. Test HR MAE of the video-only student "
                  "(rpm_distill protocol):", ""] + _sweep_lines(report["rpm_sweep"]) + [""]
        if report.get("rpm_sweep_chance") is not None:
            lines += [f"Chance level of these test HRs: {report['rpm_sweep_chance']:.2f} bpm.", ""]
    if "export" in report:
        exp = report["export"]
        lines += ["## 3. Deployment", "", f"- exported: `{Path(exp['path']).name}` "
                  f"({exp['exporter']}, {exp.get('scheme')} seed {exp.get('seed')})"]
        for tag, m in report.get("runtime", {}).items():
            lines.append(f"- streaming runtime, {tag}: HR MAE {m['mae_bpm']:.2f} bpm over {m['n_windows']} "
                         f"10 s windows of a held-out video, {m['fps']:.0f} frames/s")
        lines.append("")
    lines += ["## Stage times (s)", ""] + [f"- {k}: {v:.1f}" for k, v in times.items()]
    lines += ["", "![report](report.png)", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_report_png(out: Path, report: dict) -> Path | None:
    """Four panels: MAE per scheme and view with chance; B' vs A+ per-video peak concentration;
    the RPM shift sweep; stage times."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cv = report.get("crossview", {})
    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    _plot_table(ax[0, 0], cv, np)
    _plot_pairs(ax[0, 1], cv)
    _plot_sweep(ax[1, 0], report.get("rpm_sweep"), report.get("rpm_sweep_chance"))
    times = {k: v for k, v in report.get("stage_times", {}).items() if k != "total"}
    ax[1, 1].barh(list(times), list(times.values()), color="0.5")
    ax[1, 1].invert_yaxis()
    ax[1, 1].set_xlabel("seconds")
    ax[1, 1].set_title(f"stage times (total {report.get('stage_times', {}).get('total', 0):.0f} s)")
    fig.tight_layout()
    path = out / "report.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_table(ax, cv: dict, np) -> None:
    table = cv.get("table", {})
    views = [v for v in VIEWS if any(v in r for r in table.values())]
    if not table or not views:
        ax.set_axis_off()
        return
    width = 0.8 / max(len(table), 1)
    x = np.arange(len(views))
    for i, (name, row) in enumerate(table.items()):
        m = [row.get(v, (np.nan, np.nan))[0] for v in views]
        e = [row.get(v, (np.nan, np.nan))[1] for v in views]
        ax.bar(x + (i - (len(table) - 1) / 2) * width, m, width, yerr=e, capsize=2,
               label=SCHEME_LABELS.get(name, name))
    for j, v in enumerate(views):
        c = cv.get("chance", {}).get(v)
        if c:
            ax.hlines(c["chance_mae"], j - 0.45, j + 0.45, colors="k", linestyles="--",
                      label="chance level" if j == 0 else None)
    ax.set_xticks(x, [VIEW_LABELS.get(v, v).replace(" (", "\n(") for v in views], fontsize=8)
    ax.set_ylabel("HR MAE (bpm), mean ± std over seeds")
    ax.set_title("Table 1: test HR error per camera")
    ax.legend(fontsize=7)


def _plot_pairs(ax, cv: dict) -> None:
    pairs = cv.get("per_video_side_peak_concentration", {})
    b, a = pairs.get("asymmetric", {}), pairs.get("pooled-aug", {})
    keys = sorted(set(a) & set(b))
    if not keys:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "B' vs A+ not run", ha="center")
        return
    xs, ys = [a[k] for k in keys], [b[k] for k in keys]
    ax.scatter(xs, ys, s=18)
    lo, hi = min(xs + ys), max(xs + ys)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    w = cv.get("wilcoxon_bprime_vs_aplus_side", {})
    extra = f" (Wilcoxon p = {w['p']:.3g}, r = {w['r']:.2f})" if "p" in w else ""
    ax.set_xlabel("A+ peak concentration")
    ax.set_ylabel("B' peak concentration")
    ax.set_title("side-view videos, mean over seeds: above the line = B' cleaner\n" + extra.strip(" ()"), fontsize=9)


def _plot_sweep(ax, sweep: dict | None, chance: float | None) -> None:
    if not sweep:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "RPM shift sweep not run", ha="center")
        return
    for name, style in (("gated", "o-"), ("ungated", "s--")):
        pts = sorted(sweep.get(name, {}).items(), key=lambda kv: float(kv[0]))
        if pts:
            ax.errorbar([float(p) for p, _ in pts], [v[0] for _, v in pts], yerr=[v[1] for _, v in pts],
                        fmt=style, capsize=3, label=name if name == "gated" else "ungated (w/o gate)")
    if chance is not None:
        ax.axhline(chance, color="k", ls="--", lw=1, label="chance level")
    ax.set_xlabel("radar-shift probability in training")
    ax.set_ylabel("student test HR MAE (bpm)")
    ax.set_title("RPM-Distill: misaligned radar, gated vs ungated")
    ax.legend(fontsize=8)
