"""What a checkpoint holds: the run's position, its optimizer state and its best validation value.

:class:`TrainState` turns itself into the checkpoint dict (:meth:`TrainState.to_checkpoint`) and
back (:meth:`TrainState.restore`); :mod:`.checkpoint` writes and reads the files.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, get_rng_state, set_rng_state, versions
from .metrics_log import _plain
from .task import Task


@dataclass
class Progress:
    """Optimizer steps done, the current epoch, and the batches done in it."""

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0


@dataclass
class Best:
    """The best validation value so far of the task's monitored metric (it picks ``best.pt``)."""

    metric: str
    mode: str = "min"
    value: float | None = None
    step: int = 0
    epoch: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"Task.monitor_mode must be 'min' or 'max', got {self.mode!r}")

    def improves(self, value: float) -> bool:
        """True when ``value`` is finite and better than the best so far (NaN never is)."""
        if not math.isfinite(value):
            return False
        if self.value is None:
            return True
        return value < self.value if self.mode == "min" else value > self.value


@dataclass
class TrainState:
    """The mutable state of one run, everything that a resumed run must get back."""

    task: Task
    optimizer: Any
    scheduler: Any
    scaler: Any
    config: dict                     # the trainer's full config, stored in every checkpoint
    steps_per_epoch: int
    world: int
    progress: Progress = field(default_factory=Progress)
    metrics: dict = field(default_factory=dict)    # last train means + last validation
    best: Best = field(default_factory=lambda: Best("loss"))

    def to_checkpoint(self, epoch: int, step_in_epoch: int) -> dict:
        """The checkpoint dict; ``epoch``/``step_in_epoch`` say where a resumed run starts."""
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
            "config": self.config, "step": self.progress.step, "epoch": epoch,
            "step_in_epoch": step_in_epoch, "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.world,
            "modules": {k: m.state_dict() for k, m in self.task.modules().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "extra": self.task.extra_state(), "rng": get_rng_state(), "versions": versions(),
            "metrics": {k: _plain(v) for k, v in self.metrics.items()},
            "best": {"metric": self.best.metric, "mode": self.best.mode, "value": self.best.value,
                     "step": self.best.step, "epoch": self.best.epoch},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def restore(self, ckpt: dict, source: Any = "the checkpoint") -> None:
        """Load weights, optimizer/scheduler/scaler, task extras, RNG and position from ``ckpt``.

        Raises :class:`~.resume.ResumeError` (naming ``source``) when the task's modules or
        optimizer do not fit the checkpoint's (another architecture or model size)."""
        from .resume import ResumeError

        saved = ckpt.get("modules") or {}
        for k, m in self.task.modules().items():
            problem = _state_dict_mismatch(m.state_dict(), saved.get(k))
            if problem:
                raise ResumeError(f"--resume: {source} holds a different model than the config "
                                  f"builds ({k}: {problem}); start a new out_dir or use the "
                                  "checkpoint's model settings")
            m.load_state_dict(saved[k])
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as err:
            raise ResumeError(f"--resume: the optimizer state in {source} does not fit this "
                              f"run's parameters ({err}); start a new out_dir") from None
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        self.task.load_extra_state(ckpt.get("extra") or {})
        set_rng_state(ckpt["rng"])
        self.progress = Progress(ckpt["step"], ckpt["epoch"], ckpt["step_in_epoch"])
        self.metrics = dict(ckpt.get("metrics") or {})
        best = ckpt.get("best") or {}
        if best.get("metric") == self.best.metric and best.get("mode") == self.best.mode:
            self.best = Best(**best)


def _state_dict_mismatch(want: dict, saved: dict | None) -> str | None:
    """A short description of how ``saved`` differs from ``want`` in keys and shapes, or None."""
    if saved is None:
        return "no weights for it in the checkpoint"
    missing = [k for k in want if k not in saved]
    extra = [k for k in saved if k not in want]
    shapes = [f"{k} {tuple(saved[k].shape)} vs {tuple(v.shape)}" for k, v in want.items()
              if k in saved and hasattr(saved[k], "shape") and tuple(saved[k].shape) != tuple(v.shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing weights, e.g. {missing[0]}")
    if extra:
        parts.append(f"{len(extra)} unexpected weights, e.g. {extra[0]}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches, e.g. {shapes[0]} (checkpoint vs config)")
    return "; ".join(parts) or None
