"""Fused ops against the plain-torch float64 reference: forward and backward, random shapes and
grids, both windows, float32 and float64, on every device (the ``device`` / ``dtype`` fixtures)."""

from __future__ import annotations

import pytest
import torch
from spectral_helpers import assert_close_scaled, rtol_for

import rppg_distill.spectral as S
import rppg_distill.spectral.reference as R

# (B, T, fs, band, grid kwargs, window, periodic): B 1..512, T 32..1024, both windows, both grids.
CASES = [
    (1, 32, 30.0, (0.5, 3.0), dict(n_fft=256), "hann", True),
    (7, 180, 30.0, (0.5, 3.0), dict(n_fft=2048), "hann", True),
    (33, 300, 25.0, (0.7, 4.0), dict(), "hann", False),
    (512, 64, 30.0, (0.5, 3.0), dict(step_hz=1 / 60), "none", True),
    (5, 1024, 60.0, (0.6, 2.5), dict(step_hz=0.01), "hann", False),
    (64, 255, 30.0, (0.75, 3.0), dict(n_fft=300), "none", True),
    (65, 900, 30.0, (0.5, 3.0), dict(n_fft=8192), "hann", True),
]
IDS = [f"B{c[0]}-T{c[1]}-{'step' if 'step_hz' in c[4] else 'rfft'}-{c[5]}" for c in CASES]


def _inputs(B, T, device, dtype, seed, n=2):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float64)
    out = []
    for _ in range(n):  # a pulse-like component plus noise and an offset
        f = 0.8 + 1.5 * torch.rand(B, 1, generator=g, dtype=torch.float64)
        x = torch.sin(2 * torch.pi * f * t / 30.0) + 0.5 * torch.randn(B, T, generator=g, dtype=torch.float64) + 3.0
        out.append((x.to(device), x.to(dtype=dtype, device=device)))
    return out


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("normalize", [False, True])
def test_band_psd_matches_reference(device, dtype, case, normalize):
    B, T, fs, band, grid, window, periodic = case
    ((x64, x),) = _inputs(B, T, device, dtype, seed=B + T, n=1)
    kw = dict(window=window, periodic=periodic, normalize=normalize, **grid)
    x.requires_grad_(), x64.requires_grad_()
    got = S.band_psd(x, fs, band, **kw)
    ref = R.band_psd(x64, fs, band, **kw)
    assert got.dtype == dtype and got.device == x.device
    assert_close_scaled(got, ref, rtol_for(dtype))
    w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    (g_got,) = torch.autograd.grad(got, x, w.to(dtype))
    (g_ref,) = torch.autograd.grad(ref, x64, w)
    assert_close_scaled(g_got, g_ref, rtol_for(dtype, 1e-3, 1e-8))


