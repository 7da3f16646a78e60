"""onnxruntime runner: the portable fallback (CPU everywhere; CUDA / TensorRT EPs when present).

Common runner interface (shared with ``trt_runner.TrtRunner``):
    runner.contract    Contract
    runner.batch       fixed batch size, or None when dynamic
    runner.run(x)      float32 [B, C, T, H, W] -> float32 [B, T]
    runner.describe()  dict for logs and benchmarks
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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

    def __init__(self, path, providers=None, threads: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"model file not found: {self.path}")
        self.contract = contract_from_onnx(self.path)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        self.providers = resolve_providers(providers)
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
                "precision": self.contract.precision, "batch": self.batch or "dynamic"}
