"""Optimizer and per-step learning-rate schedule from an :class:`~.config.OptimConfig`."""

from __future__ import annotations

import torch

from .config import OptimConfig


def build_optimizer(params, cfg: OptimConfig, total_steps: int):
    """The configured optimizer and per-step scheduler (OneCycleLR by default, as in paper 1)."""
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.name == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=0.9)
    sched = None
    total_steps = max(int(total_steps), 2)
    if cfg.scheduler == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total_steps)
    elif cfg.scheduler == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    return opt, sched
