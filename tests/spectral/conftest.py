"""Fixtures of the spectral tests (kornia's style): every device test takes ``device`` ("cpu", and
"cuda" marked ``gpu``, skipped with the reason "no CUDA device" where none exists) and, where the
dtype matters, ``dtype`` (float32 and float64)."""

from __future__ import annotations

import pytest
import torch
from spectral_helpers import device_params


@pytest.fixture(params=device_params())
def device(request) -> torch.device:
    return torch.device(request.param)


@pytest.fixture(params=[torch.float32, torch.float64], ids=["f32", "f64"])
def dtype(request) -> torch.dtype:
    return request.param
