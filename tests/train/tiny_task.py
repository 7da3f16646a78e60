"""A tiny task (random tensors, a small MLP with dropout) for exercising the shared loop."""

from __future__ import annotations

import torch
from torch import nn

from rppg_distill.train.config import OptimConfig
from rppg_distill.train.loop import Task, build_optimizer


class TinyTask(Task):
    def __init__(self, device, n=24, nan_at_step=None, optim=None):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ torch.randn(8, 1, generator=g) + 0.1 * torch.randn(n, 1, generator=g)
        self.model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
        self.device = device
        self.nan_at_step = nan_at_step
        self.optim = optim or OptimConfig(name="adamw", lr=1e-2, scheduler="onecycle")

    def train_dataset(self):
        return torch.utils.data.TensorDataset(self.x, self.y)

    def configure_optimizers(self, total_steps):
        return build_optimizer(self.model.parameters(), self.optim, total_steps)

    def training_step(self, model, batch, step):
        x, y = (b.to(self.device) for b in batch)
        loss = nn.functional.mse_loss(model(x), y)
        if self.nan_at_step is not None and step + 1 >= self.nan_at_step:
            loss = loss * float("nan")
        return loss, {"mse": loss.detach()}

    def validate(self, model, epoch):
        model.eval()
        with torch.no_grad():
            return {"mse": nn.functional.mse_loss(model(self.x.to(self.device)), self.y.to(self.device)).item()}


def config_dict(loop) -> dict:
    import dataclasses

    return {"trainer": "tiny", "loop": dataclasses.asdict(loop), "optim": {"grad_clip": 1.0}}
