"""The data order of a run: a seeded permutation per epoch, sharded by rank, as batches.

No global RNG is involved, so a run resumed mid-epoch sees the same batches as an uninterrupted
one (it skips the ones already done).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    """Seeded permutation for one epoch, padded to a multiple of ``world`` and sharded by rank."""
    g = torch.Generator().manual_seed(int(seed) * 100003 + int(epoch))
    idx = torch.randperm(n, generator=g).tolist()
    if world > 1:
        pad = (-len(idx)) % world
        idx = idx + idx[:pad]
        idx = idx[rank::world]
    return idx


def batches_for_epoch(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                      world: int = 1) -> list[list[int]]:
    idx = epoch_order(n, seed, epoch, rank, world)
    return [idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]


def epoch_loader(dataset, batches: list[list[int]], *, seed: int, epoch: int, num_workers: int,
                 collate: Callable[[list], Any]) -> torch.utils.data.DataLoader:
    """A loader over ``batches`` (the ones still to do in this epoch).

    It owns a private generator: creating the iterator must not draw from the global RNG (that
    would make a run resumed mid-epoch diverge), and worker seeds depend on (seed, epoch) only.
    """
    gen = torch.Generator().manual_seed(int(seed) * 7919 + epoch)
    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=num_workers,
                                       collate_fn=collate, generator=gen)
