"""The shared training loop: seeds, device, AMP, DDP, logging, curves, checkpoints, resume.

A trainer describes *what* to train as a :class:`Task`; :func:`fit` does the rest the same way for
every scheme (nanoGPT-style: one loop, read top to bottom).

Checkpoints describe themselves (config, step, epoch, optimizer/scheduler/scaler/RNG state,
versions, metrics), are written atomically (temp file + ``os.replace``) and are read with
``torch.load(weights_only=True)``: they hold only tensors, numbers, strings, lists and dicts.

Resume is exact: the data order is a seeded permutation per epoch (no global RNG involved), the RNG
states are restored at the step boundary, and a resumed run skips the batches already done, so it
reaches the same weights as an uninterrupted run with the same seed (with ``num_workers=0``, or with
transforms that seed themselves from the sample index).

Distributed training uses ``torch.distributed`` with DDP as launched by ``torchrun`` (it sets
RANK/WORLD_SIZE/LOCAL_RANK): NCCL on CUDA, gloo on CPU. Rank 0 writes logs and checkpoints.

The pieces live beside this file and are re-exported here, so ``rppg_distill.train.loop`` stays the
one import path: :mod:`.task` (the :class:`Task` protocol), :mod:`.checkpoint` (atomic save, safe
load, RNG state), :mod:`.metrics_log` (JSONL/CSV/PNG curves), :mod:`.distributed` (device, process
group, DDP unwrapping).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, atomic_torch_save, get_rng_state,
                         load_checkpoint, set_rng_state, versions)
from .config import LoopConfig, OptimConfig
from .distributed import _dist_info, _init_distributed, select_device, unwrap
from .metrics_log import MetricsLog, _plain
from .task import Task

__all__ = [
    "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "FitResult", "MetricsLog", "NonFiniteLossError", "Task",
    "atomic_torch_save", "batches_for_epoch", "build_optimizer", "epoch_order", "fit", "get_rng_state",
    "load_checkpoint", "select_device", "seed_everything", "set_rng_state", "unwrap", "versions",
]


class NonFiniteLossError(RuntimeError):
    """Training stopped because the loss (or the gradient norm) became NaN or inf."""


# ----------------------------------------------------------------------------- helpers
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


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


# ----------------------------------------------------------------------------- fit
@dataclass
class FitResult:
    out_dir: Path
    checkpoint: Path | None
    step: int
    epoch: int
    metrics: dict = field(default_factory=dict)        # last train metrics + last validation
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def fit(build_task: Callable[[torch.device], Task], loop: LoopConfig, config: dict, *,
        resume: bool = False, out_dir: str | Path | None = None, log: Callable[[str], None] = print,
        _crash_after_step: int | None = None) -> FitResult:
    """Train ``build_task(device)`` with the shared loop.

    Args:
        build_task: called once, after seeding, with the chosen device; returns the :class:`Task`.
        loop: loop settings (epochs, batch size, seed, device, AMP, checkpoints, ...).
        config: the full effective config (a plain dict), stored in every checkpoint.
        resume: continue from ``<out_dir>/checkpoints/last.pt`` if it exists.
        out_dir: overrides ``loop.out_dir``.
        _crash_after_step: testing only; raise after this global step as if the process was killed.

    Raises:
        NonFiniteLossError: the loss or gradient norm became NaN/inf; ``last_good.pt`` holds the
            state before the failing step.
    """
    t_start = time.time()
    out = Path(out_dir or loop.out_dir)
    rank, world, local_rank = _dist_info()
    device = select_device(loop.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    distributed = _init_distributed(device, world)
    is_main = rank == 0
    ckpt_dir = out / "checkpoints"
    last_path = ckpt_dir / "last.pt"

    if loop.num_threads > 0:
        torch.set_num_threads(int(loop.num_threads))
    seed_everything(loop.seed)
    if loop.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    task = build_task(device)
    model = task.model.to(device)
    for m in task.modules().values():
        m.to(device)
    dataset = task.train_dataset()
    n_items = len(dataset)
    if n_items == 0:
        raise ValueError("the training set is empty (check the data config and the preprocessing report)")
    steps_per_epoch = math.ceil(math.ceil(n_items / world) / loop.batch_size)
    total_steps = steps_per_epoch * loop.epochs
    if loop.max_steps > 0:
        total_steps = min(total_steps, loop.max_steps)
    optimizer, scheduler = task.configure_optimizers(total_steps)
    use_amp = bool(loop.amp and device.type == "cuda")
    amp_dtype = torch.bfloat16 if (use_amp and torch.cuda.is_bf16_supported()) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    grad_clip = float(config.get("optim", {}).get("grad_clip", 0.0) or 0.0)

    train_model: nn.Module = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    step = 0
    epoch = 0
    step_in_epoch = 0
    metrics_log = MetricsLog(out, enabled=is_main)
    last_metrics: dict = {}

    def state_dict(tag_epoch: int, tag_step_in_epoch: int) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
            "config": config, "step": step, "epoch": tag_epoch, "step_in_epoch": tag_step_in_epoch,
            "steps_per_epoch": steps_per_epoch, "world_size": world,
            "modules": {k: m.state_dict() for k, m in task.modules().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "extra": task.extra_state(), "rng": get_rng_state(), "versions": versions(),
            "metrics": {k: _plain(v) for k, v in last_metrics.items()},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }

    def save(path: Path, tag_epoch: int, tag_step_in_epoch: int) -> None:
        if is_main:
            atomic_torch_save(state_dict(tag_epoch, tag_step_in_epoch), path)
            metrics_log.write_csv()
        if distributed:
            torch.distributed.barrier()

    if resume and last_path.exists():
        ckpt = load_checkpoint(last_path, map_location=device)
        if ckpt.get("world_size", 1) != world:
            log(f"warning: resuming a run saved with world size {ckpt.get('world_size')} on {world}; "
                "the data order will differ from an uninterrupted run")
        for k, m in task.modules().items():
            m.load_state_dict(ckpt["modules"][k])
        optimizer.load_state_dict(ckpt["optimizer"])
        if scheduler is not None and ckpt.get("scheduler") is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(ckpt["scaler"])
        task.load_extra_state(ckpt.get("extra") or {})
        set_rng_state(ckpt["rng"])
        step, epoch, step_in_epoch = ckpt["step"], ckpt["epoch"], ckpt["step_in_epoch"]
        last_metrics = dict(ckpt.get("metrics") or {})
        metrics_log.truncate_after(step)
        log(f"resumed from {last_path} at step {step} (epoch {epoch}, batch {step_in_epoch})")
    elif resume:
        log(f"--resume: no checkpoint at {last_path}; starting from scratch")
    if is_main and not resume:
        out.mkdir(parents=True, exist_ok=True)
        if metrics_log.jsonl.exists():
            metrics_log.jsonl.unlink()
    if is_main:
        import yaml

        out.mkdir(parents=True, exist_ok=True)
        with open(out / "config.yaml", "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)

    params_to_clip = [p for g in optimizer.param_groups for p in g["params"]]
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        tqdm = None

    acc: dict[str, list[float]] = {}
    done = loop.max_steps > 0 and step >= loop.max_steps
    while epoch < loop.epochs and not done:
        batches = batches_for_epoch(n_items, loop.batch_size, loop.seed, epoch, rank, world)
        todo = batches[step_in_epoch:]
        # a private generator: creating the iterator must not draw from the global RNG (that would
        # make a run resumed mid-epoch diverge), and worker seeds depend on (seed, epoch) only
        gen = torch.Generator().manual_seed(int(loop.seed) * 7919 + epoch)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=todo, num_workers=loop.num_workers,
                                             collate_fn=task.collate, generator=gen)
        bar = None
        if tqdm is not None and loop.progress and is_main:
            bar = tqdm(total=len(batches), initial=step_in_epoch, desc=f"epoch {epoch + 1}/{loop.epochs}",
                       leave=False, dynamic_ncols=True, disable=None)
        train_model.train()
        for batch in loader:
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                loss, metrics = task.training_step(train_model, batch, step)
            finite = torch.isfinite(loss.detach()).all()
            if distributed:
                flag = finite.float().to(device)
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
                finite = bool(flag.item() > 0)
            if not bool(finite):
                bad = ckpt_dir / "last_good.pt"
                save(bad, epoch, step_in_epoch)
                comps = ", ".join(f"{k}={_plain(v):.4g}" for k, v in metrics.items()
                                  if isinstance(_plain(v), float))
                raise NonFiniteLossError(
                    f"loss became {loss.detach().float().item()} at step {step + 1} (epoch {epoch + 1}, "
                    f"batch {step_in_epoch + 1}){' [' + comps + ']' if comps else ''}; training stopped. "
                    f"The last good state (before this step) is in {bad}. Check the input data and "
                    f"lower optim.lr or raise optim.grad_clip.")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            gnorm = None
            if grad_clip > 0:
                scaler.unscale_(optimizer)
                gnorm = torch.nn.utils.clip_grad_norm_(params_to_clip, grad_clip)
                if not scaler.is_enabled() and not torch.isfinite(gnorm):
                    optimizer.zero_grad(set_to_none=True)
                    bad = ckpt_dir / "last_good.pt"
                    save(bad, epoch, step_in_epoch)
                    raise NonFiniteLossError(
                        f"gradient norm became {gnorm.item()} at step {step + 1} (epoch {epoch + 1}); "
                        f"training stopped. The last good state is in {bad}.")
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None:
                scheduler.step()
            step += 1
            step_in_epoch += 1
            row = {"loss": loss.detach().float().item(), **{k: _plain(v) for k, v in metrics.items()}}
            if gnorm is not None:
                row["grad_norm"] = float(gnorm)
            for k, v in row.items():
                if isinstance(v, (int, float)):
                    acc.setdefault(k, []).append(float(v))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4f}")
            if step % max(loop.log_every, 1) == 0 or step_in_epoch == len(batches):
                last_metrics = {k: float(np.mean(v)) for k, v in acc.items()}
                metrics_log.write({"step": step, "epoch": epoch + step_in_epoch / len(batches),
                                   "split": "train", "lr": optimizer.param_groups[0]["lr"],
                                   **last_metrics, "time": time.time() - t_start})
                acc = {}
            end_of_epoch = step_in_epoch == len(batches)
            if end_of_epoch:
                val = task.validate(model, epoch)
                train_model.train()
                if val:
                    last_metrics.update({f"val_{k}": _plain(v) for k, v in val.items()})
                    metrics_log.write({"step": step, "epoch": epoch + 1, "split": "val", **val})
            done = loop.max_steps > 0 and step >= loop.max_steps
            if end_of_epoch:
                save(last_path, epoch + 1, 0)
            elif loop.checkpoint_every > 0 and step % loop.checkpoint_every == 0:
                save(last_path, epoch, step_in_epoch)
            elif done:
                save(last_path, epoch, step_in_epoch)
            if _crash_after_step is not None and step >= _crash_after_step:
                raise KeyboardInterrupt(f"simulated kill after step {step}")
            if done:
                break
        if bar is not None:
            bar.close()
        if step_in_epoch == len(batches):
            epoch += 1
            step_in_epoch = 0
    if is_main:
        metrics_log.write_csv()
        if loop.plots:
            try:
                metrics_log.plot()
            except Exception as err:  # plots never kill a finished run
                log(f"warning: could not draw curves: {err}")
    return FitResult(out_dir=out, checkpoint=last_path if last_path.exists() else None, step=step,
                     epoch=epoch, metrics=last_metrics, history=metrics_log.rows(),
                     seconds=time.time() - t_start)