@pytest.mark.parametrize("demean", [True, False])
def test_band_psd_demean_flag(device, demean):
    ((x64, _),) = _inputs(5, 200, device, torch.float64, seed=3, n=1)
    x64.requires_grad_()
    got = S.band_psd(x64, 30.0, n_fft=1024, demean=demean)
    ref = R.band_psd(x64, 30.0, n_fft=1024, demean=demean)
    assert_close_scaled(got, ref, 1e-9)
    w = torch.randn(ref.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(device)
    assert_close_scaled(torch.autograd.grad(got, x64, w)[0], torch.autograd.grad(ref, x64, w)[0], 1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("mode", ["asymmetric", "symmetric"])
def test_psd_kl_matches_reference(device, dtype, case, mode):
    B, T, fs, band, grid, window, periodic = case
    (s64, s), (t64, t) = _inputs(B, T, device, dtype, seed=2 * B + T)
    kw = dict(mode=mode, window=window, periodic=periodic, reduction="none", **grid)
    s.requires_grad_(), t.requires_grad_(), s64.requires_grad_(), t64.requires_grad_()
    got = S.psd_kl(s, t, fs, band, **kw)
    ref = R.psd_kl(s64, t64, fs, band, **kw)
    assert got.dtype == dtype and got.device == s.device
    torch.testing.assert_close(got.double(), ref.detach(), rtol=rtol_for(dtype, 1e-3, 1e-9),
                               atol=rtol_for(dtype, 1e-5, 1e-12))
    w = torch.rand(B, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).to(device)
    g_got = torch.autograd.grad(got, [s, t], w.to(dtype), allow_unused=True)
    g_ref = torch.autograd.grad(ref, [s64, t64], w, allow_unused=True)
    assert_close_scaled(g_got[0], g_ref[0], rtol_for(dtype, 1e-3, 1e-8))
    if mode == "symmetric":
        assert_close_scaled(g_got[1], g_ref[1], rtol_for(dtype, 1e-3, 1e-8))
    else:
        assert g_got[1] is None and g_ref[1] is None


@pytest.mark.parametrize("B,T,fs,band,n_fft", [
    (1, 64, 30.0, (0.75, 3.0), 256), (16, 255, 30.0, (0.75, 3.0), None), (300, 300, 30.0, (0.75, 3.0), None),
    (9, 512, 50.0, (0.6, 3.5), 1024), (17, 900, 30.0, (0.75, 3.0), None)])
def test_rpm_components_matches_reference(device, dtype, B, T, fs, band, n_fft):
    (s64, s), (t64, t) = _inputs(B, T, device, dtype, seed=3 * B + T)
    s.requires_grad_(), s64.requires_grad_()
    got = S.rpm_components(s, t, fs, band, n_fft=n_fft)
    ref = R.rpm_components(s64, t64, fs, band, n_fft=n_fft)
    for a, b in zip(got, ref):
        assert a.dtype == dtype and a.device == s.device
        torch.testing.assert_close(a.double(), b.detach(), rtol=rtol_for(dtype, 1e-3, 1e-9),
                                   atol=rtol_for(dtype, 1e-4, 1e-10))
    w = torch.rand(B, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).to(device)
    (g_got,) = torch.autograd.grad(got[0], s, w.to(dtype))
    (g_ref,) = torch.autograd.grad(ref[0], s64, w)
    assert_close_scaled(g_got, g_ref, rtol_for(dtype, 2e-3, 1e-7))


def test_rpm_components_spec_example(device):
    """docs/METHODS.md §1.3: T = 255 at fs = 30 gives bins 7..25 (K = 19)."""
    assert len(S.band_frequencies(255, 30.0, (45 / 60, 180 / 60))) == 19
    (_, s), (_, t) = _inputs(4, 255, device, torch.float32, seed=5)
    comps, cen, ratio = S.rpm_components(s, t, 30.0, (45 / 60, 180 / 60))
    assert comps.shape == (4, 3) and cen.shape == (4,) and ratio.shape == (4,)
    assert bool(((cen >= 0) & (cen <= 18)).all()) and bool(((ratio > 0) & (ratio <= 1)).all())


def test_peak_frequency_finds_the_tone(device, dtype):
    fs, T = 30.0, 300
    f0 = torch.tensor([0.83, 1.234, 2.71], dtype=torch.float64)
    x = torch.sin(2 * torch.pi * f0[:, None] * torch.arange(T) / fs).to(dtype=dtype, device=device)
    got = S.peak_frequency(x, fs, (0.5, 3.0))
    assert got.dtype == torch.float64 and got.device == x.device
    ref = R.peak_frequency(x, fs, (0.5, 3.0))
    torch.testing.assert_close(got.cpu(), ref, rtol=0, atol=1e-4)
    assert torch.allclose(got.cpu(), f0, atol=2e-3)
    np_got = S.peak_frequency(x.cpu().numpy(), fs, (0.5, 3.0))
    assert abs(np_got - got.cpu().numpy()).max() < 1e-9


@pytest.mark.parametrize("B,T", [(1, 300), (16, 900), (100, 180)])
def test_peak_frequency_of_noisy_signals_matches_reference(device, dtype, B, T):
    (_, x), = _inputs(B, T, device, dtype, seed=5 + T, n=1)
    step = 1.0 / 600.0
    got = S.peak_frequency(x, 30.0, (0.5, 3.0), step_hz=step)
    ref = R.peak_frequency(x, 30.0, (0.5, 3.0), step_hz=step)
    # float32 power can move the argmax by one 0.1-bpm bin on near-ties: allow one grid step
    torch.testing.assert_close(got.cpu(), ref, rtol=0, atol=rtol_for(dtype, step * 1.01, 1e-9))
