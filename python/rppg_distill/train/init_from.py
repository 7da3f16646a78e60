"""Build a trainer's video model, initialized from ``model.init_from`` when the config sets it.

    self.model = build_student(cfg.model.name, kw, cfg.model.init_from, cfg.data)

``init_from`` may be an imported rPPG-Toolbox model (``rppg-distill import-toolbox -o model.pt``),
the toolbox's released ``.pth`` itself, or a trainer checkpoint; all are read with
``torch.load(weights_only=True)``. The checkpoint's model options fill in what the config's
``model.kwargs`` leave open (the config wins where both say something). Every incompatibility
is a :class:`~rppg_distill.train.config.ConfigError` naming ``model.init_from`` and the problem:
another architecture, parameters that do not fit, or preprocessing (``data.transform``, pulse vs
derivative labels) other than the one the weights were trained with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .config import ConfigError

KEY = "model.init_from"


def read_init_checkpoint(path: str | Path) -> dict[str, Any]:
    """Weights and description of ``path``: {"state", "name", "kwargs", "transform", "output"}
    (transform / output None where the file does not say)."""
    from rppg_distill.models.toolbox_import import (
        IMPORT_FORMAT,
        load_toolbox_checkpoint,
    )

    from .checkpoint import CHECKPOINT_FORMAT

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{KEY}: no such checkpoint file: {path}")
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle with code, a non-torch file: refused, nothing runs
        raise ConfigError(f"{KEY}: {path} is not a weights-only torch checkpoint "
                          f"({type(err).__name__})") from None
    fmt = ckpt.get("format") if isinstance(ckpt, dict) else None
    if fmt == IMPORT_FORMAT:
        return {"state": ckpt["state_dict"], "name": ckpt["model_name"],
                "kwargs": dict(ckpt.get("model_kwargs") or {}),
                "transform": ckpt["config"]["data"]["transform"],
                "output": (ckpt.get("contract") or {}).get("output")
                or ckpt["preprocessing"]["output"]}
    if fmt == CHECKPOINT_FORMAT:
        cfg = ckpt.get("config") or {}
        mcfg, dcfg = cfg.get("model") or {}, cfg.get("data") or {}
        state = (ckpt.get("modules") or {}).get("model")
        if not isinstance(state, dict) or not mcfg.get("name"):
            raise ConfigError(f"{KEY}: {path} is a trainer checkpoint without a video model")
        label = dcfg.get("label_transform") or dcfg.get("transform")
        return {"state": state, "name": mcfg["name"], "kwargs": dict(mcfg.get("kwargs") or {}),
                "transform": dcfg.get("transform"),
                "output": None if label is None else
                ("diff_bvp" if label == "diff_normalized" else "bvp")}
    try:  # a released rPPG-Toolbox state dict
        model, info = load_toolbox_checkpoint(path)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"{KEY}: {err}") from None
    return {"state": model.state_dict(), "name": info["model_name"], "kwargs": info["model_kwargs"],
            "transform": info["preprocessing"]["normalization"],
            "output": info["preprocessing"]["output"]}


def _check_data(src: dict, data, path) -> None:
    if data is None:
        return
    if src["transform"] and data.transform != src["transform"]:
        raise ConfigError(f"{KEY}: {path} was trained on '{src['transform']}' input, the config has "
                          f"data.transform: {data.transform}; set data.transform: "
                          f"{src['transform']}")
    if src["output"]:
        label = data.label_transform or data.transform
        if (label == "diff_normalized") != (src["output"] == "diff_bvp"):
            want = "diff_normalized" if src["output"] == "diff_bvp" else "standardized"
            raise ConfigError(f"{KEY}: {path} predicts {src['output']}, the config's labels are "
                              f"'{label}'; set data.label_transform: {want}")


def build_student(name: str, kwargs: dict | None = None, init_from: str = "", data=None
                  ) -> nn.Module:
    """``build_model(name, **kwargs)``; with ``init_from``, the checkpoint's weights loaded into it.

    Args:
        name: the config's ``model.name``.
        kwargs: the model kwargs the trainer built (``model.kwargs`` plus its own, e.g. img_size).
        init_from: the config's ``model.init_from`` ("" = random initialization).
        data: the config's ``data`` section, to check the preprocessing (None skips the check).

    Raises:
        ConfigError: the checkpoint does not fit the config (the message says how).
    """
    from rppg_distill.models import build_model, resolve_name

    kwargs = dict(kwargs or {})
    if not init_from:
        return build_model(name, **kwargs)
    src = read_init_checkpoint(init_from)
    if resolve_name(src["name"]) != resolve_name(name):
        raise ConfigError(f"{KEY}: {init_from} holds a {src['name']} model, the config builds "
                          f"model.name: {name}")
    _check_data(src, data, init_from)
    try:
        model = build_model(name, **{**src["kwargs"], **kwargs})
    except TypeError as err:
        raise ConfigError(f"{KEY}: cannot build {name} with the checkpoint's options: {err}") from None
    state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in src["state"].items()}
    target = model.state_dict()
    unexpected = [k for k in state if k not in target]
    missing = [k for k in target if k not in state]
    shapes = [f"{k} {tuple(v.shape)} vs {tuple(target[k].shape)}" for k, v in state.items()
              if k in target and tuple(v.shape) != tuple(target[k].shape)]
    for what, items in (("unexpected", unexpected), ("missing", missing),
                        ("shape mismatch (checkpoint vs model)", shapes)):
        if items:
            raise ConfigError(f"{KEY}: {init_from} does not fit {name} with the config's "
                              f"model.kwargs: {len(items)} {what}: "
                              f"{'; '.join(items[:3])}{' ...' if len(items) > 3 else ''}")
    model.load_state_dict(state, strict=False)
    return model
