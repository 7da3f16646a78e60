"""The picture of a run (``rppg-distill run --plot``): pulse, HR track with its confidence, and
the face crop at a few times (matplotlib with the Agg backend; no torch).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class CropSampler:
    """Keeps about ``n`` face crops spread over a stream of unknown length, in bounded memory.

    Crops are kept every ``every_s`` seconds; when more than ``2 n`` are held, every other one is
    dropped and the spacing doubles, so the kept crops stay evenly spread from start to end.
    """

    def __init__(self, n: int = 6, every_s: float = 2.0):
        self.n = int(n)
        self.every_s = float(every_s)
        self._items: list[tuple[float, np.ndarray]] = []
        self._next_t = None

    def offer(self, t: float, crop) -> None:
        if crop is None:
            return
        if self._next_t is not None and t < self._next_t:
            return
        self._items.append((float(t), np.array(crop, copy=True)))
        self._next_t = t + self.every_s
        if len(self._items) > 2 * self.n:
            self._items = self._items[::2]
            self.every_s *= 2

    def items(self) -> list[tuple[float, np.ndarray]]:
        """At most ``n`` (time, crop) pairs evenly spread over what was kept."""
        if len(self._items) <= self.n:
            return list(self._items)
        idx = np.linspace(0, len(self._items) - 1, self.n).round().astype(int)
        return [self._items[i] for i in idx]


def write_run_plot(path, bvp_t, bvp, hr_rows, crops=(), *, title: str = "",
                   min_snr_db: float = 0.0, roi_boxes=()) -> Path:
    """Write a PNG: pulse (top), HR over time coloured by confidence with the SNR below it
    (middle), face crops at a few times (bottom row).

    Args:
        bvp_t, bvp: stitched pulse, times (s) and values [N].
        hr_rows: per-frame dicts with ``t, valid, hr_bpm, snr_db, confident``.
        crops: (time, uint8 [S, S, 3] crop) pairs.
        min_snr_db: the SNR threshold of the confident flag (drawn as a line).
        roi_boxes: (x0, y0, x1, y1) fractions of the crop drawn on it (the skin ROI averaged).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec

    crops = list(crops)
    n_c = max(len(crops), 1)
    fig = plt.figure(figsize=(11, 7.5 if crops else 6))
    gs = GridSpec(4 if crops else 3, n_c, figure=fig,
                  height_ratios=[1.0, 1.3, 0.6, 1.0][:4 if crops else 3], hspace=0.6)
    a_p = fig.add_subplot(gs[0, :])
    a_h = fig.add_subplot(gs[1, :], sharex=a_p)
    a_q = fig.add_subplot(gs[2, :], sharex=a_p)
    bt, bv = np.asarray(bvp_t, float), np.asarray(bvp, float)
    a_p.plot(bt, bv, lw=0.7, color="tab:red")
    a_p.set_ylabel("pulse (z)")
    a_p.set_title(title or "rppg-distill run", fontsize=10)

    rows = [r for r in hr_rows if r.get("valid")]
    t = np.array([r["t"] for r in rows], float)
    h = np.array([r["hr_bpm"] for r in rows], float)
    conf = np.array([bool(r.get("confident")) for r in rows])
    snr = np.array([r.get("snr_db", math.nan) for r in rows], float)
    if len(t):
        a_h.plot(t, h, color="0.6", lw=0.8, zorder=1)
        a_h.scatter(t[conf], h[conf], s=6, color="tab:green", label="confident", zorder=2)
        a_h.scatter(t[~conf], h[~conf], s=6, color="tab:orange", label="low quality", zorder=2)
        med = float(np.median(h))
        a_h.axhline(med, color="k", lw=0.6, ls="--", label=f"median {med:.1f} bpm")
        lo, hi = np.nanpercentile(h, [1, 99])
        a_h.set_ylim(max(30.0, lo - 10), min(200.0, hi + 10))
        a_h.legend(loc="upper right", fontsize=8, ncol=3, markerscale=2)
        a_q.plot(t, snr, color="tab:blue", lw=0.8)
        a_q.axhline(min_snr_db, color="tab:blue", lw=0.6, ls=":")
    else:
        a_h.text(0.5, 0.5, "no valid HR estimate", ha="center", va="center",
                 transform=a_h.transAxes)
    a_h.set_ylabel("HR (bpm)")
    a_q.set_ylabel("SNR (dB)")
    a_q.set_xlabel("time (s)")
    for ax in (a_p, a_h):
        plt.setp(ax.get_xticklabels(), visible=False)

    for i, (tc, crop) in enumerate(crops):
        ax = fig.add_subplot(gs[3, i])
        ax.imshow(np.asarray(crop))
        ch, cw = np.asarray(crop).shape[:2]
        for x0, y0, x1, y1 in roi_boxes:
            ax.add_patch(plt.Rectangle((x0 * cw - 0.5, y0 * ch - 0.5), (x1 - x0) * cw,
                                       (y1 - y0) * ch, fill=False, lw=0.8, color="yellow"))
        ax.set_title(f"t = {tc:.1f} s", fontsize=8)
        ax.axis("off")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path
