"""Streaming heart-rate runtime (no torch): ``Monitor(model).push(frame, timestamp) -> Result``;
``Monitor()`` or ``Monitor(method="chrom")`` runs a classical method instead of a model."""

from __future__ import annotations

from .preprocess import normalize_window
from .source import prefetch

__all__ = ["ClassicalRunner", "Monitor", "MonitorConfig", "Result", "normalize_window", "prefetch"]


def __getattr__(name):
    if name in ("Monitor", "MonitorConfig", "Result"):
        from . import monitor

        return getattr(monitor, name)
    if name == "ClassicalRunner":
        from .classical import ClassicalRunner

        return ClassicalRunner
    raise AttributeError(name)
