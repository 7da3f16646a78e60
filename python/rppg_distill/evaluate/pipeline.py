"""Window-level evaluation of predicted pulse signals against labels, grouped per view."""

from __future__ import annotations

import numpy as np

from rppg_distill.evaluate.metrics import hr_metrics
from rppg_distill.signal.protocols import get_protocol
from rppg_distill.signal.quality import peak_concentration, snr_db
from rppg_distill.signal.windows import window_bounds


def evaluate_signal(pred, gt, fs, protocol="crossview", window_s: float | None = 20.0,
                    stride_s: float | None = None, *, quality: bool = True) -> list[dict]:
    """Cut a predicted pulse and its label into HR windows and read HR from both.

    Args:
        pred, gt: [T] predicted pulse and label at ``fs`` (same length).
        protocol: "crossview", "rpm_distill" or an ``HRProtocol``.
        window_s, stride_s: HR windows (default 20 s, non-overlapping; shorter signals: one window).
        quality: also compute SNR (dB, harmonic windows around the label's HR) and PSD peak
            concentration of the prediction in the protocol's band.

    Returns:
        one dict per window: ``start_s``, ``hr_pred``, ``hr_gt`` and, with quality, ``snr_db``,
        ``concentration``.
    """
    proto = get_protocol(protocol)
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    g = np.asarray(gt, dtype=np.float64).reshape(-1)
    if p.shape != g.shape:
        raise ValueError(f"prediction ({p.size} samples) and label ({g.size}) differ in length")
    bounds = window_bounds(p.size, fs, window_s, stride_s)
    rows = []
    for a, b in bounds:
        hp, hg = proto.hr(p[a:b], fs), proto.hr(g[a:b], fs)
        row = {"start_s": a / float(fs), "hr_pred": float(hp), "hr_gt": float(hg)}
        if quality:
            hi = proto.band[1]
            snr_band = (proto.band[0], min(2 * hi, 0.49 * float(fs)))
            row["snr_db"] = float(snr_db(p[a:b], fs, hg, snr_band))
            row["concentration"] = float(peak_concentration(p[a:b], fs, proto.band))
        rows.append(row)
    return rows


def summarize(rows, by: str | tuple = "view") -> dict:
    """HR metrics per group of window rows (e.g. per view): ``{group: hr_metrics + mean SNR}``."""
    keys = (by,) if isinstance(by, str) else tuple(by)
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]], []).append(r)
    out = {}
    for k, rs in groups.items():
        m = hr_metrics([r["hr_pred"] for r in rs], [r["hr_gt"] for r in rs])
        if all("snr_db" in r for r in rs):
            m["snr_db"] = float(np.mean([r["snr_db"] for r in rs]))
            m["concentration"] = float(np.mean([r["concentration"] for r in rs]))
        out[k] = m
    return out
