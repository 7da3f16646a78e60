"""What ``--resume`` accepts: the checkpoint's config against the new one.

A resumed run continues the checkpoint's optimizer, scheduler, data order and weights, so a
config that differs from the checkpoint's would be partly ignored (a new ``optim.lr`` is
overwritten by the restored optimizer state) or break the run (a one-cycle schedule built for
fewer steps raises after them). :func:`review_changes` sorts each differing key:

- no effect on the weights (logging, devices, workers, the list of seeds): accepted;
- a step limit (``loop.epochs``, ``loop.max_steps``): accepted when the learning-rate schedule
  does not depend on it (same total steps, or no scheduler) and work is left;
- fixed for a run (model, data, batch size, seed, scheme/mode, optimizer and scheduler type, and
  the optimizer's ``lr``/``weight_decay`` under a scheduler): refused, start a new ``out_dir``;
- anything else (loss weights, augmentation, ``optim.lr`` without a scheduler, ...): refused
  unless named in ``--allow-config-change`` (:class:`Resume`), then used from here on and
  recorded in ``<out_dir>/config_changes.jsonl``.

A refusal is one :class:`ResumeError` line that lists every differing key with its reason.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ConfigChange", "Resume", "ResumeError", "config_diff", "record_changes", "review_changes"]


class ResumeError(ValueError):
    """``--resume`` cannot continue this checkpoint with this config or model (names why)."""


@dataclass(frozen=True)
class Resume:
    """``fit(resume=Resume(allow_changes=("lam",)))``: resume, accepting new values for these
    config keys (dotted; a section name such as ``"policy"`` covers its keys). Truthy, so it
    passes through code that takes ``resume: bool``."""

    allow_changes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class ConfigChange:
    key: str
    old: Any
    new: Any
    how: str  # "harmless" | "limit" | "override"


_MISSING = "<absent>"
_HARMLESS = ("loop.progress", "loop.plots", "loop.log_every", "loop.checkpoint_every",
             "loop.num_workers", "loop.num_threads", "loop.device", "loop.out_dir", "seeds",
             "lambda_sweep", "run_lambda_sweep", "log_policy")
_FIXED = ("trainer", "scheme", "mode", "model", "loop.batch_size", "loop.seed", "optim.name",
          "optim.scheduler", "policy.enabled", "policy.bilevel", "policy.rank", "policy.lr", "data")
_MOVABLE = ("data.root", "data.cache_dir")       # where the same data lives: overridable
_LIMITS = ("loop.epochs", "loop.max_steps")
_OPTIMIZER_VALUES = ("optim.lr", "optim.weight_decay")  # restored with the optimizer state


def _under(key: str, prefixes) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(old: dict, new: dict) -> list[tuple[str, Any, Any]]:
    """``(dotted key, old, new)`` for every leaf that differs (tuples and lists compare equal)."""
    a, b = _flatten(old or {}), _flatten(new or {})

    def same(x, y):
        if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            return list(x) == list(y)
        return x == y

    return [(k, a.get(k, _MISSING), b.get(k, _MISSING)) for k in sorted(set(a) | set(b))
            if not same(a.get(k, _MISSING), b.get(k, _MISSING))]


def _total_steps(loop: dict, steps_per_epoch: int) -> int:
    """The schedule length :func:`~rppg_distill.train.loop.fit` builds for a loop section."""
    total = steps_per_epoch * int(loop.get("epochs", 0))
    if int(loop.get("max_steps", 0) or 0) > 0:
        total = min(total, int(loop["max_steps"]))
    return total


def review_changes(ckpt: dict, state, allow: tuple[str, ...] = ()) -> list[ConfigChange]:
    """The accepted changes between ``ckpt["config"]`` and ``state.config``; raises ResumeError
    listing every refused one. ``state`` is the fresh :class:`~.state.TrainState` (its
    scheduler, steps per epoch and config)."""
    old_cfg, new_cfg = ckpt.get("config") or {}, state.config
    sched = state.scheduler
    old_total = _total_steps(old_cfg.get("loop", {}), int(ckpt.get("steps_per_epoch", 0)))
    new_total = _total_steps(new_cfg.get("loop", {}), state.steps_per_epoch)
    accepted, refused = [], []
    for key, old, new in config_diff(old_cfg, new_cfg):
        why = None
        if _under(key, _HARMLESS):
            accepted.append(ConfigChange(key, old, new, "harmless"))
            continue
        if _under(key, _FIXED) and not _under(key, _MOVABLE):
            why = "fixed for a run; start a new out_dir"
        elif key in _LIMITS:
            if sched is not None and old_total != new_total:
                why = (f"the {type(sched).__name__} schedule in the checkpoint was built for "
                       f"{old_total} steps, this config needs {new_total}; start a new out_dir")
            else:
                accepted.append(ConfigChange(key, old, new, "limit"))
                continue
        elif key in _OPTIMIZER_VALUES and sched is not None:
            why = (f"the {type(sched).__name__} schedule in the checkpoint sets it for the rest of "
                   "the run; start a new out_dir")
        elif not _under(key, allow):
            why = f"pass --allow-config-change {key} to continue with the new value"
        if why:
            refused.append(f"{key} {_show(old)} -> {_show(new)} ({why})")
        else:
            accepted.append(ConfigChange(key, old, new, "override"))
    if not refused and sched is not None and old_total != new_total:
        refused.append(f"the training set changed: {old_total} -> {new_total} scheduled steps "
                       f"({ckpt.get('steps_per_epoch')} -> {state.steps_per_epoch} per epoch) "
                       f"and the {type(sched).__name__} schedule cannot follow; start a new out_dir")
    if refused:
        raise ResumeError("--resume: the config differs from the checkpoint's: " + "; ".join(refused))
    _check_work_left(ckpt, new_cfg.get("loop", {}), accepted)
    return accepted


def _check_work_left(ckpt: dict, loop: dict, accepted: list[ConfigChange]) -> None:
    """A changed step limit that the checkpoint has already reached would train nothing."""
    if not any(c.how == "limit" for c in accepted):
        return
    epoch, step = int(ckpt.get("epoch", 0)), int(ckpt.get("step", 0))
    max_steps = int(loop.get("max_steps", 0) or 0)
    if epoch >= int(loop.get("epochs", 0)) or (max_steps > 0 and step >= max_steps):
        raise ResumeError(f"--resume: the checkpoint is at epoch {epoch}, step {step}: "
                          f"loop.epochs={loop.get('epochs')}, loop.max_steps={max_steps} leave "
                          "nothing to train")


def _show(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v):
        return f"{v:g}"
    return json.dumps(v) if not isinstance(v, str) else v


def record_changes(path: Path, changes: list[ConfigChange], step: int) -> None:
    """Append the accepted changes that affect the run (limits and overrides) to ``path``."""
    rows = [c for c in changes if c.how != "harmless"]
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%dT%H:%M:%S")
    with open(path, "a") as fh:
        for c in rows:
            fh.write(json.dumps({"time": when, "resumed_at_step": step, "key": c.key, "old": c.old,
                                 "new": c.new, "how": c.how}, default=str) + "\n")
