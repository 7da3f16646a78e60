"""The shared training loop: seeds, device, AMP, DDP, logging, curves, checkpoints, resume.

A trainer describes *what* to train as a :class:`Task` and passes its typed config (any config
with ``loop: LoopConfig`` and ``optim: OptimConfig`` sections); :func:`fit` does the rest the same
way for every scheme and returns the trained task in a :class:`FitResult`.

Checkpoints describe themselves (config, step, epoch, optimizer/scheduler/scaler/RNG state,
versions, metrics), are written atomically and read with ``torch.load(weights_only=True)``.
``last.pt`` is written at the end of each epoch (and every ``loop.checkpoint_every`` steps),
``best.pt`` at the end of an epoch whose validation value of ``Task.monitor`` is the best so far.

Resume is exact: the data order is a seeded permutation per epoch (no global RNG involved), the RNG
states are restored at the step boundary, and a resumed run skips the batches already done, so it
reaches the same weights as an uninterrupted run with the same seed (with ``num_workers=0``, or with
transforms that seed themselves from the sample index).

Distributed training uses DDP as launched by ``torchrun``: NCCL on CUDA, gloo on CPU. Rank 0 writes
logs and checkpoints.

The pieces live beside this file and the public ones are re-exported here: :mod:`.setup`
(threads, seeds, AMP), :mod:`.distributed` (device, process group, DDP), :mod:`.state` (what a
checkpoint holds), :mod:`.checkpoint` (files, restore), :mod:`.step` (one step, one NaN guard),
:mod:`.metrics_log` (JSONL/CSV/PNG), :mod:`.order` (data order), :mod:`.optim` (optimizers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from .checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointWriter,
    atomic_torch_save,
    get_rng_state,
    load_checkpoint,
    restore,
    set_rng_state,
    versions,
)
from .config import LoopConfig, OptimConfig, check_ranges, to_dict
from .distributed import Placement, place_process, select_device, unwrap, wrap_ddp
from .metrics_log import MetricsLog, RunningMeans, _plain
from .optim import build_optimizer
from .order import batches_for_epoch, epoch_loader, epoch_order
from .resume import Resume, ResumeError
from .setup import configure_torch, seed_everything, setup_amp
from .state import Best, TrainState
from .step import NonFiniteLossError, StepRunner
from .task import Task

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "FitResult",
    "MetricsLog",
    "NonFiniteLossError",
    "Resume",
    "ResumeError",
    "RunConfig",
    "Task",
    "atomic_torch_save",
    "batches_for_epoch",
    "build_optimizer",
    "epoch_order",
    "fit",
    "get_rng_state",
    "load_checkpoint",
    "seed_everything",
    "select_device",
    "set_rng_state",
    "unwrap",
    "versions",
]


class RunConfig(Protocol):
    """What :func:`fit` reads from a trainer config (a dataclass; stored whole in checkpoints)."""

    loop: LoopConfig
    optim: OptimConfig


@dataclass
class FitResult:
    task: Task                          # the trained task (its modules hold the final weights)
    device: torch.device
    out_dir: Path
    checkpoint: Path | None             # last.pt
    best_checkpoint: Path | None        # best.pt (None when the task does not validate)
    step: int
    epoch: int
    is_main: bool = True                # rank 0: the process that writes result files
    metrics: dict = field(default_factory=dict)        # last train metrics + last validation
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def fit(build_task: Callable[[torch.device], Task], cfg: RunConfig, *, resume: bool | Resume = False,
        out_dir: str | Path | None = None, log: Callable[[str], None] = print) -> FitResult:
    """Train ``build_task(device)`` with the shared loop.

    Args:
        build_task: called once, after seeding, with the chosen device; returns the :class:`Task`.
        cfg: the trainer config: ``cfg.loop`` drives the loop, ``cfg.optim.grad_clip`` the clipping;
            the whole config is stored in every checkpoint.
        resume: continue from ``<out_dir>/checkpoints/last.pt`` if it exists; a
            :class:`~.resume.Resume` names config keys whose new value is accepted (else a config
            that differs from the checkpoint's raises :class:`~.resume.ResumeError`).
        out_dir: overrides ``cfg.loop.out_dir``.

    Raises:
        NonFiniteLossError: the loss or gradient norm became NaN/inf; ``last_good.pt`` holds the
            state before the failing step.
    """
    t_start = time.time()
    check_ranges(cfg)  # configs built in Python, not only those loaded from YAML
    loop = cfg.loop
    out = Path(out_dir or loop.out_dir)
    placement = place_process(loop.device)
    configure_torch(loop)
    task = build_task(placement.device)
    run = _Run.create(task, cfg, placement, out, t_start, log)
    restored = bool(resume) and restore(
        run.state, run.writer.last, placement.device, log,
        allow_changes=getattr(resume, "allow_changes", ()),
        record=out / "config_changes.jsonl" if placement.is_main else None)
    if restored:
        run.metrics_log.truncate_after(run.state.progress.step)
    else:
        run.writer.clear_stale()
    run.metrics_log.start(run.state.config, fresh=not restored)
    while not run.finished():
        run.run_epoch()
    run.finish()
    p = run.state.progress
    return FitResult(task=task, device=placement.device, out_dir=out, step=p.step, epoch=p.epoch,
                     checkpoint=run.writer.last if run.writer.last.exists() else None,
                     best_checkpoint=run.writer.best if run.writer.best.exists() else None,
                     is_main=placement.is_main, metrics=run.state.metrics,
                     history=run.metrics_log.rows(), seconds=time.time() - t_start)


@dataclass
class _Run:
    """One call of :func:`fit`: the task, its data, its state and where it writes."""

    loop: LoopConfig
    task: Task
    dataset: torch.utils.data.Dataset
    train_model: nn.Module
    state: TrainState
    step: StepRunner
    placement: Placement
    metrics_log: MetricsLog
    writer: CheckpointWriter
    t_start: float
    log: Callable[[str], None]
    means: RunningMeans = field(default_factory=RunningMeans)

    @classmethod
    def create(cls, task: Task, cfg: RunConfig, placement: Placement, out: Path, t_start: float,
               log: Callable[[str], None]) -> _Run:
        """Move the task to its device, build optimizer, AMP, DDP wrapper and checkpoint writer."""
        loop = cfg.loop
        task.model.to(placement.device)
        for m in task.modules().values():
            m.to(placement.device)
        dataset = task.train_dataset()
        if len(dataset) == 0:
            raise ValueError("the training set is empty (check the data config and the preprocessing report)")
        steps_per_epoch = math.ceil(math.ceil(len(dataset) / placement.world) / loop.batch_size)
        total_steps = steps_per_epoch * loop.epochs
        if loop.max_steps > 0:
            total_steps = min(total_steps, loop.max_steps)
        optimizer, scheduler = task.configure_optimizers(total_steps)
        amp = setup_amp(loop, placement.device)
        state = TrainState(task, optimizer, scheduler, amp.scaler, to_dict(cfg), steps_per_epoch,
                           placement.world, best=Best(task.monitor, task.monitor_mode))
        train_model = wrap_ddp(task.model, placement)
        metrics_log = MetricsLog(out, enabled=placement.is_main)
        writer = CheckpointWriter(out, placement, after_save=metrics_log.write_csv)

        def save_last_good() -> Path:
            writer.save(state, state.progress.epoch, state.progress.step_in_epoch, writer.last_good)
            return writer.last_good

        step = StepRunner(task, train_model, state, amp, placement, float(cfg.optim.grad_clip or 0.0),
                          save_last_good)
        return cls(loop, task, dataset, train_model, state, step, placement, metrics_log, writer,
                   t_start, log)

    def finished(self) -> bool:
        p, loop = self.state.progress, self.loop
        return p.epoch >= loop.epochs or (loop.max_steps > 0 and p.step >= loop.max_steps)

    def run_epoch(self) -> None:
        """The rest of the current epoch: steps, log lines, validation and checkpoints."""
        loop, p = self.loop, self.state.progress
        batches = batches_for_epoch(len(self.dataset), loop.batch_size, loop.seed, p.epoch,
                                    self.placement.rank, self.placement.world)
        loader = epoch_loader(self.dataset, batches[p.step_in_epoch:], seed=loop.seed, epoch=p.epoch,
                              num_workers=loop.num_workers, collate=self.task.collate)
        bar = self._progress_bar(len(batches))
        self.train_model.train()
        for batch in loader:
            row = self.step(batch)
            p.step += 1
            p.step_in_epoch += 1
            self.means.add(row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
            end_of_epoch = p.step_in_epoch == len(batches)
            if p.step % max(loop.log_every, 1) == 0 or end_of_epoch:
                self._log_train(len(batches))
            improved = self._validate() if end_of_epoch else False
            self._checkpoint(end_of_epoch, improved)
            if self.finished():
                break
        if bar is not None:
            bar.close()
        if p.step_in_epoch == len(batches):
            p.epoch += 1
            p.step_in_epoch = 0

    def _progress_bar(self, n_batches: int):
        if not (self.loop.progress and self.placement.is_main):
            return None
        try:
            from tqdm import tqdm
        except ImportError:  # pragma: no cover
            return None
        p = self.state.progress
        return tqdm(total=n_batches, initial=p.step_in_epoch, desc=f"epoch {p.epoch + 1}/{self.loop.epochs}",
                    leave=False, dynamic_ncols=True, disable=None)

    def _log_train(self, n_batches: int) -> None:
        p = self.state.progress
        self.state.metrics = self.means.pop()
        self.metrics_log.write({"step": p.step, "epoch": p.epoch + p.step_in_epoch / n_batches,
                                "split": "train", "lr": self.state.optimizer.param_groups[0]["lr"],
                                **self.state.metrics, "time": time.time() - self.t_start})

    def _validate(self) -> bool:
        """End-of-epoch validation; True when it is the best so far on ``Task.monitor``."""
        p, best = self.state.progress, self.state.best
        val = self.task.validate(self.task.model, p.epoch)
        self.train_model.train()
        if not val:
            return False
        self.state.metrics.update({f"val_{k}": _plain(v) for k, v in val.items()})
        self.metrics_log.write({"step": p.step, "epoch": p.epoch + 1, "split": "val", **val})
        if best.metric not in val:
            self.log(f"warning: validation gives no {best.metric!r} (Task.monitor), only {sorted(val)}; "
                     "best.pt is not written")
            return False
        value = float(_plain(val[best.metric]))
        if not best.improves(value):
            return False
        best.value, best.step, best.epoch = value, p.step, p.epoch + 1
        return True

    def _checkpoint(self, end_of_epoch: bool, improved: bool) -> None:
        p, every = self.state.progress, self.loop.checkpoint_every
        if end_of_epoch:
            extra = (self.writer.best,) if improved else ()
            self.writer.save(self.state, p.epoch + 1, 0, self.writer.last, *extra)
        elif (every > 0 and p.step % every == 0) or self.finished():
            self.writer.save(self.state, p.epoch, p.step_in_epoch)

    def finish(self) -> None:
        """The CSV copy of the log and the curves (rank 0)."""
        if not self.placement.is_main:
            return
        self.metrics_log.write_csv()
        if self.loop.plots:
            try:
                self.metrics_log.plot()
            except Exception as err:  # plots never kill a finished run
                self.log(f"warning: could not draw curves: {err}")
