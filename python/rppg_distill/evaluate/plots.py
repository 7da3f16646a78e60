"""Bland-Altman and PSD plots saved as PNG. matplotlib is imported lazily, Agg canvas, no pyplot."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, format="png", bbox_inches="tight")
    tmp.replace(path)
    return path


def bland_altman(pred, gt, path, *, title: str = "Bland-Altman", units: str = "bpm") -> dict:
    """Bland-Altman plot of HR estimates vs ground truth, saved as PNG at ``path``.

    Returns:
        dict with ``bias``, ``loa_low``, ``loa_high`` (bias ± 1.96 SD of the difference) and ``path``.
    """
    from rppg_distill.evaluate.metrics import _pair

    p, g = _pair(pred, gt)
    mean, diff = (p + g) / 2.0, p - g
    bias, sd = float(diff.mean()), float(diff.std(ddof=1)) if diff.size > 1 else 0.0
    lo, hi = bias - 1.96 * sd, bias + 1.96 * sd
    fig = _figure((5, 4))
    ax = fig.add_subplot(1, 1, 1)
    ax.scatter(mean, diff, s=12, alpha=0.7)
    for y, style, label in ((bias, "-", f"bias {bias:.2f}"), (lo, "--", f"-1.96 SD {lo:.2f}"),
                            (hi, "--", f"+1.96 SD {hi:.2f}")):
        ax.axhline(y, linestyle=style, color="k", linewidth=1, label=label)
    ax.set_xlabel(f"mean of estimate and reference ({units})")
    ax.set_ylabel(f"estimate - reference ({units})")
    ax.set_title(title)
    ax.legend(fontsize=8)
    out = _save(fig, path)
    return {"bias": bias, "loa_low": lo, "loa_high": hi, "path": str(out)}


def psd_plot(signals, fs, path, *, band=(0.5, 3.0), hr_bpm: dict | float | None = None,
             title: str = "PSD", normalize: bool = True) -> Path:
    """Plot the (Hann, mean-removed) PSD of one or more signals in bpm within ``band``; save PNG.

    Args:
        signals: an array [T] or a dict ``label -> array [T]``.
        fs: sampling rate (Hz).
        hr_bpm: a reference HR (vertical line), or a dict label -> HR.
    """
    from rppg_distill.signal._checks import check_band, check_fs, check_signal

    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    if not isinstance(signals, dict):
        signals = {"signal": signals}
    if not signals:
        raise ValueError("no signals to plot")
    fig = _figure((6, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    for label, x in signals.items():
        x = check_signal(x, f"signal {label!r}", ndim=(1,), min_len=8)
        x = (x - x.mean()) * np.hanning(x.size + 1)[:-1]
        n_fft = max(x.size, int(np.ceil(fs * 60.0 / 0.25)))
        f = np.fft.rfftfreq(n_fft, 1.0 / fs)
        pw = np.abs(np.fft.rfft(x, n_fft)) ** 2
        m = (f >= lo) & (f <= hi)
        y = pw[m] / max(pw[m].sum(), 1e-30) if normalize else pw[m]
        ax.plot(f[m] * 60.0, y, label=str(label))
    refs = hr_bpm if isinstance(hr_bpm, dict) else ({"reference": hr_bpm} if hr_bpm else {})
    for label, v in refs.items():
        ax.axvline(float(v), linestyle="--", linewidth=1, color="k", label=f"{label} {float(v):.1f} bpm")
    ax.set_xlabel("frequency (bpm)")
    ax.set_ylabel("normalized power" if normalize else "power")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
