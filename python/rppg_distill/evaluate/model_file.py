"""A model file to evaluate: a trainer checkpoint or an exported ONNX, with what its clips must
look like (length, crop size, transforms, frame rate) and its HR protocol.

- Checkpoint (``train/checkpoint.py`` format, ``torch.load(weights_only=True)`` through
  ``deploy.export.load_checkpoint_model``): the config saved with it gives the model, ``data``
  (clip_len, img_size, transform, label_transform, fs), ``eval`` (band, resolution) and the
  trainer, whose protocol is the default (``crossview`` or ``rpm_distill``).
- ONNX: the preprocessing contract (``deploy.contract``) gives the same, run by onnxruntime
  (``deploy.ort_runner.OrtRunner``) behind :class:`OnnxModel`; the default protocol is
  ``crossview`` (an ONNX does not say which trainer made it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rppg_distill.signal.protocols import HRProtocol, get_protocol

TRAINER_PROTOCOL = {"crossview": "crossview", "crossmodal": "rpm_distill"}


class OnnxModel(torch.nn.Module):
    """An ``OrtRunner`` as a module [B, C, T, H, W] -> [B, T] for ``evaluate.predict`` (CPU
    tensors in and out; a fixed-batch model gets its last batch padded)."""

    def __init__(self, runner):
        super().__init__()
        self.runner = runner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x.detach().cpu().numpy().astype(np.float32, copy=False)
        n, fixed = a.shape[0], self.runner.batch
        if fixed is not None and n != fixed:
            if n > fixed:
                return torch.cat([self.forward(x[i:i + fixed]) for i in range(0, n, fixed)])
            a = np.concatenate([a, np.zeros((fixed - n, *a.shape[1:]), np.float32)])
        return torch.from_numpy(self.runner.run(a)[:n].copy())


@dataclass
class ModelFile:
    """A loaded model and the clips it expects."""

    model: torch.nn.Module
    kind: str                              # "checkpoint" | "onnx"
    path: Path
    clip_len: int
    img_size: int
    transform: str                         # the frames' transform
    label_transform: str                   # the labels' (and outputs') space
    fs: float                              # the model's frame rate
    band: tuple[float, float] | None       # None: the protocol's own
    resolution_bpm: float | None           # None: the protocol's own
    trainer: str | None = None             # "crossview" | "crossmodal" | None (ONNX)
    config: dict = field(default_factory=dict)    # the trainer config (checkpoints)
    contract: dict = field(default_factory=dict)  # the preprocessing contract (ONNX)
    step: int | None = None
    batch_size: int | None = None          # a fixed-batch ONNX

    @property
    def default_protocol(self) -> str:
        return TRAINER_PROTOCOL.get(self.trainer or "", "crossview")

    def protocol(self, name: str | None = None) -> HRProtocol:
        """The HR protocol ``name`` (default: the trainer's) with the model's band and resolution:
        what the trainers' own ``hr_protocol(cfg)`` builds."""
        changes: dict = {}
        if self.band is not None:
            changes["band"] = (float(self.band[0]), float(self.band[1]))
        if self.resolution_bpm is not None:
            changes["resolution_bpm"] = self.resolution_bpm
        return get_protocol(name or self.default_protocol).with_(**changes)


def load_model_file(path, *, device: str | torch.device = "cpu", providers=None) -> ModelFile:
    """Load a checkpoint (``.pt``/``.pth``/anything else) or an ONNX (``.onnx``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a corrupt file, a weights file without the trainer's config, an ONNX without
            a contract, or weights that do not fit the configured model (one line each).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.suffix.lower() == ".onnx":
        return _load_onnx(path, providers)
    return _load_checkpoint(path, torch.device(device))


def _load_checkpoint(path: Path, device: torch.device) -> ModelFile:
    from rppg_distill.deploy.export import load_checkpoint_model

    try:
        model, info = load_checkpoint_model(path)
    except RuntimeError as err:   # load_state_dict: weights that do not fit the configured model
        _check_config(torch.load(path, map_location="cpu", weights_only=True).get("config"), path)
        raise ValueError(f"{path}: the weights do not fit the model its config describes: "
                         f"{str(err).splitlines()[0][:200]}") from None
    cfg = info.get("config")
    _check_config(cfg, path)
    data = cfg["data"]
    ev = cfg.get("eval") or {}
    label = data.get("label_transform") or data["transform"]
    return ModelFile(model=model.to(device).eval(), kind="checkpoint", path=path,
                     clip_len=int(data["clip_len"]), img_size=int(data.get("img_size", 72)),
                     transform=data["transform"], label_transform=label, fs=float(data["fs"]),
                     band=tuple(ev["band"]) if ev.get("band") else None,
                     resolution_bpm=ev.get("resolution_bpm"), trainer=cfg.get("trainer"), config=cfg,
                     step=info.get("step"))


def _check_config(cfg, path: Path) -> None:
    data = cfg.get("data") if isinstance(cfg, dict) else None
    if not isinstance(data, dict) or not data.get("transform") or not data.get("clip_len"):
        raise ValueError(f"{path}: holds weights but not the trainer's config (data.transform, "
                         "clip_len, fs); evaluate needs a trainer checkpoint or an exported ONNX")


def _load_onnx(path: Path, providers) -> ModelFile:
    from rppg_distill.deploy.ort_runner import OrtRunner

    runner = OrtRunner(path, providers=providers or "cpu")
    c = runner.contract
    if c.height != c.width:
        raise ValueError(f"{path}: contract crop {c.height}x{c.width} is not square; the clip cache "
                         "holds square crops")
    return ModelFile(model=OnnxModel(runner), kind="onnx", path=path, clip_len=int(c.frames),
                     img_size=int(c.height), transform=c.normalization,
                     label_transform="diff_normalized" if c.output == "diff_bvp" else "standardized",
                     fs=float(c.fs), band=tuple(c.band), resolution_bpm=None, contract=c.to_dict(),
                     batch_size=runner.batch)
