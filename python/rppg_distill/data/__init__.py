"""Data layer: dataset readers, the synthetic generator, face backends, the clip cache, clips."""

from rppg_distill.data.types import Recording

__all__ = ["Recording"]
