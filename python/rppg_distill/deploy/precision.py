"""Precision conversion of an exported fp32 ONNX, and validation by the heart-rate error it adds.

- ``to_fp16``: float16 weights and compute with Cast nodes; the graph I/O stays float32 (the
  runtime and TensorRT 11's strongly typed networks take the precision from the graph).
- ``to_int8``: explicit Q/DQ (onnxruntime static quantization, QDQ format, symmetric int8
  activations and per-channel int8 weights), calibrated on real preprocessed clips, for a
  target: ``ort-cpu`` (7-bit weights: accurate on x86 CPUs without VNNI too) or ``tensorrt``
  (full-range int8, what TensorRT's explicit quantization expects); see ``int8_settings``.
- ``validate_precision``: HR per held-out clip from the fp32 and the converted model (spectral
  peak, same band); reports the mean |HR_q - HR_fp32| and, when labels are given, the MAE drift
  MAE_q - MAE_fp32 in bpm.

Needs onnx + onnxruntime (no torch).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .contract import CONTRACT_KEY, Contract, contract_from_onnx, write_sidecar
from .int8_settings import INT8_KEY, Int8Settings, make_record, settings_for_target


def _set_metadata(model, key: str, value: str) -> None:
    keep = [p for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    e = model.metadata_props.add()
    e.key, e.value = key, value


def _set_contract(model, contract: Contract) -> None:
    _set_metadata(model, CONTRACT_KEY, contract.to_json())


def toposort(graph) -> None:
    """Sort ``graph.node`` topologically in place (converters append Cast nodes at the end)."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        rest = []
        for node in pending:
            if all(n in known for n in node.input):
                ordered.append(node)
                known.update(node.output)
            else:
                rest.append(node)
        if len(rest) == len(pending):
            raise ValueError(f"graph has a cycle or dangling inputs at node {rest[0].name}")
        pending = rest
    copies = [type(n)() for n in ordered]
    for c, n in zip(copies, ordered):
        c.CopyFrom(n)
    del graph.node[:]
    graph.node.extend(copies)


