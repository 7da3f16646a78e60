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
    detect_every: face detection policy the model was evaluated with: None = the runtime's
        default, 0 = detect once (first frame with a face) and keep that box (rPPG-Toolbox's
        ``DO_DYNAMIC_DETECTION: False``), N = detect every N frames.
    band: (lo, hi) Hz, the heart-rate band used for the spectral peak.
    precision: ``fp32`` | ``fp16`` | ``int8`` (what the graph computes in).
    batch: an int for a fixed batch, or ``"dynamic"``.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
    detect_every: int | None = None
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
        if self.detect_every is not None and int(self.detect_every) < 0:
            raise ValueError(f"contract detect_every must be None or >= 0, got {self.detect_every}")
        self.band = (float(self.band[0]), float(self.band[1]))
        if not self.package_version:
            from rppg_distill import __version__

            self.package_version = __version__

    @classmethod
    def from_train_config(cls, config, *, arch: str | None = None, frames: int | None = None,
                          size: int | None = None, normalization: str | None = None,
                          fs: float | None = None) -> Contract:
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
    def from_dict(cls, d: dict) -> Contract:
        if not isinstance(d, dict):
            raise ValueError(f"a model contract must be a JSON object, got {type(d).__name__}")
        version = d.get("version", 0)
        if version != CONTRACT_VERSION or isinstance(version, bool):
            raise ValueError(f"model contract version {version} is not supported by this "
                             f"rppg-distill (expects {CONTRACT_VERSION}); re-export the model")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in d.items() if k in names}
        check_contract_fields(fields)
        return cls(**fields)

    @classmethod
    def from_json(cls, text: str) -> Contract:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"model contract is not valid JSON: {err}") from err


# Bounds on every size a model file can ask for (a crafted contract must not make `run` allocate
# gigabytes): 10,000 frames is 5.5 minutes at 30 fps per window; 1024 px crops; 1 kHz.
MAX_FRAMES = 10_000
MAX_SIDE = 1024
MAX_FS = 1000.0
MAX_BATCH = 4096
OUTPUTS = ("bvp", "diff_bvp")
PRECISIONS = ("fp32", "fp16", "int8")
REQUIRED = ("frames", "height", "width", "fs", "normalization", "output")


def _int_in(d: dict, key: str, lo: int, hi: int) -> None:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"model contract field {key!r} must be an integer, got {v!r}")
    if not lo <= v <= hi:
        raise ValueError(f"model contract field {key!r}={v} is outside [{lo}, {hi}]")


def _float_in(d: dict, key: str, lo: float, hi: float) -> float:
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"model contract field {key!r} must be a finite number, got {v!r}")
    if not lo < v <= hi:
        raise ValueError(f"model contract field {key!r}={v} is outside ({lo}, {hi}]")
    return float(v)


def check_contract_fields(d: dict) -> None:
    """Type-check and bound the contract fields read from a file (ValueError naming the field).

    Fields that shape the model input (``REQUIRED``) must be present; sizes are bounded by
    ``MAX_FRAMES``, ``MAX_SIDE``, ``MAX_FS`` and ``MAX_BATCH``.
    """
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise ValueError(f"model contract lacks the field(s) {missing}; re-export the model")
    _int_in(d, "frames", 2, MAX_FRAMES)
    for key in ("height", "width"):
        _int_in(d, key, 8, MAX_SIDE)
    if "channels" in d:
        _int_in(d, "channels", 3, 3)
    fs = _float_in(d, "fs", 0.0, MAX_FS)
    if "face_box_coef" in d:
        _float_in(d, "face_box_coef", 0.0, 10.0)
    for key in ("model", "layout", "normalization", "output", "precision", "input_name",
                "output_name", "package_version"):
        if key in d and not isinstance(d[key], str):
            raise ValueError(f"model contract field {key!r} must be a string, got {d[key]!r}")
    if d["output"] not in OUTPUTS:
        raise ValueError(f"model contract output {d['output']!r} is not one of {OUTPUTS}")
    if "precision" in d and d["precision"] not in PRECISIONS:
        raise ValueError(f"model contract precision {d['precision']!r} is not one of {PRECISIONS}")
    if "batch" in d and d["batch"] != "dynamic":
        _int_in(d, "batch", 1, MAX_BATCH)
    if "band" in d:
        band = d["band"]
        ok = (isinstance(band, (list, tuple)) and len(band) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      and math.isfinite(v) for v in band))
        if not ok or not 0 <= band[0] < band[1] <= fs / 2:
            raise ValueError(f"model contract band must be [lo, hi] Hz with 0 <= lo < hi <= "
                             f"fs/2 = {fs / 2:g}, got {band!r}")


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
    try:
        payload = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{p}: model contract sidecar is not valid JSON: {err}") from err
    if not isinstance(payload, dict):
        raise ValueError(f"{p}: model contract sidecar must be a JSON object, "
                         f"got {type(payload).__name__}")
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
