"""A tiny task (random tensors, a small MLP with dropout) for exercising the shared loop."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from rppg_distill.train.config import LoopConfig, OptimConfig
from rppg_distill.train.loop import Task, build_optimizer


class SimulatedKill(KeyboardInterrupt):
    """Raised by :class:`TinyTask` to stand for a process killed mid-run."""


def tiny_optim() -> OptimConfig:
    return OptimConfig(name="adamw", lr=1e-2, scheduler="onecycle", grad_clip=1.0)


@dataclass
class TinyConfig:
    """A trainer config as :func:`fit` sees it: ``loop`` and ``optim`` sections, stored whole."""

    loop: LoopConfig
    optim: OptimConfig = field(default_factory=tiny_optim)
    trainer: str = "tiny"


class TinyTask(Task):
    """``nan_at_step``: the loss is NaN from that (1-based) step on; ``kill_at_step``: that step
    raises :class:`SimulatedKill` before it runs, as if the process was killed after the one before."""

    monitor = "mse"

    def __init__(self, device, n=24, nan_at_step=None, optim=None, kill_at_step=None):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
        self.model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
        self.device = device
        self.nan_at_step = nan_at_step
        self.kill_at_step = kill_at_step
        self.optim = optim or tiny_optim()

    def train_dataset(self):
        return torch.utils.data.TensorDataset(self.x, self.y)

    def configure_optimizers(self, total_steps):
        return build_optimizer(self.model.parameters(), self.optim, total_steps)

    def training_step(self, model, batch, step):
        if self.kill_at_step is not None and step + 1 >= self.kill_at_step:
            raise SimulatedKill(f"simulated kill before step {step + 1}")
        x, y = (b.to(self.device) for b in batch)
        loss = nn.functional.mse_loss(model(x), y)
        if self.nan_at_step is not None and step + 1 >= self.nan_at_step:
            loss = loss * float("nan")
        return loss, {"mse": loss.detach()}

    def validate(self, model, epoch):
        model.eval()
        with torch.no_grad():
            return {"mse": nn.functional.mse_loss(model(self.x.to(self.device)), self.y.to(self.device)).item()}
