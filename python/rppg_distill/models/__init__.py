"""Video pulse models, the radar teacher and the spectral policy network (torch).

All video models take ``x [B, C, T, H, W]`` float32 and return ``[B, T]``.

``build_model(name, **kwargs)`` builds a model by its registry name:

=================  =======================================================
name               class
=================  =======================================================
efficientphys_c    :class:`EfficientPhysC`
factorizephys      :class:`FactorizePhys`
physnet            :class:`PhysNet`
rf_conv_decoder    :class:`RFConvDecoder` (radar ``[B, 10, T]`` -> ``[B, T]``)
spectral_policy    :class:`SpectralPolicy` (``[B, 3, K]`` -> ``(alpha, gate)``)
=================  =======================================================

``INTERNAL_TRANSFORMS`` declares what a video model does to its input itself (the frame
difference of EfficientPhys-C and FactorizePhys); :func:`check_input_transform` refuses a data
transform that would do it a second time (the trainers' configs are checked when they are built).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from .efficientphys import TSM, EfficientPhysC, temporal_difference, temporal_shift
from .factorizephys import FactorizePhys
from .physnet import PhysNet
from .policy import SpectralPolicy
from .radar import RFConvDecoder

MODELS: dict[str, Callable[..., nn.Module]] = {
    "efficientphys_c": EfficientPhysC,
    "factorizephys": FactorizePhys,
    "physnet": PhysNet,
    "rf_conv_decoder": RFConvDecoder,
    "spectral_policy": SpectralPolicy,
}

_ALIASES = {
    "efficientphys": "efficientphys_c",
    "efficientphysc": "efficientphys_c",
    "efficientphys-c": "efficientphys_c",
    "factorizephys_fsam": "factorizephys",
    "rfconvdecoder": "rf_conv_decoder",
    "rf_conv": "rf_conv_decoder",
    "radar": "rf_conv_decoder",
    "policy": "spectral_policy",
}


# What each video model does to its input itself, and the data transform it expects instead.
# EfficientPhys-C and FactorizePhys take the frame difference inside forward()
# (``temporal_difference``); rPPG-Toolbox feeds them Standardized (EfficientPhys) and Raw
# (FactorizePhys: DATA_TYPE ['Raw'], LABEL_TYPE Standardized) frames. PhysNet takes
# DiffNormalized frames in the toolbox and differences nothing itself.
INTERNAL_TRANSFORMS: dict[str, tuple[str, ...]] = {
    "efficientphys_c": ("frame_difference",),
    "factorizephys": ("frame_difference",),
    "physnet": (),
}
EXPECTED_INPUT: dict[str, str] = {"efficientphys_c": "standardized", "factorizephys": "raw",
                                  "physnet": "diff_normalized"}
# what each data transform (rppg_distill.data.transforms) applies to the frames
TRANSFORM_APPLIES: dict[str, tuple[str, ...]] = {"diff_normalized": ("frame_difference",),
                                                 "standardized": (), "raw": ()}


def check_input_transform(name: str, transform) -> None:
    """Refuse a data transform that applies what the model applies to its input itself.

    Args:
        name: model registry name (or alias); models outside ``INTERNAL_TRANSFORMS`` are not checked.
        transform: the data transform name or list of names (``data.transform``).

    Raises:
        ValueError: e.g. FactorizePhys (which differences its frames) given diff_normalized frames;
            the message names the model, the transform and the fix.
    """
    key = resolve_name(name)
    inside = set(INTERNAL_TRANSFORMS.get(key, ()))
    names = [transform] if isinstance(transform, str) else list(transform)
    for t in names:
        twice = inside & set(TRANSFORM_APPLIES.get(t, ()))
        if twice:
            raise ValueError(f"model {key} applies {', '.join(sorted(twice))} to its input itself, and data "
                             f"transform {t!r} applies it too (it would be done twice): set data.transform: "
                             f"{EXPECTED_INPUT[key]}")


def resolve_name(name: str) -> str:
    """The registry name of ``name`` (case-insensitive; ``-`` and ``_`` are interchangeable;
    aliases such as ``efficientphys`` resolve).

    Raises:
        ValueError: for an unknown name (the message lists the known names).
    """
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, _ALIASES.get(key.replace("_", ""), key))
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return key


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a model by registry name (see :func:`resolve_name`).

    Raises:
        ValueError: for an unknown name (the message lists the known names).
    """
    return MODELS[resolve_name(name)](**kwargs)


def input_size_kwargs(name: str, img_size: int) -> dict:
    """``{"img_size": img_size}`` for a model whose constructor takes the input side (EfficientPhys,
    FactorizePhys), else ``{}`` (PhysNet adapts to any side)."""
    import inspect

    params = inspect.signature(MODELS[resolve_name(name)]).parameters
    return {"img_size": int(img_size)} if "img_size" in params else {}


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


__all__ = [
    "EXPECTED_INPUT",
    "INTERNAL_TRANSFORMS",
    "MODELS",
    "TSM",
    "EfficientPhysC",
    "FactorizePhys",
    "PhysNet",
    "RFConvDecoder",
    "SpectralPolicy",
    "build_model",
    "check_input_transform",
    "count_parameters",
    "input_size_kwargs",
    "resolve_name",
    "temporal_difference",
    "temporal_shift",
]
