"""Route a core call to the CPU bindings (numpy views) or the CUDA module (torch tensors)."""

from __future__ import annotations

import functools

import numpy as np
import torch

import rppg_distill
from rppg_distill.spectral._grid import _frequencies

_core = rppg_distill.load_core()


@functools.lru_cache(maxsize=64)
def _freqs_on(device: torch.device, T: int, spec: tuple) -> torch.Tensor:
    return torch.tensor(_frequencies(T, *spec).copy(), dtype=torch.float64, device=device)


@functools.lru_cache(maxsize=1)
def cuda_module():
    """rppg_distill.spectral._cuda, or a RuntimeError saying why CUDA tensors cannot be used."""
    if not rppg_distill.has_cuda():
        raise RuntimeError("got a CUDA tensor, but the rppg_distill core was built without CUDA "
                           "(rppg_distill.has_cuda() is False); move the tensor to the CPU or "
                           "rebuild with nvcc available")
    try:
        from rppg_distill.spectral import _cuda
    except ImportError as err:
        raise RuntimeError(f"CUDA spectral kernels are not available: {err}") from err
    return _cuda


def run(name: str, arrays, pre: tuple, T: int, spec: tuple, tail: tuple):
    """Call core `name`(*arrays, *pre, freqs, fs, *tail); returns tensor(s) (None passes through).

    CPU: tensors go in as numpy views (zero copy) and results come back via torch.from_numpy.
    CUDA: `_cuda.<name>` gets the tensors and freqs as a float64 tensor on the same device.
    """
    dev = arrays[0].device
    if dev.type == "cpu":
        out = getattr(_core, name)(*[a.detach().numpy() for a in arrays], *pre,
                                   _frequencies(T, *spec), spec[0], *tail)
        if isinstance(out, np.ndarray):
            return torch.from_numpy(out)
        return tuple(None if o is None else torch.from_numpy(o) for o in out)
    if dev.type == "cuda":
        return getattr(cuda_module(), name)(*arrays, *pre, _freqs_on(dev, T, spec), spec[0], *tail)
    raise RuntimeError(f"unsupported device {dev}: rppg_distill spectral ops run on cpu or cuda")
