"""Evaluation of predicted pulse signals against labels: per clip (the trainers) or per HR window
of a long signal, grouped per view."""

from __future__ import annotations

import numpy as np

from rppg_distill.evaluate.metrics import hr_metrics
from rppg_distill.signal.protocols import get_protocol, to_pulse
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


def video_of(key: str) -> str:
    """Clip key ``<video>#<index>`` -> ``<video>`` (keys without ``#`` are their own video)."""
    return str(key).rsplit("#", 1)[0]


def evaluate_clips(pred, label, fs, protocol="crossview", *, label_transform: str = "standardized",
                   keys=None) -> dict:
    """One HR per clip from model outputs and labels, and the metrics over clips.

    Both trainers report what this returns (after :func:`rppg_distill.evaluate.inference.predict`).
    Outputs and labels are turned into pulses by ``to_pulse`` (``diff_normalized``: integrated and
    detrended); HR is read by the protocol; peak concentration (``signal.peak_concentration``,
    the one definition) on the predicted pulse in the protocol's band.

    Args:
        pred, label: [N, T] in the label space ``label_transform``.
        protocol: "crossview", "rpm_distill" or an ``HRProtocol`` (band, resolution, filter).
        keys: N clip keys ``<video>#<i>`` for the per-video errors (default: one video per clip).

    Returns:
        dict: ``hr_metrics`` fields (n, mae, rmse, mape, pearson, std, bias), ``hr_pred``,
        ``hr_true`` and ``peak_concentration_per_clip`` (lists [N]), ``peak_concentration`` (mean),
        ``per_video_mae`` and ``per_video_peak_concentration`` ({video: mean over its clips}).
    """
    proto = get_protocol(protocol)
    p = to_pulse(np.atleast_2d(pred), label_transform)
    g = to_pulse(np.atleast_2d(label), label_transform)
    if p.shape != g.shape:
        raise ValueError(f"predictions {p.shape} and labels {g.shape} differ in shape")
    keys = [str(i) for i in range(p.shape[0])] if keys is None else [str(k) for k in keys]
    if len(keys) != p.shape[0]:
        raise ValueError(f"{len(keys)} keys for {p.shape[0]} clips")
    hr_p = np.atleast_1d(proto.hr(p, fs))
    hr_t = np.atleast_1d(proto.hr(g, fs))
    conc = np.atleast_1d(peak_concentration(p, fs, proto.band))
    err = np.abs(hr_p - hr_t)
    videos: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        videos.setdefault(video_of(k), []).append(i)
    return {**hr_metrics(hr_p, hr_t), "protocol": proto.name,
            "hr_pred": hr_p.tolist(), "hr_true": hr_t.tolist(),
            "peak_concentration": float(conc.mean()), "peak_concentration_per_clip": conc.tolist(),
            "per_video_mae": {v: float(err[ix].mean()) for v, ix in videos.items()},
            "per_video_peak_concentration": {v: float(conc[ix].mean()) for v, ix in videos.items()}}


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
