"""Per-stage wall-clock totals for the runtime: ``timer.add(stage, seconds)``, ``summary()``."""

from __future__ import annotations


class StageTimer:
    def __init__(self):
        self.total: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        self.total[stage] = self.total.get(stage, 0.0) + seconds
        self.count[stage] = self.count.get(stage, 0) + 1

    def summary(self) -> dict:
        return {k: {"total_s": v, "calls": self.count[k], "mean_ms": 1e3 * v / max(self.count[k], 1)}
                for k, v in self.total.items()}