def to_fp16(src, dst) -> Path:
    """fp32 ONNX -> fp16 compute with float32 inputs/outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    contract = contract_from_onnx(src)
    if contract.precision != "fp32":
        raise ValueError(f"{src}: expected an fp32 model, got {contract.precision}")
    model = onnx.load(str(src))
    # Resize/Range take float scales that must stay fp32 for some TensorRT versions
    half = convert_float_to_float16(model, keep_io_types=True, op_block_list=["Resize", "Range"])
    toposort(half.graph)
    _set_contract(half, dataclasses.replace(contract, precision="fp16"))
    onnx.checker.check_model(half)
    dst = Path(dst)
    onnx.save(half, str(dst))
    write_sidecar(dst, dataclasses.replace(contract, precision="fp16"), {"source": str(src)})
    return dst


class _ClipReader:
    """onnxruntime CalibrationDataReader over float32 clips [N, C, T, H, W]."""

    def __init__(self, input_name: str, clips: np.ndarray, batch: int | None):
        self.name = input_name
        self.clips = np.asarray(clips, np.float32)
        self.batch = batch or 1
        self.i = 0

    def get_next(self):
        if self.i + self.batch > len(self.clips):
            return None
        x = self.clips[self.i:self.i + self.batch]
        self.i += self.batch
        return {self.name: np.ascontiguousarray(x)}

    def rewind(self):
        self.i = 0


def to_int8(src, dst, calib_clips: np.ndarray, *, target: str = "ort-cpu",
            settings: Int8Settings | None = None, exclude_ops: Iterable[str] = (),
            **overrides) -> Path:
    """fp32 ONNX -> int8 Q/DQ ONNX calibrated on ``calib_clips`` (float32 [N, C, T, H, W],
    preprocessed exactly as the contract says).

    Args:
        target: "ort-cpu" (onnxruntime on any CPU: 7-bit weights, no int16 saturation on x86
            without VNNI) or "tensorrt" (full-range symmetric int8); see ``int8_settings``.
        settings: explicit settings (then ``target`` and ``overrides`` are ignored).
        exclude_ops: op types whose outputs are not quantized.
        overrides: fields of ``Int8Settings`` to change from the target's defaults
            (``per_channel``, ``method``, ``reduce_range``, ``nodes_to_exclude``...).

    The settings, the onnxruntime version and this machine's CPU flags are recorded in the
    ONNX metadata (``int8_settings.INT8_KEY``) and in the sidecar.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    settings = settings or settings_for_target(target, **overrides)
    contract = contract_from_onnx(src)
    if contract.precision != "fp32":
        raise ValueError(f"{src}: expected an fp32 model, got {contract.precision}")
    calib_clips = np.asarray(calib_clips, np.float32)
    want = contract.input_shape(1)[1:]
    if calib_clips.ndim != 5 or tuple(calib_clips.shape[1:]) != want or len(calib_clips) == 0:
        raise ValueError(f"calibration clips must be float32 [N, {', '.join(map(str, want))}], got "
                         f"{calib_clips.shape}")
    batch = contract.batch if isinstance(contract.batch, int) else 1
    if len(calib_clips) < batch:
        raise ValueError(f"need at least {batch} calibration clips for a fixed batch of {batch}")
    dst = Path(dst)
    pre = dst.with_suffix(".pre.onnx")
    qtype = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    try:
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        reader = _ClipReader(contract.input_name, calib_clips, batch)  # duck-typed CalibrationDataReader
        quantize_static(
            str(pre), str(dst), reader, quant_format=QuantFormat.QDQ,
            per_channel=settings.per_channel, reduce_range=settings.reduce_range,
            activation_type=qtype[settings.activation_type], weight_type=qtype[settings.weight_type],
            calibrate_method=methods[settings.method],
            op_types_to_quantize=["Conv", "Gemm", "MatMul"],
            nodes_to_exclude=list(settings.nodes_to_exclude) or None,
            extra_options={"ActivationSymmetric": settings.activation_symmetric,
                           "WeightSymmetric": settings.weight_symmetric,
                           # TensorRT fuses Q/DQ around Conv/Gemm; keep the rest in float
                           "QDQKeepRemovableActivations": False,
                           "AddQDQPairToWeight": False,
                           "DedicatedQDQPair": False,
                           "OpTypesToExcludeOutputQuantization": list(exclude_ops)},
        )
    finally:
        pre.unlink(missing_ok=True)
    model = onnx.load(str(dst))
    c8 = dataclasses.replace(contract, precision="int8")
    _set_contract(model, c8)
    record = make_record(settings, len(calib_clips))
    _set_metadata(model, INT8_KEY, json.dumps(record, sort_keys=True))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    write_sidecar(dst, c8, {"source": str(src), "int8": record})
    return dst


def run_batched(runner, clips: np.ndarray) -> np.ndarray:
    """Run a runner over [N, ...] clips, respecting a fixed batch (pads the last batch)."""
    clips = np.asarray(clips, np.float32)
    b = runner.batch or min(len(clips), 8)
    outs = []
    for i in range(0, len(clips), b):
        x = clips[i:i + b]
        n = len(x)
        if runner.batch and n < b:
            x = np.concatenate([x, np.repeat(x[-1:], b - n, 0)])
        outs.append(runner.run(x)[:n])
    return np.concatenate(outs)


def clip_hr(bvp: np.ndarray, fs: float, band) -> np.ndarray:
    from .runtime.hr import peak_frequency

    return 60.0 * np.asarray(peak_frequency(np.asarray(bvp, np.float32), fs, band), np.float64)


