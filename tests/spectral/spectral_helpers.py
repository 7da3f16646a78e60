"""Shared helpers for the spectral tests: device parametrization and tolerance checks."""

from __future__ import annotations

import importlib.util
import pathlib

import torch

_spec = importlib.util.spec_from_file_location(
    "rppg_tests_root_conftest", pathlib.Path(__file__).resolve().parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)

device_params = _root.device_params

# Tolerances, stated: the fused op vs the float64 reference, error relative to the largest
# magnitude of the compared tensor (row-wise for spectra and gradients). float64 is exact up to
# summation order.
F32_RTOL = 2e-4
F64_RTOL = 1e-9


def rtol_for(dtype: torch.dtype, f32: float = F32_RTOL, f64: float = F64_RTOL) -> float:
    return f32 if dtype == torch.float32 else f64


def assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, rtol: float = F32_RTOL) -> None:
    """max |a - e| <= rtol * max|e| per row (whole tensor for 0-D/1-D)."""
    a = actual.detach().to(torch.float64).cpu()
    e = expected.detach().to(torch.float64).cpu()
    assert a.shape == e.shape, (a.shape, e.shape)
    if e.dim() >= 2:
        scale = e.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
    else:
        scale = e.abs().max().clamp_min(1e-30)
    err = ((a - e).abs() / scale).max().item()
    assert err <= rtol, f"scaled error {err:.3g} > {rtol}"
