"""pytest-benchmark suite for the spectral core (not part of the test run: bench/ is outside testpaths).

    pytest bench/test_bench_spectral.py --benchmark-group-by=param:shape
"""

from __future__ import annotations

import pytest
import torch

import rppg_distill.spectral as S
import rppg_distill.spectral.reference as R

SHAPES = [(1, 64), (4, 180), (64, 180), (256, 300)]
GRID = dict(n_fft=2048)


def _impl(name):
    if name == "fused":
        return lambda s, t, g: S.psd_kl(s, t, 30.0, (0.5, 3.0), **g)
    if name == "torch.fft":
        return lambda s, t, g: R.psd_kl(s, t, 30.0, (0.5, 3.0), **g)
    return lambda s, t, g: R.psd_kl(s, t, 30.0, (0.5, 3.0), method="matmul", **g)


@pytest.mark.parametrize("impl", ["fused", "torch.fft", "matmul-DFT"])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{b}x{t}" for b, t in SHAPES])
def test_psd_kl_fwd_bwd(benchmark, impl, shape):
    B, T = shape
    grid = GRID if T >= 128 else {}
    s = torch.randn(B, T, requires_grad=True)
    t = torch.randn(B, T)
    fn = _impl(impl)

    def step():
        s.grad = None
        fn(s, t, grid).backward()

    benchmark.group = f"psd_kl fwd+bwd {B}x{T}"
    benchmark(step)


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{b}x{t}" for b, t in SHAPES])
def test_band_psd_numpy(benchmark, shape):
    B, T = shape
    x = torch.randn(B, T).numpy()
    benchmark.group = f"band_psd numpy {B}x{T}"
    benchmark(lambda: S.band_psd(x, 30.0, (0.5, 3.0), step_hz=1 / 60))
