"""onnxruntime runner: the portable fallback (CPU everywhere; CUDA / TensorRT EPs when present).

Common runner interface (shared with ``trt_runner.TrtRunner``):
    runner.contract    Contract
    runner.batch       fixed batch size, or None when dynamic
    runner.run(x)      float32 [B, C, T, H, W] -> float32 [B, T]
    runner.describe()  dict for logs and benchmarks
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from . import cpu_features
from .contract import Contract, contract_from_onnx

PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
}


def resolve_providers(providers=None) -> list[str]:
    """'auto' / None -> TensorRT, CUDA, CPU in that order, keeping only the available ones."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if providers in (None, "auto"):
        order = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
        return [p for p in order if p in available] or ["CPUExecutionProvider"]
    if isinstance(providers, str):
        providers = [p.strip() for p in providers.split(",") if p.strip()]
    out = []
    for p in providers:
        full = PROVIDER_ALIASES.get(p.lower(), p)
        if full not in available:
            raise ValueError(f"onnxruntime execution provider {full} is not available here "
                             f"(available: {', '.join(available)}); install onnxruntime-gpu for CUDA/TensorRT")
        out.append(full)
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


class Int8CpuWarning(UserWarning):
    """An int8 model meets a CPU whose int8 kernels it was not quantized for."""


_WARNED: set[tuple[str, str]] = set()
#: onnxruntime session option: on x86 without VNNI, run u8*s8 products with weights outside
#: [-64, 63] as u8*u8 (no int16 saturation, slower).
X64_QUANT_PRECISION = "session.x64quantprecision"


def warn_int8_cpu_mismatch(path, flags=None, x86: bool | None = None,
                           record: dict | bool | None = False) -> str | None:
    """Warn (once per model file and reason) when the int8 ONNX at ``path`` was quantized with
    full-range weights and this CPU has no VNNI/AMX (onnxruntime's CPU kernels saturate there).

    Args:
        flags: the CPU flags to judge (default: read from /proc/cpuinfo; None where unknown).
        x86: whether the CPU is x86 (default: this machine's).
        record: the model's int8 record if already read (None: the model has none); by default
            it is read from ``path``.
    Returns the warning text, or None when there is nothing to warn about.
    """
    from .int8_settings import cpu_mismatch, read_record

    flags = cpu_features.cpu_flags() if flags is None else frozenset(flags)
    x86 = cpu_features.is_x86() if x86 is None else x86
    reason = cpu_mismatch(read_record(path) if record is False else record, flags, x86=x86)
    if reason is None:
        return None
    msg = (f"{path}: {reason}. The runner turns on onnxruntime's {X64_QUANT_PRECISION} for it "
           "(may be slower; other onnxruntime users of the file do not get it)")
    key = (str(Path(path).resolve()), reason)
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(msg, Int8CpuWarning, stacklevel=3)
    return msg


def check_input(x: np.ndarray, contract: Contract, batch: int | None) -> np.ndarray:
    x = np.asarray(x)
    want = contract.input_shape(x.shape[0] if x.ndim == 5 else 1)
    if x.ndim != 5 or tuple(x.shape[1:]) != want[1:]:
        raise ValueError(f"model input must be float32 [B, {want[1]}, {want[2]}, {want[3]}, {want[4]}] "
                         f"(contract {contract.model}, {contract.layout}), got shape {tuple(x.shape)}")
    if batch is not None and x.shape[0] != batch:
        raise ValueError(f"model was exported with a fixed batch of {batch}, got a batch of {x.shape[0]}")
    return np.ascontiguousarray(x, dtype=np.float32)


class OrtRunner:
    kind = "onnxruntime"

    def __init__(self, path, providers=None, threads: int | None = None, spin: bool = False,
                 cpu_flags=None):
        """Args:
            providers: "auto" / None, "cpu", "cuda", "tensorrt" or a list.
            threads: onnxruntime intra-op threads (None: onnxruntime's default, one per
                physical core). On a small shared CPU 1 thread is often as fast as 2 and leaves
                a core for decoding and face detection (see bench/RUNTIME.md).
            spin: let idle intra-op threads busy-wait between calls. Off by default: in the
                streaming runtime the model runs once per window, and spinning threads steal the
                cores that decode and face detection need between windows.
            cpu_flags: CPU flags to judge an int8 model against (default: this CPU's). An int8
                model with full-range weights on an x86 CPU without VNNI/AMX warns once
                (``Int8CpuWarning``) and runs with onnxruntime's ``session.x64quantprecision``.
        """
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"model file not found: {self.path}")
        self.contract = contract_from_onnx(self.path)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL  # one chain of convs: no inter-op gain
        opts.inter_op_num_threads = 1
        if threads:
            opts.intra_op_num_threads = int(threads)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        self.threads = int(threads) if threads else None
        self.spin = bool(spin)
        self.providers = resolve_providers(providers)
        self.session = ort.InferenceSession(str(self.path), opts, providers=self.providers)
        self.int8_warning = None
        if self.contract.precision == "int8" and self.providers[0] == "CPUExecutionProvider":
            from .int8_settings import record_from_metadata

            record = record_from_metadata(self.session.get_modelmeta().custom_metadata_map)
            self.int8_warning = warn_int8_cpu_mismatch(self.path, cpu_flags, record=record)
            if self.int8_warning:
                # onnxruntime then computes u8*s8 products whose weights exceed 7 bits as u8*u8,
                # without int16 saturation (measured: docs/int8.md)
                opts.add_session_config_entry(X64_QUANT_PRECISION, "1")
                self.session = ort.InferenceSession(str(self.path), opts, providers=self.providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        b = inp.shape[0]
        self.batch = int(b) if isinstance(b, int) else None
        if inp.type != "tensor(float)":
            raise ValueError(f"{self.path}: model input is {inp.type}; the runtime feeds float32 "
                             "(export fp16/int8 models with float32 I/O)")

    def run(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self.contract, self.batch)
        return np.asarray(self.session.run([self.output_name], {self.input_name: x})[0], np.float32)

    def describe(self) -> dict:
        return {"runner": self.kind, "path": str(self.path), "providers": self.session.get_providers(),
                "precision": self.contract.precision, "batch": self.batch or "dynamic",
                "threads": self.threads or "default", "spin": self.spin,
                **({"int8_warning": self.int8_warning} if self.int8_warning else {})}
