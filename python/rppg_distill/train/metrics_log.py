"""Training metrics: running means per log window; on disk an append-only JSONL log, a CSV copy
and PNG curves (rank 0 only)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.detach().float().mean().item() if v.numel() else float("nan")
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


class RunningMeans:
    """Means of the numeric per-step metrics between two log lines."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, row: dict) -> None:
        for k, v in row.items():
            if isinstance(v, (int, float)):
                self.values.setdefault(k, []).append(float(v))

    def pop(self) -> dict[str, float]:
        """The means so far; starts a new window."""
        means = {k: float(np.mean(v)) for k, v in self.values.items()}
        self.values = {}
        return means


class MetricsLog:
    """Append-only JSONL (the source of truth) + a CSV and PNG curves regenerated from it."""

    def __init__(self, out_dir: Path, enabled: bool = True):
        self.dir = Path(out_dir)
        self.jsonl = self.dir / "metrics.jsonl"
        self.enabled = enabled

    def start(self, config: dict, fresh: bool) -> None:
        """Write ``config.yaml``; a ``fresh`` run (not resumed) also starts an empty log."""
        if not self.enabled:
            return
        import yaml

        from rppg_distill.data.atomic import atomic_write_text

        self.dir.mkdir(parents=True, exist_ok=True)
        if fresh:
            self.jsonl.unlink(missing_ok=True)
        atomic_write_text(self.dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def truncate_after(self, step: int) -> None:
        """On resume, drop lines logged after the checkpoint so the log matches the weights."""
        if not (self.enabled and self.jsonl.exists()):
            return
        keep = [l for l in self.jsonl.read_text().splitlines() if l.strip()
                and json.loads(l).get("step", 0) <= step]
        self.jsonl.write_text("".join(l + "\n" for l in keep))

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as fh:
            fh.write(json.dumps({k: _plain(v) for k, v in row.items()}) + "\n")

    def rows(self) -> list[dict]:
        if not self.jsonl.exists():
            return []
        return [json.loads(l) for l in self.jsonl.read_text().splitlines() if l.strip()]

    def write_csv(self) -> Path | None:
        rows = self.rows()
        if not (self.enabled and rows):
            return None
        import csv

        keys: list[str] = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        path = self.dir / "metrics.csv"
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
        return path

    def plot(self) -> Path | None:
        rows = self.rows()
        if not (self.enabled and rows):
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        skip = {"step", "epoch", "time", "split"}
        series: dict[str, dict[str, list]] = {}
        for r in rows:
            split = r.get("split", "train")
            for k, v in r.items():
                if k in skip or not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                s = series.setdefault(k, {})
                s.setdefault(split, []).append((r.get("step", 0), v))
        if not series:
            return None
        n = len(series)
        cols = min(3, n)
        nrows = math.ceil(n / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4.5 * cols, 3.0 * nrows), squeeze=False)
        for ax, (name, splits) in zip(axes.flat, sorted(series.items())):
            for split, pts in splits.items():
                xs, ys = zip(*pts)
                ax.plot(xs, ys, marker="o" if len(pts) < 30 else None, ms=3, label=split)
            ax.set_title(name)
            ax.set_xlabel("step")
            if len(splits) > 1:
                ax.legend(fontsize=7)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.tight_layout()
        path = self.dir / "curves.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path
