"""Deployment: ONNX export (needs torch), precision conversion, TensorRT build/run, and the
streaming runtime. Importing this package does not import torch, onnx or TensorRT; each submodule
imports what it needs:

- ``deploy.contract``     the preprocessing contract carried by every model artifact
- ``deploy.export``       torch -> ONNX + graph checks + onnxruntime parity (torch)
- ``deploy.graph_check``  onnx.checker + TensorRT op allowlist (onnx)
- ``deploy.precision``    fp16 / int8 Q/DQ conversion and HR-drift validation (onnx, onnxruntime)
- ``deploy.ort_runner``   onnxruntime runner (CPU / CUDA / TensorRT EPs)
- ``deploy.trt_build``    ONNX -> TensorRT engine with a version/GPU header (tensorrt)
- ``deploy.trt_runner``   engine runner, execute_async_v3 (tensorrt + cuda-python)
- ``deploy.runtime``      Monitor: frames -> face -> crop -> model -> BVP -> HR + quality
"""

from .contract import Contract

__all__ = ["Contract", "load_runner"]


def load_runner(path, **kwargs):
    """Open a model file by its kind: ``.onnx`` -> OrtRunner, ``.plan``/``.engine`` -> TrtRunner."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"model file not found: {p}")
    with open(p, "rb") as fh:
        head = fh.read(16)
    from .engine_file import ENGINE_MAGIC

    if head.startswith(ENGINE_MAGIC):
        if p.suffix.lower() == ".onnx":
            raise ValueError(f"{p}: this is an rppg-distill TensorRT engine, not an ONNX model; "
                             "name it .plan (or pass the .onnx it was built from)")
        from .trt_runner import TrtRunner

        return TrtRunner(p, **kwargs)
    if p.suffix.lower() in (".plan", ".engine", ".trt"):
        raise ValueError(f"{p}: not an rppg-distill TensorRT engine (missing the "
                         f"{ENGINE_MAGIC!r} header); build it with `rppg-distill build-engine`")
    from .ort_runner import OrtRunner

    return OrtRunner(p, **kwargs)
