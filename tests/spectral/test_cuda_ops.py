"""What only the CUDA face does: the caller's stream, the device basis cache, its own argument
checks, agreement with the CPU face, and a clear error without a device. Everything else (forward
and backward vs the reference, gradcheck, batching, modes, torch.compile) is in the device- and
dtype-parametrized tests next to this file, whose "cuda" cases skip with "no CUDA device"."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spectral_helpers import device_params

import rppg_distill
import rppg_distill.spectral as S
from rppg_distill.spectral._plan import get_plan

CUDA = [p for p in device_params() if p.values[0] == "cuda"]
FS = 30.0


def _signal(B, T, dtype, seed, device="cuda"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, generator=g, dtype=torch.float64) + 3.0
    return x.to(dtype).to(device).contiguous()


@pytest.mark.parametrize("device", CUDA)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_cuda_face_matches_cpu_face(device, dtype):
    from rppg_distill.spectral import _cuda

    plan = get_plan(255, FS, (0.75, 3.0))
    s, t = _signal(9, 255, dtype, 41, device), _signal(9, 255, dtype, 42, device)
    for name in ("rpm_components_forward", "psd_kl_forward"):
        cpu = getattr(plan.core, name)(s.cpu().numpy(), t.cpu().numpy())
        dev = getattr(_cuda, name)(plan, s, t)
        for a, b in zip(dev, cpu):
            np.testing.assert_allclose(a.cpu().numpy(), b, rtol=0,
                                       atol=(1e-3 if dtype == torch.float32 else 1e-9) * max(abs(b).max(), 1e-30))


@pytest.mark.parametrize("device", CUDA)
def test_runs_on_the_current_stream_and_caches_the_basis(device):
    from rppg_distill.spectral import _cuda

    plan = get_plan(300, FS, (0.5, 3.0), 4096)
    x = _signal(32, 300, torch.float32, 51, device)
    expect = _cuda.band_psd_forward(plan, x)[0]
    n = rppg_distill.load_core().cuda.basis_cache_size()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        got = _cuda.band_psd_forward(plan, x)[0]
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    assert torch.equal(got, expect)
    assert rppg_distill.load_core().cuda.basis_cache_size() == n  # same plan: no new basis


@pytest.mark.parametrize("device", CUDA)
def test_cuda_face_checks_its_arguments(device):
    from rppg_distill.spectral import _cuda

    plan = get_plan(180, FS)
    x = _signal(4, 180, torch.float32, 61, device)
    with pytest.raises(ValueError, match="CUDA tensor"):
        _cuda.band_psd_forward(plan, x.cpu())
    with pytest.raises(TypeError, match="float32 or float64"):
        _cuda.band_psd_forward(plan, x.to(torch.int32))
    with pytest.raises(ValueError, match="2-D"):
        _cuda.band_psd_forward(plan, x[0])
    with pytest.raises(ValueError, match="contiguous"):
        _cuda.band_psd_forward(plan, x[:, :90])
    with pytest.raises(ValueError, match="plan was made for T = 180"):
        _cuda.band_psd_forward(plan, x[:, :90].contiguous())
    bad = x.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        S.band_psd(bad, FS)
    bad[1, 3] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        S.psd_kl(x, bad, FS)
    with pytest.raises(ValueError, match="shapes differ"):
        S.psd_kl(x, x[:2].contiguous(), FS)
    with pytest.raises(TypeError, match="dtype"):
        S.psd_kl(x, x.double(), FS)
    with pytest.raises(ValueError, match="devices differ"):
        S.psd_kl(x, x.cpu(), FS)
    out, re, im = _cuda.band_psd_forward(plan, x)
    with pytest.raises(ValueError, match="shape mismatch"):
        _cuda.band_psd_backward(plan, torch.ones(3, 3, device=device), out, re, im)


def test_no_device_gives_a_clear_runtime_error():
    """Runs without a GPU: a CUDA-built core raises RuntimeError('no CUDA device ...')."""
    if not rppg_distill.has_cuda():
        pytest.skip("core built without CUDA")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    core = rppg_distill.load_core()
    assert core.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="no CUDA device"):
        core.cuda.describe_device(0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        core.cuda.band_psd_forward(0, 2, 64, np.array([1.0, 2.0]), FS, "hann", True, True, False,
                                   1e-8, "float32", 0, 0, 0, 0, 0)
    from rppg_distill.spectral import _cuda

    assert _cuda.available() is False
