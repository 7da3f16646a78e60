"""Process placement: device choice, ``torchrun`` environment, process group, DDP unwrapping.

Distributed training uses ``torch.distributed`` with DDP as launched by ``torchrun`` (it sets
RANK/WORLD_SIZE/LOCAL_RANK): NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os

import torch
from torch import nn


def select_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """'auto' = cuda (this process's local rank) if available, else cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} requested but CUDA is not available (use device: auto)")
    return dev


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


def _init_distributed(device: torch.device, world: int) -> bool:
    import torch.distributed as dist

    if world <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return True


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
