"""Streaming heart-rate runtime (no torch): ``Monitor(model).push(frame, timestamp) -> Result``."""

from __future__ import annotations

from .preprocess import normalize_window
from .source import prefetch

__all__ = ["Monitor", "MonitorConfig", "Result", "normalize_window", "prefetch"]


def __getattr__(name):
    if name in ("Monitor", "MonitorConfig", "Result"):
        from . import monitor

        return getattr(monitor, name)
    raise AttributeError(name)
