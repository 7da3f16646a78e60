"""rppg-distill: remote photoplethysmography with spectral distillation and edge deployment.

The package imports without torch. Torch-dependent rooms (`models`, `losses`, `train`) import it
themselves; the runtime (`deploy.runtime`, `signal`, the numpy face of `spectral`, `data.face`)
needs only numpy, OpenCV, onnxruntime (or TensorRT) and the compiled core.
"""

from __future__ import annotations


def _package_version() -> str:
    """The version defined once, in pyproject.toml: from the installed distribution's metadata,
    else from the compiled core (which CMake stamps with the same pyproject version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rppg-distill")
    except PackageNotFoundError:
        try:
            import rppg_distill._core as core
        except ImportError:
            return "unknown"
        return str(core.build_info()["version"])


__version__ = _package_version()


def load_core():
    """Import the compiled core with a clear error when the extension was not built."""
    try:
        import rppg_distill._core as core
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "rppg_distill._core (the compiled spectral core) is missing: install the package with "
            "`pip install .` (it builds the C++ extension with scikit-build-core) rather than "
            f"putting python/ on sys.path. Original error: {err}"
        ) from err
    return core


def build_info() -> dict:
    """What the compiled core contains.

    Returns:
        dict with keys ``version``, ``compiler``, ``cpu`` (always True), ``cuda`` (bool),
        ``cuda_archs`` (e.g. "80;87;90"), ``cuda_version`` and ``simd`` (CPU kernels in use).
    """
    return dict(load_core().build_info())


def has_cuda() -> bool:
    """True when the core was compiled with CUDA kernels (whether or not a GPU is present)."""
    return bool(load_core().build_info()["cuda"])


__all__ = ["__version__", "build_info", "has_cuda"]
