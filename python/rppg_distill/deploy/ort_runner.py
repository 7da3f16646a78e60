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

    def __init__(self, path, providers=None, threads: int | None = None, spin: bool = False):
        """Args:
            providers: "auto" / None, "cpu", "cuda", "tensorrt" or a list.
            threads: onnxruntime intra-op threads (None: onnxruntime's default, one per
                physical core). On a small shared CPU 1 thread is often as fast as 2 and leaves
                a core for decoding and face detection (see bench/RUNTIME.md).
            spin: let idle intra-op threads busy-wait between calls. Off by default: in the
                streaming runtime the model runs once per window, and spinning threads steal the
                cores that decode and face detection need between windows.
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
                "threads": self.threads or "default", "spin": self.spin}
