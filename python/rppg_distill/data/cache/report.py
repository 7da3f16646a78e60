"""What one preprocessing run did: :class:`CacheReport` and its :class:`FlaggedRecording` rows.

``report.save(cache_dir)`` writes ``report.json`` and the human summary ``report.txt``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from rppg_distill.data.cache.store import atomic_write_bytes, atomic_write_json


@dataclass
class FlaggedRecording:
    key: str
    source: str
    reason: str  # unreadable | empty | bad_fps | no_face | face_lost | label_mismatch | io_error | error
    detail: str
    written: bool = False  # True: the entry exists in the cache (usable in part)
    retry: bool = False    # True: not a property of the input (full disk, ...); the next run retries


@dataclass
class CacheReport:
    """What one preprocessing run did. ``flagged`` lists every recording not fully usable."""

    cache_dir: str
    settings: dict
    processed: list[str] = field(default_factory=list)
    recropped: list[str] = field(default_factory=list)
    relabelled: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    flagged: list[FlaggedRecording] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_frames: int = 0
    seconds: float = 0.0

    @property
    def ok_keys(self) -> list[str]:
        bad = {f.key for f in self.flagged if not f.written}
        return sorted(k for k in self.processed + self.recropped + self.relabelled + self.reused
                      if k not in bad)

    @property
    def skipped(self) -> list[FlaggedRecording]:
        return [f for f in self.flagged if not f.written]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ok_keys"] = self.ok_keys
        return d

    def summary(self) -> str:
        lines = [f"preprocess -> {self.cache_dir}: {len(self.ok_keys)} usable, "
                 f"{len(self.processed)} processed, {len(self.recropped)} re-cropped, "
                 f"{len(self.relabelled)} relabelled, {len(self.reused)} reused, "
                 f"{len(self.skipped)} skipped, "
                 f"{len(self.flagged) - len(self.skipped)} flagged but written; "
                 f"{self.n_frames} frames in {self.seconds:.1f} s"]
        for f in self.flagged:
            what = ("flagged (written)" if f.written
                    else "FAILED (retried by the next run)" if f.retry else "SKIPPED")
            lines.append(f"  {what}: {f.key} [{f.reason}] {f.detail} ({f.source})")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def save(self, cache_dir: Path) -> None:
        atomic_write_json(Path(cache_dir) / "report.json", self.to_dict())
        atomic_write_bytes(Path(cache_dir) / "report.txt", (self.summary() + "\n").encode())