def validate_precision(fp32_path, other_path, clips: np.ndarray,
                       hr_true: np.ndarray | None = None) -> dict:
    """HR error added by a converted model on held-out clips, in onnxruntime on the CPU."""
    from .ort_runner import OrtRunner

    ref = OrtRunner(fp32_path, providers="cpu")
    oth = OrtRunner(other_path, providers="cpu")
    c = ref.contract
    y_ref = run_batched(ref, clips)
    y_oth = run_batched(oth, clips)
    hr_ref = clip_hr(y_ref, c.fs, c.band)
    hr_oth = clip_hr(y_oth, c.fs, c.band)
    corr = [float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else float("nan")
            for a, b in zip(y_ref, y_oth)]
    out = {
        "precision": oth.contract.precision, "clips": len(clips),
        "hr_abs_diff_mean_bpm": float(np.mean(np.abs(hr_oth - hr_ref))),
        "hr_abs_diff_max_bpm": float(np.max(np.abs(hr_oth - hr_ref))),
        "bvp_corr_mean": float(np.nanmean(corr)),
        "bvp_rel_err": float(np.max(np.abs(y_oth - y_ref)) / max(np.max(np.abs(y_ref)), 1e-12)),
    }
    if hr_true is not None:
        hr_true = np.asarray(hr_true, np.float64)
        mae_ref = float(np.mean(np.abs(hr_ref - hr_true)))
        mae_oth = float(np.mean(np.abs(hr_oth - hr_true)))
        out.update({"mae_fp32_bpm": mae_ref, "mae_bpm": mae_oth, "mae_drift_bpm": mae_oth - mae_ref})
    return out


def clips_from_crops(crops: np.ndarray, contract: Contract, stride: int | None = None,
                     max_clips: int | None = None) -> np.ndarray:
    """uint8 face crops [N, H, W, 3] (one recording, at the contract fs) -> float32 clips
    [K, C, T, H, W] normalized per window."""
    from .runtime.preprocess import normalize_window

    T = contract.frames
    stride = stride or T
    crops = np.asarray(crops)
    if crops.shape[1:3] != (contract.height, contract.width):
        import cv2

        crops = np.stack([cv2.resize(np.ascontiguousarray(f), (contract.width, contract.height),
                                     interpolation=cv2.INTER_AREA) for f in crops])
    out = []
    for s in range(0, len(crops) - T + 1, stride):
        out.append(normalize_window(crops[s:s + T], contract.normalization))
        if max_clips and len(out) >= max_clips:
            break
    if not out:
        return np.zeros((0,) + contract.input_shape(1)[1:], np.float32)
    return np.stack(out)


def clips_from_cache(cache_dir, contract: Contract, *, max_clips: int = 64, stride: int | None = None,
                     keys: Iterable[str] | None = None, with_hr: bool = False):
    """Real preprocessed clips from the clip cache (``rppg_distill.data.cache.ClipCache``).

    Returns clips [K, C, T, H, W] (and, with ``with_hr``, the reference HR per clip from the
    cached BVP, or NaN when the recording has no label).
    """
    from rppg_distill.data.cache import ClipCache

    cache = ClipCache(cache_dir)
    keys = list(keys) if keys is not None else list(cache.keys())
    clips, hrs = [], []
    for key in keys:
        entry = cache[key]
        n = entry.n_usable
        crops = np.asarray(entry.frames[:n])
        bvp = entry.bvp
        bvp = None if bvp is None else np.asarray(bvp[:n], np.float32)
        if abs(entry.fps - contract.fs) > 1e-3:  # resample to the model's frame rate
            idx = np.round(np.arange(0.0, n / entry.fps, 1.0 / contract.fs) * entry.fps).astype(int)
            idx = idx[idx < n]
            crops = crops[idx]
            bvp = None if bvp is None else bvp[idx]
        c = clips_from_crops(crops, contract, stride, max_clips - sum(len(x) for x in clips))
        if len(c) == 0:
            continue
        clips.append(c)
        if with_hr:
            T, s = contract.frames, stride or contract.frames
            for i in range(len(c)):
                if bvp is None:
                    hrs.append(np.nan)
                else:
                    seg = bvp[i * s:i * s + T]
                    hrs.append(float(clip_hr(seg[None], contract.fs, contract.band)[0]))
        if sum(len(x) for x in clips) >= max_clips:
            break
    if not clips:
        raise ValueError(f"clip cache {cache_dir} yielded no clips of {contract.frames} frames")
    out = np.concatenate(clips)[:max_clips]
    return (out, np.asarray(hrs[:max_clips])) if with_hr else out
