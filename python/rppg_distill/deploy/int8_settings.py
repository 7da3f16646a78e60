"""int8 quantization settings per deployment target, recorded in the model, checked at load time.

Targets:
- ``ort-cpu`` (default): onnxruntime on any CPU. Symmetric int8 activations and per-channel
  symmetric int8 weights quantized to 7 bits (``reduce_range``), so that x86 CPUs without VNNI,
  whose u8*s8 kernel sums pairs of products in a saturating int16 (see ``cpu_features``), do not
  clip. The cost is one bit of weight precision on every CPU. Symmetric int8 keeps the file
  loadable by TensorRT too (the onnxruntime TensorRT EP, ``tools/build_engine.py``). Measured in
  bench/int8_layers.py (figures in docs/int8.md).
- ``tensorrt``: TensorRT's explicit quantization (int32 accumulation on every GPU): full-range
  symmetric int8 activations and weights, as TensorRT expects for its Q/DQ fusion.

The settings, the onnxruntime version and the calibration machine's CPU flags travel in the
ONNX metadata under ``INT8_KEY`` (JSON), beside the contract.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from . import cpu_features

INT8_KEY = "rppg_distill.int8"
TARGETS = ("ort-cpu", "tensorrt")
QUANT_TYPES = ("int8", "uint8")
METHODS = ("minmax", "percentile", "entropy")


@dataclasses.dataclass(frozen=True)
class Int8Settings:
    """What ``precision.to_int8`` passes to onnxruntime's ``quantize_static`` (QDQ format)."""

    target: str = "ort-cpu"
    activation_type: str = "int8"
    weight_type: str = "int8"
    activation_symmetric: bool = True
    weight_symmetric: bool = True
    reduce_range: bool = True
    per_channel: bool = True
    method: str = "minmax"
    nodes_to_exclude: tuple[str, ...] = ()

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"unknown int8 target {self.target!r}; known: {', '.join(TARGETS)}")
        for name in ("activation_type", "weight_type"):
            if getattr(self, name) not in QUANT_TYPES:
                raise ValueError(f"{name} must be one of {QUANT_TYPES}, got {getattr(self, name)!r}")
        if self.method not in METHODS:
            raise ValueError(f"unknown calibration method {self.method!r}; known: {', '.join(METHODS)}")
        object.__setattr__(self, "nodes_to_exclude", tuple(self.nodes_to_exclude))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["nodes_to_exclude"] = list(self.nodes_to_exclude)
        return d


def settings_for_target(target: str = "ort-cpu", **overrides) -> Int8Settings:
    """The default settings of a target; keyword overrides replace single fields."""
    if target == "tensorrt":
        base = Int8Settings(target="tensorrt", reduce_range=False)
    elif target == "ort-cpu":
        base = Int8Settings(target="ort-cpu", reduce_range=True)
    else:
        raise ValueError(f"unknown int8 target {target!r}; known: {', '.join(TARGETS)}")
    return dataclasses.replace(base, **overrides)


def make_record(settings: Int8Settings, calibration_clips: int,
                flags: Iterable[str] | None = None) -> dict:
    """The metadata record: settings + onnxruntime version + the calibration machine's CPU."""
    import platform

    import onnxruntime

    flags = cpu_features.cpu_flags() if flags is None else frozenset(flags)
    return {**settings.to_dict(), "calibration_clips": int(calibration_clips),
            "onnxruntime": onnxruntime.__version__, "machine": platform.machine(),
            "calibration_cpu_flags": cpu_features.reported_flags(flags),
            "calibration_cpu_int8_dot": cpu_features.has_int8_dot(flags)}


def record_from_metadata(meta: dict) -> dict | None:
    """The ``INT8_KEY`` record from an ONNX metadata map (e.g. onnxruntime's
    ``session.get_modelmeta().custom_metadata_map``), None if absent."""
    value = meta.get(INT8_KEY)
    return None if value is None else json.loads(value)


def read_record(model_or_path) -> dict | None:
    """The ``INT8_KEY`` record of an ONNX model (a loaded ModelProto, or a path read through
    onnxruntime, so that runtime-only installs without the onnx package work), None if absent."""
    if hasattr(model_or_path, "metadata_props"):
        return record_from_metadata({p.key: p.value for p in model_or_path.metadata_props})
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(model_or_path), so, providers=["CPUExecutionProvider"])
    return record_from_metadata(sess.get_modelmeta().custom_metadata_map)


def saturation_free(record: dict) -> bool:
    """Whether onnxruntime's x86 kernels without VNNI compute this model without int16
    saturation: 7-bit weights (``reduce_range``), or uint8 weights (the u8*u8 kernel widens to
    int16 before multiplying)."""
    return bool(record.get("reduce_range")) or record.get("weight_type") == "uint8"


def cpu_mismatch(record: dict | None, flags: Iterable[str] | None, x86: bool = True) -> str | None:
    """Why an int8 model may be inaccurate on this CPU, or None when it is fine or unknown.

    A model quantized with full-range int8 weights (``reduce_range`` False: the tensorrt target,
    or a model from an older export without a record) saturates in onnxruntime's u8*s8 kernel on an
    x86 CPU without VNNI/AMX. Unknown flags (not Linux) give no warning.
    """
    if not x86 or flags is None or cpu_features.has_int8_dot(flags):
        return None
    if record is not None and saturation_free(record):
        return None
    what = ("int8 model made without a settings record (an older export, full-range weights)"
            if record is None else f"int8 model made for target {record.get('target')!r} "
            "with full-range weights (reduce_range off)")
    return (f"{what} runs on a CPU without VNNI/AMX ({cpu_features.describe(flags)}): onnxruntime's "
            "int8 kernels saturate here and the pulse can be distorted; re-export with "
            "`rppg-distill export --precision int8 --target ort-cpu` for CPU inference")
