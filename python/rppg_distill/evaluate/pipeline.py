"""Evaluation of predicted pulse signals against labels: per clip (the trainers) or per HR window
of a long signal, grouped per view."""

from __future__ import annotations

import numpy as np

from rppg_distill.evaluate.metrics import hr_metrics
from rppg_distill.signal.protocols import get_protocol, to_pulse
from rppg_distill.signal.quality import peak_concentration, snr_db
from rppg_distill.signal.windows import window_bounds


def snr_band(protocol, fs) -> tuple[float, float]:
    """The band SNR is measured in: the protocol's low edge up to twice its high edge (room for
    the first harmonic), kept below Nyquist."""
    proto = get_protocol(protocol)
    return (proto.band[0], min(2 * proto.band[1], 0.49 * float(fs)))


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
            row["snr_db"] = float(snr_db(p[a:b], fs, hg, snr_band(proto, fs)))
            row["concentration"] = float(peak_concentration(p[a:b], fs, proto.band))
        rows.append(row)
    return rows


def video_of(key: str) -> str:
    """Clip key ``<video>#<index>`` -> ``<video>`` (keys without ``#`` are their own video)."""
    return str(key).rsplit("#", 1)[0]


def _per_clip_fs(fs, n: int) -> np.ndarray:
    """``fs`` (a number or one per clip) as float64 [n]; ValueError for a wrong length or rate."""
    arr = np.asarray(fs, dtype=np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size != n):
        raise ValueError(f"fs must be one rate or one per clip ({n}), got shape {arr.shape}")
    arr = np.broadcast_to(arr, (n,))
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"fs must be finite and > 0, got {sorted(set(arr.tolist()))}")
    return arr


def evaluate_clips(pred, label, fs, protocol="crossview", *, label_transform: str = "standardized",
                   keys=None) -> dict:
    """One HR per clip from model outputs and labels, and the metrics over clips.

    Both trainers and ``rppg-distill evaluate`` report what this returns (after
    :func:`rppg_distill.evaluate.inference.predict`). Outputs and labels are turned into pulses by
    ``to_pulse`` (``diff_normalized``: integrated and detrended); HR is read by the protocol; peak
    concentration (``signal.peak_concentration``, the one definition) on the predicted pulse in the
    protocol's band; SNR (``signal.snr_db``, harmonic windows around the label's HR) in
    :func:`snr_band`.

    Args:
        pred, label: [N, T] in the label space ``label_transform``.
        fs: the clips' sampling rate (Hz): one number, or [N], one per clip (clips are grouped by
            rate and each group is read at its own rate).
        protocol: "crossview", "rpm_distill" or an ``HRProtocol`` (band, resolution, filter).
        keys: N clip keys ``<video>#<i>`` for the per-video errors (default: one video per clip).

    Returns:
        dict: ``hr_metrics`` fields (n, mae, rmse, mape, pearson, std, bias), ``hr_pred``,
        ``hr_true`` and ``peak_concentration_per_clip`` (lists [N]), ``peak_concentration`` (mean),
        ``snr_db`` (mean) and ``snr_db_per_clip``, ``per_video_mae`` and
        ``per_video_peak_concentration`` ({video: mean over its clips}).
    """
    proto = get_protocol(protocol)
    p = to_pulse(np.atleast_2d(pred), label_transform)
    g = to_pulse(np.atleast_2d(label), label_transform)
    if p.shape != g.shape:
        raise ValueError(f"predictions {p.shape} and labels {g.shape} differ in shape")
    keys = [str(i) for i in range(p.shape[0])] if keys is None else [str(k) for k in keys]
    if len(keys) != p.shape[0]:
        raise ValueError(f"{len(keys)} keys for {p.shape[0]} clips")
    rates = _per_clip_fs(fs, p.shape[0])
    hr_p, hr_t, conc, snr = (np.empty(p.shape[0]) for _ in range(4))
    for rate in np.unique(rates):
        ix = np.flatnonzero(rates == rate)
        sel = slice(None) if ix.size == p.shape[0] else ix   # one rate: one call over all clips
        r = float(rate)
        hr_p[sel] = proto.hr(p[sel], r)
        hr_t[sel] = proto.hr(g[sel], r)
        conc[sel] = peak_concentration(p[sel], r, proto.band)
        snr[sel] = snr_db(p[sel], r, hr_t[sel], snr_band(proto, r))
    err = np.abs(hr_p - hr_t)
    videos: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        videos.setdefault(video_of(k), []).append(i)
    return {**hr_metrics(hr_p, hr_t), "protocol": proto.name,
            "hr_pred": hr_p.tolist(), "hr_true": hr_t.tolist(),
            "peak_concentration": float(conc.mean()), "peak_concentration_per_clip": conc.tolist(),
            "snr_db": float(snr.mean()), "snr_db_per_clip": snr.tolist(),
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
