"""`rppg-distill info`: what was compiled, the CPU kernels in use, TensorRT and the GPU found."""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
from pathlib import Path

NAME = "info"
HELP = "print the build info of the compiled core, the SIMD kernels, TensorRT and the GPU found"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def jetson_model(path: str = "/proc/device-tree/model") -> str | None:
    """The board name on a Jetson (e.g. "NVIDIA Jetson AGX Orin Developer Kit"), else None."""
    try:
        model = Path(path).read_bytes().rstrip(b"\x00").decode(errors="replace").strip()
    except OSError:
        return None
    return model if "jetson" in model.lower() else None


def tensorrt_version() -> str | None:
    """Version of the importable TensorRT (JetPack's apt package or a pip wheel), else None."""
    if importlib.util.find_spec("tensorrt") is None:
        return None
    try:
        import tensorrt
    except (ImportError, OSError, RuntimeError) as err:  # installed but broken (no libnvinfer)
        return f"unusable ({type(err).__name__}: {err})"
    version = getattr(tensorrt, "__version__", None)
    if version is None:  # e.g. only the tensorrt-stubs type stubs are installed
        return "unusable (the importable 'tensorrt' has no version: not TensorRT's bindings)"
    return str(version)


def gpu() -> str | None:
    """Name and compute capability of CUDA device 0 through cuda-python, else why there is none."""
    from rppg_distill.deploy.trt_build import gpu_identity, import_cudart

    try:
        cudart = import_cudart()
    except ImportError:
        return None
    try:
        name, cc = gpu_identity(cudart)
    except (RuntimeError, OSError) as err:
        return f"none visible ({err})"
    return f"{name} (sm {cc})"


def collect() -> dict:
    import rppg_distill

    core = rppg_distill.build_info()
    info = {"rppg_distill": rppg_distill.__version__, "machine": platform.machine(),
            "python": platform.python_version(), "simd": core.get("simd"), "core": core,
            "jetson": jetson_model(), "tensorrt_version": tensorrt_version(), "gpu": gpu()}
    for pkg in ("torch", "onnxruntime", "cv2", "mediapipe", "tensorrt", "skimage"):
        info[pkg] = importlib.util.find_spec(pkg) is not None
    return info


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>16}: {value}")
    return 0
