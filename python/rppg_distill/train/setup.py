"""Process-wide training setup: threads, seeds, determinism, and mixed precision (AMP).

AMP runs only on CUDA: bfloat16 autocast where the GPU supports it, else float16 with a
``GradScaler``; on CPU autocast and the scaler are disabled and cost nothing.
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import torch

from .config import LoopConfig


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def configure_torch(loop: LoopConfig) -> None:
    """Intra-op threads (0 = torch's default), the global seeds, deterministic algorithms."""
    if loop.num_threads > 0:
        torch.set_num_threads(int(loop.num_threads))
    seed_everything(loop.seed)
    if loop.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass(frozen=True)
class Amp:
    """Mixed-precision settings of one run: the autocast dtype and the loss scaler."""

    enabled: bool
    dtype: torch.dtype
    device_type: str
    scaler: torch.amp.GradScaler

    def autocast(self) -> AbstractContextManager:
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.enabled)


def setup_amp(loop: LoopConfig, device: torch.device) -> Amp:
    enabled = bool(loop.amp and device.type == "cuda")
    dtype = torch.bfloat16 if (enabled and torch.cuda.is_bf16_supported()) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=enabled and dtype == torch.float16)
    return Amp(enabled=enabled, dtype=dtype, device_type=device.type, scaler=scaler)
