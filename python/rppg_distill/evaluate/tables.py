"""Per-view result tables like paper 1's Table 1 (mean ± std over seeds), as text, markdown or CSV."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

VIEW_ORDER = ("side_left", "frontal", "side_right", "side")
VIEW_LABELS = {"side_left": "cam1 (left)", "frontal": "cam2 (frontal)",
               "side_right": "cam3 (right)", "side": "side (mean)"}


def mean_std(values) -> tuple[float, float, int]:
    """(mean, sample std (ddof=1; 0 for one value), count) of the finite values; NaNs when none.

    The one "mean ± std over seeds" of the package (tables, trainers' summaries)."""
    vals = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return float("nan"), float("nan"), 0
    arr = np.asarray(vals, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0, int(arr.size)


@dataclass
class ResultTable:
    """Cells ``(row, col) -> values over seeds``; rendered as mean ± std (or the value if one seed)."""

    rows: list[str]
    cols: list[str]
    cells: dict = field(default_factory=dict)
    value_name: str = "mae"
    digits: int = 2
    col_labels: dict = field(default_factory=dict)

    def stats(self, row: str, col: str) -> tuple[float, float, int]:
        """(mean, sample std over seeds (ddof=1; 0 for one seed), number of seeds); NaNs when the
        cell is empty. Non-finite values (a failed run) are left out."""
        return mean_std(self.cells.get((row, col), []))

    def cell_text(self, row: str, col: str) -> str:
        mean, std, n = self.stats(row, col)
        if n == 0 or math.isnan(mean):
            return "-"
        if n == 1:
            return f"{mean:.{self.digits}f}"
        return f"{mean:.{self.digits}f} ± {std:.{self.digits}f}"

    def _header(self) -> list[str]:
        return [self.value_name] + [self.col_labels.get(c, c) for c in self.cols]

    def _body(self) -> list[list[str]]:
        return [[r] + [self.cell_text(r, c) for c in self.cols] for r in self.rows]

    def to_markdown(self) -> str:
        head = self._header()
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * len(self.cols)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self._body()]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        table = [self._header()] + self._body()
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        fmt = lambda r: "  ".join(  # noqa: E731
            (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(r, widths)))
        sep = "  ".join("-" * w for w in widths)
        return "\n".join([fmt(table[0]), sep] + [fmt(r) for r in table[1:]]) + "\n"

    def to_csv(self) -> str:
        """Long-form CSV: row, col, mean, std, n_seeds (machine-readable)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["row", "col", f"{self.value_name}_mean", f"{self.value_name}_std", "n_seeds"])
        for r in self.rows:
            for c in self.cols:
                mean, std, n = self.stats(r, c)
                w.writerow([r, c, f"{mean:.6g}", f"{std:.6g}", n])
        return buf.getvalue()

    def render(self, fmt: str = "text") -> str:
        try:
            return {"text": self.to_text, "markdown": self.to_markdown, "md": self.to_markdown,
                    "csv": self.to_csv}[fmt]()
        except KeyError:
            raise ValueError(f"format must be text, markdown or csv, got {fmt!r}") from None


def per_view_table(records, *, row: str = "method", col: str = "view", value: str = "mae",
                   seed: str = "seed", rows=None, cols=None, side_average: bool = True,
                   side_views=("side_left", "side_right"), digits: int = 2,
                   view_labels: dict | None = None) -> ResultTable:
    """Build a table from result records (dicts), one per (row, col, seed).

    Args:
        records: iterable of dicts with keys ``row``, ``col``, ``value`` and optionally ``seed``
            (missing seed = a single run). Repeated (row, col, seed) entries are averaged first.
        rows, cols: order (default: first appearance; views in cam1, cam2, cam3 order).
        side_average: add a "side" column, the per-seed mean over ``side_views`` present.
        view_labels: column labels (default: "cam1 (left)" etc. for the standard views).

    Returns:
        ResultTable.
    """
    grouped: dict = {}
    for rec in records:
        try:
            key = (str(rec[row]), str(rec[col]), rec.get(seed, 0))
            v = float(rec[value])
        except KeyError as err:
            raise ValueError(f"result record {rec!r} lacks the key {err.args[0]!r}") from None
        grouped.setdefault(key, []).append(v)
    per_seed = {k: float(np.mean(v)) for k, v in grouped.items()}
    row_order = list(rows) if rows is not None else list(dict.fromkeys(k[0] for k in per_seed))
    seen_cols = list(dict.fromkeys(k[1] for k in per_seed))
    if cols is None:
        cols = [c for c in VIEW_ORDER if c in seen_cols] + [c for c in seen_cols if c not in VIEW_ORDER]
    cols = list(cols)
    cells: dict = {}
    for (r, c, _s), v in sorted(per_seed.items(), key=lambda kv: str(kv[0][2])):
        cells.setdefault((r, c), []).append(v)
    if side_average and any(c in seen_cols for c in side_views) and "side" not in seen_cols:
        for r in row_order:
            seeds = sorted({k[2] for k in per_seed if k[0] == r}, key=str)
            for s in seeds:
                vals = [per_seed[(r, c, s)] for c in side_views if (r, c, s) in per_seed]
                if vals:
                    cells.setdefault((r, "side"), []).append(float(np.mean(vals)))
        if "side" not in cols:
            cols.append("side")
    labels = dict(VIEW_LABELS) if view_labels is None else dict(view_labels)
    return ResultTable(rows=row_order, cols=cols, cells=cells, value_name=value, digits=digits,
                       col_labels=labels)


METRIC_COLUMNS = (("n_clips", "clips", "d"), ("mae", "MAE", ".2f"), ("rmse", "RMSE", ".2f"),
                  ("mape", "MAPE %", ".2f"), ("pearson", "r", ".3f"), ("snr_db", "SNR dB", ".2f"),
                  ("peak_concentration", "peak conc", ".3f"))


def view_metrics_table(per_view: dict, *, columns=METRIC_COLUMNS) -> str:
    """One model's metrics per view as text: clips, HR MAE/RMSE (bpm), MAPE (%), Pearson r, SNR
    (dB) and PSD peak concentration, from ``{view: evaluate_clips result}`` (views in cam1, cam2,
    cam3 order). A missing or non-finite value prints as "-"."""
    views = [v for v in VIEW_ORDER if v in per_view] + [v for v in per_view if v not in VIEW_ORDER]

    def cell(v, key, fmt):
        x = per_view[v].get(key)
        if x is None or (isinstance(x, float) and not math.isfinite(x)):
            return "-"
        return format(x, fmt)

    table = [["view"] + [label for _, label, _ in columns]]
    table += [[VIEW_LABELS.get(v, v)] + [cell(v, k, f) for k, _, f in columns] for v in views]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    fmt = lambda r: "  ".join(  # noqa: E731
        (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(table[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in table[1:]])
