"""Process placement: device choice, ``torchrun`` environment, process group, DDP wrapping.

Distributed training uses ``torch.distributed`` with DDP as launched by ``torchrun`` (it sets
RANK/WORLD_SIZE/LOCAL_RANK): NCCL on CUDA, gloo on CPU. Rank 0 is the main process: it alone
writes logs, checkpoints and result files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def is_main_process() -> bool:
    """True on rank 0 (and in a plain single-process run): the process that writes files."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return _dist_info()[0] == 0


def write_json_on_main(path: str | Path, obj: Any) -> Path | None:
    """Write ``obj`` as indented JSON (atomically) on rank 0 only; other ranks write nothing.

    For result files (``eval.json``, ``results.json``): under DDP every rank evaluates, one writes.
    Returns the path written, or None on the other ranks.
    """
    if not is_main_process():
        return None
    from rppg_distill.data.atomic import atomic_write_text

    return atomic_write_text(path, json.dumps(obj, indent=1))


@dataclass(frozen=True)
class Placement:
    """Where this process trains: its device and its place in the (possibly 1-process) group."""

    device: torch.device
    rank: int = 0
    world: int = 1
    distributed: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def all_true(self, flag: torch.Tensor | bool) -> bool:
        """``flag`` AND-ed over every rank (one all-reduce when distributed)."""
        if not self.distributed:
            return bool(flag)
        t = torch.as_tensor(flag).float().to(self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MIN)
        return bool(t.item() > 0)


def place_process(device: str = "auto") -> Placement:
    """Pick this process's device (its local rank's GPU under torchrun) and join the process group."""
    rank, world, local_rank = _dist_info()
    dev = select_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return Placement(device=dev, rank=rank, world=world, distributed=_init_distributed(dev, world))


def wrap_ddp(model: nn.Module, placement: Placement) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when distributed, else ``model`` itself."""
    if not placement.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    dev = placement.device
    return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
