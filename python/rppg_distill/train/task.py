"""The :class:`Task` protocol: what a trainer hands to :func:`rppg_distill.train.loop.fit`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Task:
    """What a trainer hands to :func:`fit`. Subclass and fill in.

    Attributes:
        model: the network trained by the main optimizer (wrapped in DDP when distributed).
        monitor: the key of :meth:`validate`'s metrics that picks ``checkpoints/best.pt``.
        monitor_mode: ``"min"`` (lower is better) or ``"max"``.
    """

    model: nn.Module
    monitor: str = "loss"
    monitor_mode: str = "min"

    def train_dataset(self) -> torch.utils.data.Dataset:
        raise NotImplementedError

    def configure_optimizers(self, total_steps: int) -> tuple[torch.optim.Optimizer, Any]:
        """Return (optimizer, scheduler or None); the scheduler is stepped once per step."""
        raise NotImplementedError

    def training_step(self, model: nn.Module, batch: Any, step: int) -> tuple[torch.Tensor, dict]:
        """Return (scalar loss, metrics of plain floats or 0-d tensors)."""
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        """Every module whose weights belong in the checkpoint (default: the model)."""
        return {"model": self.model}

    def validate(self, model: nn.Module, epoch: int) -> dict:
        """Optional metrics at the end of each epoch (logged with split='val').

        When they include :attr:`monitor`, the epoch with its best value is kept as ``best.pt``."""
        return {}

    def extra_state(self) -> dict:
        """Anything else to checkpoint (e.g. a meta-optimizer); tensors/numbers/str/list/dict only."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def collate(self, items: list) -> Any:
        return torch.utils.data.default_collate(items)
