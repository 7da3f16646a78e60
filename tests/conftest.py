"""Shared pytest fixtures and device parametrization."""

from __future__ import annotations

import pytest


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    import rppg_distill

    return rppg_distill.has_cuda() and torch.cuda.is_available()


def device_params():
    """Parametrize a test over 'cpu' and 'cuda'; CUDA cases skip with the reason 'no CUDA device'."""
    return [
        pytest.param("cpu", id="cpu"),
        pytest.param(
            "cuda",
            id="cuda",
            marks=[pytest.mark.gpu,
                   pytest.mark.skipif(not cuda_available(), reason="no CUDA device")],
        ),
    ]
