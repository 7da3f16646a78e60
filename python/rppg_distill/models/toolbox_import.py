"""Load released rPPG-Toolbox checkpoints into this package's models (torch).

rPPG-Toolbox (github ubicomplab/rPPG-Toolbox) publishes PhysNet, FactorizePhys and EfficientPhys
weights as bare state dicts. :func:`load_toolbox_checkpoint` reads one with
``torch.load(weights_only=True)`` only (a pickle that would run code is refused, never executed),
tells the architecture from its keys (or checks the one given), renames the parameters onto
:class:`~rppg_distill.models.PhysNet`, :class:`~rppg_distill.models.FactorizePhys` or
:class:`~rppg_distill.models.EfficientPhysC`, and returns the model in eval mode together with the
toolbox's test-time preprocessing (:data:`TOOLBOX_PREPROCESSING`, from its
``configs/infer_configs/PURE_UBFC-rPPG_*.yaml``).

    model, info = load_toolbox_checkpoint("PURE_PhysNet_DiffNormalized.pth")
    save_imported_checkpoint(model, info, "physnet_pure.pt")   # self-describing, for training

Every problem with the file is a ``ValueError`` (``FileNotFoundError`` for a missing file) whose
one-line message names the file and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn

TOOLBOX_ARCHS = ("physnet", "factorizephys", "efficientphys")
IMPORT_FORMAT = "rppg-distill-toolbox-import"
IMPORT_VERSION = 1

# The toolbox's test-time settings per architecture (its infer configs for the PURE-trained
# models). normalization / output use the package's contract names.
TOOLBOX_PREPROCESSING: dict[str, dict] = {
    "physnet": {  # PURE_UBFC-rPPG_PHYSNET_BASIC.yaml
        "frames": 128, "normalization": "diff_normalized", "output": "diff_bvp",
        "face_box_coef": 1.5, "detect_every": 0, "face_detector": "haar", "fs": 30.0, "size": 72},
    "factorizephys": {  # PURE_UBFC-rPPG_FactorizePhys_FSAM_Res.yaml (detector there: YOLO5Face)
        "frames": 160, "normalization": "raw", "output": "bvp",
        "face_box_coef": 1.5, "detect_every": 30, "face_detector": "yolo5face", "fs": 30.0,
        "size": 72},
    "efficientphys": {  # PURE_UBFC-rPPG_EFFICIENTPHYS.yaml
        "frames": 180, "normalization": "standardized", "output": "diff_bvp",
        "face_box_coef": 1.5, "detect_every": 0, "face_detector": "haar", "fs": 30.0, "size": 72},
}

# the package model (registry name) that each toolbox architecture maps onto
PACKAGE_ARCH = {"physnet": "physnet", "factorizephys": "factorizephys",
                "efficientphys": "efficientphys_c"}


# ----------------------------------------------------------------------------- name maps
def _physnet_name(key: str) -> str | None:
    m = re.fullmatch(r"ConvBlock([1-9])\.(\d)\.(.+)", key)
    if m:
        return f"block{m[1]}.{m[2]}.{m[3]}"
    m = re.fullmatch(r"upsample(2?)\.(\d)\.(.+)", key)
    if m:
        return f"up{2 if m[1] else 1}.{m[2]}.{m[3]}"
    m = re.fullmatch(r"ConvBlock10\.(weight|bias)", key)
    return f"head.{m[1]}" if m else None


def _factorizephys_name(key: str) -> str | None:
    m = re.fullmatch(r"rppg_feature_extractor\.FeatureExtractor\.(\d)\.conv_block_3d\.0\.weight", key)
    if m:
        return f"extractor.{m[1]}.0.weight"
    m = re.fullmatch(r"rppg_head\.conv_block\.(\d)\.conv_block_3d\.0\.weight", key)
    if m:
        return f"head_conv.{m[1]}.0.weight"
    m = re.fullmatch(r"rppg_head\.final_layer\.([01])\.conv_block_3d\.0\.weight", key)
    if m:
        return f"final.{m[1]}.0.weight"
    fixed = {
        "rppg_head.final_layer.2.weight": "final.2.weight",
        "rppg_head.fsam.pre_conv_block.0.weight": "fsam.pre.0.weight",
        "rppg_head.fsam.pre_conv_block.0.bias": "fsam.pre.0.bias",
        "rppg_head.fsam.post_conv_block.0.conv.weight": "fsam.post.0.weight",
        "rppg_head.fsam.post_conv_block.1.weight": "fsam.post.2.weight",
        "rppg_head.bias1": "bias1",
    }
    return fixed.get(key)


_EFFICIENTPHYS_FIXED = {"batch_norm": "input_bn", "apperance_att_conv1": "attention_conv1",
                        "apperance_att_conv2": "attention_conv2", "final_dense_1": "dense1",
                        "final_dense_2": "dense2"}


def _efficientphys_name(key: str) -> str | None:
    module, _, leaf = key.rpartition(".")
    if re.fullmatch(r"motion_conv[1-4]", module):
        return key
    return f"{_EFFICIENTPHYS_FIXED[module]}.{leaf}" if module in _EFFICIENTPHYS_FIXED else None


NAME_MAPS: dict[str, Callable[[str], str | None]] = {
    "physnet": _physnet_name, "factorizephys": _factorizephys_name,
    "efficientphys": _efficientphys_name}


# ----------------------------------------------------------------------------- reading
def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file as a flat ``{name: tensor}`` dict (weights_only; ``module.``
    prefixes of DataParallel removed; a single ``state_dict`` / ``model_state_dict`` wrapper is
    unwrapped).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a torch file, holds Python objects beyond plain weights (the
            unpickler refuses them: nothing runs), or is not a state dict.
    """
    import pickle

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        if found is None:  # not a pickle at all (e.g. a text file)
            raise ValueError(f"{path}: not a readable torch checkpoint (neither a torch.save "
                             f"archive nor a pickle)") from None
        raise ValueError(f"{path}: refused: the file holds Python objects, not only weights "
                         f"(it names {found[1]}; torch.load(weights_only=True) does not build "
                         f"them, nothing was run)") from None
    except Exception as err:  # zip/pickle format errors: not a torch checkpoint at all
        raise ValueError(f"{path}: not a readable torch checkpoint (neither a torch.save "
                         f"archive nor a pickle: {type(err).__name__})") from None
    if isinstance(obj, dict):
        for wrap in ("state_dict", "model_state_dict"):
            if len(obj) == 1 and isinstance(obj.get(wrap), dict):
                obj = obj[wrap]
    if not isinstance(obj, dict) or not obj:
        what = type(obj).__name__ if not isinstance(obj, dict) else "an empty dict"
        raise ValueError(f"{path}: not a state dict (got {what}); expected a mapping of "
                         f"parameter names to tensors as rPPG-Toolbox saves them")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        k = bad[0]
        raise ValueError(f"{path}: not a state dict: entry {k!r} is a "
                         f"{type(obj[k]).__name__}, not a tensor ({len(bad)} non-tensor entries)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def detect_arch(state: dict[str, torch.Tensor]) -> str | None:
    """The toolbox architecture whose parameter names ``state`` uses, or None if unclear."""
    keys = set(state)
    found = []
    if "ConvBlock1.0.weight" in keys and "ConvBlock10.weight" in keys:
        found.append("physnet")
    if any(k.startswith("rppg_feature_extractor.") for k in keys):
        found.append("factorizephys")
    if {"motion_conv1.weight", "final_dense_1.weight", "batch_norm.weight"} <= keys:
        found.append("efficientphys")
    return found[0] if len(found) == 1 else None


def _check_arch(arch: str) -> str:
    key = arch.strip().lower().replace("-", "").replace("_", "")
    key = {"efficientphysc": "efficientphys"}.get(key, key)
    if key not in TOOLBOX_ARCHS:
        raise ValueError(f"unknown toolbox architecture {arch!r}; known: {', '.join(TOOLBOX_ARCHS)}")
    return key


# ----------------------------------------------------------------------------- models
def _shape(state, key):
    t = state.get(key)
    return tuple(t.shape) if t is not None else None


def toolbox_model_kwargs(arch: str, state: dict[str, torch.Tensor]) -> dict:
    """Constructor kwargs of the package model that reproduces the toolbox model of ``state``."""
    prep = TOOLBOX_PREPROCESSING[arch]
    if arch == "physnet":
        w = _shape(state, "ConvBlock1.0.weight")
        return {"frames": prep["frames"], "in_channels": w[1] if w else 3}
    if arch == "factorizephys":
        w = _shape(state, "rppg_feature_extractor.FeatureExtractor.0.conv_block_3d.0.weight")
        cin = w[1] if w else 3
        if cin not in (1, 3):
            raise ValueError(f"FactorizePhys with in_channels={cin} (RGB + thermal) is not "
                             f"supported; only 1 or 3 channels")
        has_fsam = any(k.startswith("rppg_head.fsam.") for k in state)
        # the toolbox's test configs switch FSAM off (MD_FSAM: False); the trained FSAM weights
        # are kept so that fine-tuning (FSAM on in training) starts from them
        return {"frames": prep["frames"], "in_channels": cin, "img_size": prep["size"],
                "use_fsam": has_fsam, "input_norm": True, "fsam_post": "conv_relu_conv",
                "fsam_at_inference": False, "nmf_init": "ones", "nmf_layout": "toolbox",
                "fsam_residual": True}
    w = _shape(state, "final_dense_1.weight")
    sizes = {3136: 36, 16384: 72, 30976: 96}  # the toolbox's EfficientPhys input sizes
    size = sizes.get(w[1]) if w else prep["size"]
    if size is None:
        raise ValueError(f"EfficientPhys final_dense_1 has {w[1]} inputs; the toolbox defines "
                         f"it only for 36, 72 or 96 pixel inputs ({sorted(sizes)})")
    kw = {"img_size": size, "frame_depth": 10}
    c1 = _shape(state, "motion_conv1.weight")
    c3 = _shape(state, "motion_conv3.weight")
    if c1 and c3:
        kw.update(in_channels=c1[1], nb_filters1=c1[0], nb_filters2=c3[0], kernel_size=c1[2])
    if w:
        kw["nb_dense"] = w[0]
    return kw


def map_state_dict(arch: str, state: dict[str, torch.Tensor], model: nn.Module,
                   source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Rename ``state`` (toolbox names) onto ``model``; check that every key maps and fits.

    Raises:
        ValueError: unknown keys, missing keys or shape mismatches (the first few are named).
    """
    rename = NAME_MAPS[arch]
    target = model.state_dict()
    out, unknown, shapes = {}, [], []
    for k, v in state.items():
        name = rename(k)
        if name is None or name not in target:
            unknown.append(k)
            continue
        if tuple(v.shape) != tuple(target[name].shape):
            shapes.append(f"{k} {tuple(v.shape)} vs {tuple(target[name].shape)}")
            continue
        out[name] = v
    if unknown:
        raise ValueError(f"{source}: {len(unknown)} unexpected key(s) for toolbox {arch}: "
                         f"{', '.join(unknown[:4])}{' ...' if len(unknown) > 4 else ''}")
    if shapes:
        raise ValueError(f"{source}: {len(shapes)} shape mismatch(es) for toolbox {arch} "
                         f"(checkpoint vs model): {'; '.join(shapes[:3])}")
    optional = {"bias1"}  # the toolbox's FSAM bias is a constant 1.0 when trained on a GPU
    missing = [k for k in target if k not in out and k not in optional]
    if missing:
        raise ValueError(f"{source}: {len(missing)} parameter(s) missing for toolbox {arch} "
                         f"(package names): "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    return out


def load_toolbox_checkpoint(path: str | Path, arch: str | None = None
                            ) -> tuple[nn.Module, dict]:
    """Build the package model holding a released rPPG-Toolbox checkpoint.

    Args:
        path: the ``.pth`` file (a bare state dict; ``module.`` prefixes are fine).
        arch: ``physnet`` | ``factorizephys`` | ``efficientphys``; None = tell from the keys.

    Returns:
        (model in eval mode, info) with info = {"arch": toolbox arch, "model_name": package
        registry name, "model_kwargs", "preprocessing": TOOLBOX_PREPROCESSING[arch], "source"}.
    """
    from rppg_distill.models import build_model

    if arch is not None:
        arch = _check_arch(arch)
    state = read_state_dict(path)
    found = detect_arch(state)
    if arch is None:
        if found is None:
            raise ValueError(f"{path}: cannot tell the architecture from its keys (e.g. "
                             f"{next(iter(state))!r}); name it (--arch): "
                             f"{', '.join(TOOLBOX_ARCHS)}")
        arch = found
    kwargs = toolbox_model_kwargs(arch, state)
    model = build_model(PACKAGE_ARCH[arch], **kwargs)
    mapped = map_state_dict(arch, state, model, source=str(path))
    model.load_state_dict(mapped, strict=False)  # strictness checked by map_state_dict
    info = {"arch": arch, "model_name": PACKAGE_ARCH[arch], "model_kwargs": kwargs,
            "preprocessing": dict(TOOLBOX_PREPROCESSING[arch]),
            "source": {"file": Path(path).name, "toolbox": "ubicomplab/rPPG-Toolbox",
                       "n_tensors": len(state)}}
    return model.eval(), info


def save_imported_checkpoint(model: nn.Module, info: dict, path: str | Path,
                             contract: dict | None = None) -> Path:
    """Write a self-describing checkpoint (plain types only, readable with weights_only=True):
    ``state_dict``, ``model_name``, ``model_kwargs``, ``config`` (data settings the trainers and
    ``rppg-distill export`` read), ``preprocessing``, ``contract`` and ``source``."""
    from rppg_distill.train.checkpoint import atomic_torch_save

    prep = info["preprocessing"]
    payload = {
        "format": IMPORT_FORMAT, "format_version": IMPORT_VERSION,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "model_name": info["model_name"], "model_kwargs": dict(info["model_kwargs"]),
        "config": {"model": {"name": info["model_name"], "kwargs": dict(info["model_kwargs"])},
                   "data": {"clip_len": prep["frames"], "transform": prep["normalization"],
                            "fs": prep["fs"], "img_size": prep["size"]}},
        "preprocessing": dict(prep), "contract": dict(contract or {}),
        "source": dict(info.get("source", {})), "toolbox_arch": info["arch"],
    }
    return atomic_torch_save(payload, path)
