"""One optimizer step of the shared loop, with one guard against NaN/inf.

The guard checks the loss (before backward) and, with gradient clipping and no loss scaler, the
gradient norm (before the optimizer step). A non-finite value on any rank stops every rank: the
state before the step is written to ``last_good.pt`` and :class:`NonFiniteLossError` is raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .distributed import Placement
from .metrics_log import _plain
from .setup import Amp
from .state import TrainState
from .task import Task


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss (or the gradient norm) became NaN or inf."""


@dataclass
class StepRunner:
    """Runs one training step of ``task`` on ``train_model`` (the DDP wrapper when distributed)."""

    task: Task
    train_model: nn.Module
    state: TrainState
    amp: Amp
    placement: Placement
    grad_clip: float                         # max gradient norm; 0 disables clipping
    save_last_good: Callable[[], Path]       # writes the state before this step, returns the file

    def __call__(self, batch: Any) -> dict:
        """Forward, guard, backward, clip, step; returns the step's metrics row (plain floats)."""
        opt, scaler = self.state.optimizer, self.amp.scaler
        with self.amp.autocast():
            loss, metrics = self.task.training_step(self.train_model, batch, self.state.progress.step)
        self._guard("loss", loss, metrics)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        gnorm = None
        if self.grad_clip > 0:
            scaler.unscale_(opt)
            params = [p for g in opt.param_groups for p in g["params"]]
            gnorm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
            if not scaler.is_enabled():  # with a scaler, inf gradients only skip the step
                self._guard("gradient norm", gnorm, metrics)
        scaler.step(opt)
        scaler.update()
        if self.state.scheduler is not None:
            self.state.scheduler.step()
        row = {"loss": loss.detach().float().item(), **{k: _plain(v) for k, v in metrics.items()}}
        if gnorm is not None:
            row["grad_norm"] = float(gnorm)
        return row

    def _guard(self, what: str, value: torch.Tensor, metrics: dict) -> None:
        """Stop the run when ``value`` is NaN/inf on any rank (after writing last_good.pt)."""
        if self.placement.all_true(torch.isfinite(value.detach()).all()):
            return
        bad = self.save_last_good()
        p = self.state.progress
        comps = ", ".join(f"{k}={_plain(v):.4g}" for k, v in metrics.items() if isinstance(_plain(v), float))
        raise NonFiniteLossError(
            f"{what} became {value.detach().float().item()} at step {p.step + 1} (epoch {p.epoch + 1}, "
            f"batch {p.step_in_epoch + 1}){' [' + comps + ']' if comps else ''}; training stopped. "
            f"The last good state (before this step) is in {bad}. Check the input data and "
            f"lower optim.lr or raise optim.grad_clip.")
