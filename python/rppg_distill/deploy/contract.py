"""The preprocessing contract a deployed model expects (no torch, no onnx needed).

A model file is useless without knowing how its input was made. The contract travels with every
artifact: in the ONNX ``metadata_props`` (key ``rppg_distill.contract``, JSON), in a sidecar
``<model>.json`` next to the ONNX, and in the header of a TensorRT engine.

Fields:
    model: architecture name (``efficientphys_c``, ...).
    frames: T, the frames per model window.
    height, width: crop size in pixels (72x72 default).
    channels: 3 (RGB order).
    layout: ``NCTHW`` (the package's video layout) — the input is float32 [B, C, T, H, W].
    normalization: ``diff_normalized`` | ``standardized`` | ``raw`` (rPPG-Toolbox definitions,
        computed per window over the T frames; see ``deploy.runtime.preprocess``).
    fs: the frame rate the model was trained at (Hz); the runtime resamples frames to it.
    output: ``bvp`` or ``diff_bvp`` (the model predicts the first difference of the pulse).
    face_box_coef: enlargement of the face box before cropping.
    band: (lo, hi) Hz, the heart-rate band used for the spectral peak.
    precision: ``fp32`` | ``fp16`` | ``int8`` (what the graph computes in).
    batch: an int for a fixed batch, or ``"dynamic"``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

DEFAULT_NORMALIZATION = {"efficientphys_c": "standardized", "physnet": "diff_normalized",
                         "factorizephys": "diff_normalized"}   # checkpoints without a data config

CONTRACT_KEY = "rppg_distill.contract"
CONTRACT_VERSION = 1
NORMALIZATIONS = ("diff_normalized", "standardized", "raw")
INPUT_NAME = "video"
OUTPUT_NAME = "bvp"


@dataclasses.dataclass
class Contract:
    model: str = "efficientphys_c"
    frames: int = 160
    height: int = 72
    width: int = 72
    channels: int = 3
    layout: str = "NCTHW"
    normalization: str = "diff_normalized"
    fs: float = 30.0
    output: str = "bvp"
    face_box_coef: float = 1.5
    band: tuple[float, float] = (0.75, 3.0)
    precision: str = "fp32"
    batch: int | str = "dynamic"
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    version: int = CONTRACT_VERSION
    package_version: str = ""

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"contract normalization {self.normalization!r} is not one of {NORMALIZATIONS}")
        if self.layout != "NCTHW":
            raise ValueError(f"contract layout {self.layout!r} is not supported (only NCTHW)")
        if int(self.frames) < 2 or int(self.height) < 8 or int(self.width) < 8:
            raise ValueError(f"contract sizes are implausible: frames={self.frames} "
                             f"height={self.height} width={self.width}")
        if not float(self.fs) > 0:
            raise ValueError(f"contract fs must be > 0, got {self.fs}")
        self.band = (float(self.band[0]), float(self.band[1]))
        if not self.package_version:
            from rppg_distill import __version__

            self.package_version = __version__

    @classmethod
    def from_train_config(cls, config, *, arch: str | None = None, frames: int | None = None,
                          size: int | None = None, normalization: str | None = None,
                          fs: float | None = None) -> "Contract":
        """The contract of a model trained with ``config``: the one way a checkpoint becomes a
        contract (``rppg-distill export``, the demo and ``deploy.export.export_checkpoint``).

        Args:
            config: the trainer config, as a mapping (a checkpoint's ``"config"``, ``to_dict``) or
                a ``CrossViewConfig``/``CrossModalConfig``; None or {} for a checkpoint without one.
            arch, frames, size, normalization, fs: explicit overrides (the CLI's options).

        Mapping: ``model.name`` -> model, ``data.clip_len`` -> frames, ``data.img_size`` -> height
        and width, ``data.transform`` -> normalization, ``data.fs`` -> fs, ``eval.band`` -> band,
        and ``output = "diff_bvp"`` when the labels were ``diff_normalized``
        (``data.label_transform``, defaulting to ``data.transform``): such a model predicts the
        pulse's frame difference and the runtime must integrate it before reading HR (otherwise it
        reads a harmonic). Without a config: 160 frames, 72x72, 30 fps, the architecture's usual
        normalization, output ``bvp``.
        """
        if config is not None and not isinstance(config, dict):
            from dataclasses import asdict

            config = asdict(config)
        config = config or {}
        model_cfg = config.get("model") or {}
        data = config.get("data") or {}
        ev = config.get("eval") or {}
        name = arch or (model_cfg.get("name") if isinstance(model_cfg, dict) else model_cfg) or cls.model
        transform = normalization or data.get("transform") or DEFAULT_NORMALIZATION.get(name, "diff_normalized")
        labels = data.get("label_transform") or data.get("transform")
        side = int(size or data.get("img_size") or cls.height)
        return cls(model=name, frames=int(frames or data.get("clip_len") or cls.frames), height=side, width=side,
                   normalization=transform, fs=float(fs or data.get("fs") or cls.fs),
                   output="diff_bvp" if labels == "diff_normalized" else "bvp",
                   band=tuple(ev.get("band") or cls.band))

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int, int]:
        return (int(batch), int(self.channels), int(self.frames), int(self.height), int(self.width))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["band"] = list(self.band)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "Contract":
        if not isinstance(d, dict):
            raise ValueError(f"a model contract must be a JSON object, got {type(d).__name__}")
        version = int(d.get("version", 0))
        if version != CONTRACT_VERSION:
            raise ValueError(f"model contract version {version} is not supported by this "
                             f"rppg-distill (expects {CONTRACT_VERSION}); re-export the model")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_json(cls, text: str) -> "Contract":
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"model contract is not valid JSON: {err}") from err


def sidecar_path(model_path: str | Path) -> Path:
    """``student.onnx`` -> ``student.json`` (the contract sidecar)."""
    p = Path(model_path)
    return p.with_suffix(".json")


def write_sidecar(model_path: str | Path, contract: Contract, extra: dict | None = None) -> Path:
    out = sidecar_path(model_path)
    payload = {"contract": contract.to_dict(), **(extra or {})}
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True))
    tmp.replace(out)
    return out


def read_sidecar(model_path: str | Path) -> Contract | None:
    p = sidecar_path(model_path)
    if not p.exists():
        return None
    payload = json.loads(p.read_text())
    return Contract.from_dict(payload.get("contract", payload))


def contract_from_onnx(path: str | Path) -> Contract:
    """Read the contract from an ONNX file's metadata (via onnxruntime, no onnx package needed),
    falling back to the sidecar JSON."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f"{path}: not a loadable ONNX model ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200]})") from err
    meta = sess.get_modelmeta().custom_metadata_map
    if CONTRACT_KEY in meta:
        return Contract.from_json(meta[CONTRACT_KEY])
    side = read_sidecar(path)
    if side is not None:
        return side
    raise ValueError(f"{path}: the ONNX has no '{CONTRACT_KEY}' metadata and no sidecar "
                     f"{sidecar_path(path).name}; export it with `rppg-distill export`")
