"""Checkpoint files: RNG state capture/restore, atomic writes, safe reads.

Checkpoints describe themselves (config, step, epoch, optimizer/scheduler/scaler/RNG state,
versions, metrics), are written atomically (temp file + ``os.replace``) and are read with
``torch.load(weights_only=True)``: they hold only tensors, numbers, strings, lists and dicts.
The dict itself is assembled by :meth:`rppg_distill.train.state.TrainState.to_checkpoint`.

A run keeps three files under ``<out_dir>/checkpoints`` (:class:`CheckpointWriter`):
``last.pt`` (where ``--resume`` continues), ``best.pt`` (the epoch with the best validation
value of the task's monitored metric; only for tasks that validate) and ``last_good.pt`` (the
state before a step whose loss or gradient norm was NaN/inf).
"""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from .distributed import Placement
    from .state import TrainState

CHECKPOINT_FORMAT = "rppg-distill-checkpoint"
CHECKPOINT_VERSION = 1


def get_rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": torch.tensor(py_state[1], dtype=torch.int64)},
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), None))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def versions() -> dict:
    import rppg_distill

    return {"rppg_distill": rppg_distill.__version__, "torch": str(torch.__version__),
            "numpy": np.__version__, "python": platform.python_version()}


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """torch.save to a temp file in the same folder, fsync, then os.replace (never a torn file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (weights_only=True: no arbitrary objects are unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an rppg-distill checkpoint")
    if ckpt.get("format_version", 0) > CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint format {ckpt['format_version']} is newer than this "
                         f"rppg-distill understands ({CHECKPOINT_VERSION})")
    return ckpt


class CheckpointWriter:
    """The checkpoint files of one run. Rank 0 writes; every rank waits for the write."""

    def __init__(self, out_dir: str | Path, placement: Placement,
                 after_save: Callable[[], Any] = lambda: None):
        self.dir = Path(out_dir) / "checkpoints"
        self.last, self.best, self.last_good = (self.dir / n for n in ("last.pt", "best.pt", "last_good.pt"))
        self.placement = placement
        self.after_save = after_save

    def save(self, state: TrainState, epoch: int, step_in_epoch: int, *paths: Path) -> None:
        """Write ``state`` (resuming at ``epoch``/``step_in_epoch``) to each path (default last.pt)."""
        if self.placement.is_main:
            payload = state.to_checkpoint(epoch, step_in_epoch)
            for path in paths or (self.last,):
                atomic_torch_save(payload, path)
            self.after_save()
        self.placement.barrier()

    def clear_stale(self) -> None:
        """A fresh run in an old folder: drop best.pt/last_good.pt that belong to the old run."""
        if self.placement.is_main:
            self.best.unlink(missing_ok=True)
            self.last_good.unlink(missing_ok=True)


def restore(state: TrainState, path: Path, device: torch.device,
            log: Callable[[str], None] = print, allow_changes: tuple[str, ...] = (),
            record: Path | None = None) -> bool:
    """Continue from the checkpoint at ``path`` if there is one; True when ``state`` was restored.

    The checkpoint's config is compared with ``state.config`` first (:mod:`.resume`): a change
    that the run cannot honour raises :class:`~.resume.ResumeError` naming the keys; accepted
    changes are logged and, when ``record`` is given, appended to that file. A model that does
    not fit the checkpoint's weights raises ResumeError too.
    """
    from .resume import record_changes, review_changes

    if not path.exists():
        log(f"--resume: no checkpoint at {path}; starting from scratch")
        return False
    ckpt = load_checkpoint(path, map_location=device)
    if ckpt.get("world_size", 1) != state.world:
        log(f"warning: resuming a run saved with world size {ckpt.get('world_size')} on {state.world}; "
            "the data order will differ from an uninterrupted run")
    changes = review_changes(ckpt, state, tuple(allow_changes))
    state.restore(ckpt, source=path)
    for c in changes:
        if c.how == "override" and c.key in ("optim.lr", "optim.weight_decay"):
            for group in state.optimizer.param_groups:  # the restored state holds the old value
                group[c.key.split(".")[1]] = c.new
    if [c for c in changes if c.how != "harmless"]:
        log("--resume: continuing with config changes: "
            + ", ".join(f"{c.key} {c.old} -> {c.new} ({c.how})" for c in changes if c.how != "harmless"))
        if record is not None:
            record_changes(record, changes, state.progress.step)
    p = state.progress
    log(f"resumed from {path} at step {p.step} (epoch {p.epoch}, batch {p.step_in_epoch})")
    return True
