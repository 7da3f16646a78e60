"""The clip cache: uint8 face crops per recording as memory-mapped .npy files with a manifest.

``preprocess(records, cache_dir, settings) -> CacheReport`` builds or updates it;
``ClipCache(cache_dir)`` reads it. Imports without torch.
"""

from rppg_distill.data.cache.preprocess import (
    CacheReport,
    FlaggedRecording,
    PreprocessSettings,
    iter_frames,
    preprocess,
    process_recording,
    source_fingerprint,
)
from rppg_distill.data.cache.store import CacheEntry, ClipCache

__all__ = ["CacheEntry", "CacheReport", "ClipCache", "FlaggedRecording", "PreprocessSettings",
           "iter_frames", "preprocess", "process_recording", "source_fingerprint"]
