"""CUDA spectral kernels against the plain-torch reference (rppg_distill.spectral.reference).

The same checks as the CPU tests, on device "cuda": forward and backward of every op on random
shapes and grids, gradcheck in float64, batched == per-item, asymmetric KL gives an exactly zero
teacher gradient and symmetric does not, bad inputs raise clear exceptions. Every device test
is marked ``gpu`` and skips with the reason "no CUDA device" where none exists.

Two layers are tested: the raw kernels through ``rppg_distill.spectral._cuda`` (wrapped here in
small autograd Functions, so the kernels are checked independently of the op layer), and the
public ``rppg_distill.spectral`` functions on CUDA tensors (through the registered torch ops).

float32 tolerance: relative 2e-4 of each output's largest magnitude (P, p, KL, components) and of
the largest gradient entry; float64: 1e-9 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rppg_distill  # noqa: E402
from rppg_distill.spectral import band_frequencies  # noqa: E402
from rppg_distill.spectral import reference as ref  # noqa: E402


def _cuda_available() -> bool:
    try:
        return rppg_distill.has_cuda() and torch.cuda.is_available()
    except ImportError:
        return False


gpu = [pytest.mark.gpu, pytest.mark.skipif(not _cuda_available(), reason="no CUDA device")]



def _gpu(f):
    for m in gpu:
        f = m(f)
    return f


DEV = "cuda"
FS = 30.0


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


# (B, T, band, grid) with grid = ("rfft", n_fft or None) or ("step", step_hz)
CASES = [
    (1, 32, (0.5, 3.0), ("rfft", None)),
    (4, 180, (0.5, 3.0), ("rfft", 2048)),
    (64, 180, (0.5, 3.0), ("step", 1.0 / 60.0)),
    (7, 255, (0.75, 3.0), ("rfft", None)),
    (33, 300, (0.7, 2.5), ("rfft", _next_pow2(8 * 300))),
    (512, 128, (0.5, 3.0), ("step", 1.0 / 60.0)),
    (3, 1024, (0.6, 4.0), ("rfft", 1024)),
    (65, 900, (0.5, 3.0), ("rfft", 8192)),
]
WINDOWS = [("hann", True), ("hann", False), ("none", True)]


def _grid_kw(grid):
    kind, v = grid
    return {"n_fft": v, "step_hz": None} if kind == "rfft" else {"n_fft": None, "step_hz": v}


def _freqs(T, band, grid):
    kw = _grid_kw(grid)
    return band_frequencies(T, FS, band, kw["n_fft"], kw["step_hz"])


def _signal(B, T, dtype, seed, device=DEV):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float64) / FS
    hr = 0.8 + 2.0 * torch.rand(B, 1, generator=g, dtype=torch.float64)
    x = torch.sin(2 * math.pi * hr * t) + 0.5 * torch.randn(B, T, generator=g, dtype=torch.float64)
    x = x + 3.0 * torch.randn(B, 1, generator=g, dtype=torch.float64)  # a DC offset to remove
    return x.to(dtype).to(device).contiguous()


def _close(a, b, dtype, rel=None):
    rel = rel if rel is not None else (2e-4 if dtype == torch.float32 else 1e-9)
    scale = float(b.detach().abs().max()) if b.numel() else 1.0
    torch.testing.assert_close(a.detach().to(b.dtype), b.detach(), rtol=rel, atol=rel * max(scale, 1e-30))


# ---- autograd wrappers over the raw kernels (independent of the op layer) ----
def _cuda_mod():
    from rppg_distill.spectral import _cuda

    return _cuda


class _BandPSD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, freqs, window, periodic, demean, normalize, eps):
        c = _cuda_mod()
        out, re, im = c.band_psd_forward(x, freqs, FS, window, periodic, demean, normalize, eps)
        ctx.save_for_backward(out, re, im)
        ctx.args = (x.shape[1], freqs, window, periodic, demean, normalize, eps)
        return out

    @staticmethod
    def backward(ctx, g):
        out, re, im = ctx.saved_tensors
        T, freqs, window, periodic, demean, normalize, eps = ctx.args
        gx = _cuda_mod().band_psd_backward(g, out, re, im, T, freqs, FS, window, periodic, demean,
                                           normalize, eps)
        return gx, None, None, None, None, None, None


class _PSDKL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, t, freqs, window, periodic, demean, eps, symmetric):
        c = _cuda_mod()
        loss, *saved = c.psd_kl_forward(s, t, freqs, FS, window, periodic, demean, eps)
        ctx.save_for_backward(*saved)
        ctx.args = (s.shape[1], freqs, window, periodic, demean, eps, symmetric)
        return loss

    @staticmethod
    def backward(ctx, g):
        T, freqs, window, periodic, demean, eps, symmetric = ctx.args
        gs, gt = _cuda_mod().psd_kl_backward(g, *ctx.saved_tensors, T, freqs, FS, window, periodic,
                                             demean, eps, symmetric)
        return gs, gt, None, None, None, None, None, None


class _RPM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, t, freqs):
        comps, cen, ratio, *saved = _cuda_mod().rpm_components_forward(s, t, freqs, FS, "hann", True, True)
        ctx.save_for_backward(*saved)
        ctx.args = (s.shape[1], freqs)
        ctx.mark_non_differentiable(cen, ratio)
        return comps, cen, ratio

    @staticmethod
    def backward(ctx, g, _gc, _gr):
        T, freqs = ctx.args
        gs = _cuda_mod().rpm_components_backward(g, *ctx.saved_tensors, T, freqs, FS, "hann", True, True)
        return gs, None, None


# ---- forward + backward vs the reference ----
@_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("window,periodic", WINDOWS, ids=["hannP", "hannS", "none"])
@pytest.mark.parametrize("normalize", [False, True], ids=["P", "p"])
@pytest.mark.parametrize("B,T,band,grid", CASES)
def test_band_psd_matches_reference(B, T, band, grid, normalize, window, periodic, dtype):
    freqs = _freqs(T, band, grid)
    x = _signal(B, T, dtype, seed=B * 1000 + T).requires_grad_(True)
    out = _BandPSD.apply(x, freqs, window, periodic, True, normalize, 1e-8)
    r = ref.band_psd(x, FS, band, window=window, periodic=periodic, demean=True,
                     normalize=normalize, **_grid_kw(grid))
    assert out.shape == r.shape == (B, len(freqs))
    _close(out, r, dtype)
    g = torch.randn_like(r)
    (gx,) = torch.autograd.grad(out, x, g)
    (gr,) = torch.autograd.grad(r, x, g)
    _close(gx, gr, dtype, rel=1e-3 if dtype == torch.float32 else 1e-8)


@_gpu
@pytest.mark.parametrize("demean", [True, False])
def test_band_psd_demean_flag(demean):
    B, T, band, grid = 5, 200, (0.5, 3.0), ("rfft", 1024)
    freqs = _freqs(T, band, grid)
    x = _signal(B, T, torch.float64, seed=3).requires_grad_(True)
    out = _BandPSD.apply(x, freqs, "hann", True, demean, False, 1e-8)
    r = ref.band_psd(x, FS, band, demean=demean, **_grid_kw(grid))
    _close(out, r, torch.float64)
    g = torch.randn_like(r)
    _close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(r, x, g)[0], torch.float64, rel=1e-8)


@_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("B,T,band,grid", CASES)
def test_psd_kl_matches_reference(B, T, band, grid, symmetric, dtype):
    freqs = _freqs(T, band, grid)
    s = _signal(B, T, dtype, seed=1 + T).requires_grad_(True)
    t = _signal(B, T, dtype, seed=2 + T).requires_grad_(True)
    loss = _PSDKL.apply(s, t, freqs, "hann", True, True, 1e-8, symmetric)
    r = ref.psd_kl(s, t, FS, band, mode="symmetric" if symmetric else "asymmetric",
                   reduction="none", **_grid_kw(grid))
    _close(loss, r, dtype)
    gs, gt = torch.autograd.grad(loss.mean(), (s, t), allow_unused=True)
    rs, rt = torch.autograd.grad(r.mean(), (s, t), allow_unused=True)
    _close(gs, rs, dtype, rel=1e-3 if dtype == torch.float32 else 1e-8)
    if symmetric:
        _close(gt, rt, dtype, rel=1e-3 if dtype == torch.float32 else 1e-8)
    else:
        assert gt is None or bool((gt == 0).all())


@_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("B,T,n_fft", [(1, 255, None), (8, 255, None), (64, 180, None),
                                       (300, 300, None), (5, 128, 512), (17, 900, None)])
def test_rpm_components_matches_reference(B, T, n_fft, dtype):
    band = (0.75, 3.0)
    freqs = band_frequencies(T, FS, band, n_fft, None)
    s = _signal(B, T, dtype, seed=10 + T).requires_grad_(True)
    t = _signal(B, T, dtype, seed=20 + T)
    comps, cen, ratio = _RPM.apply(s, t, freqs)
    rc, rcen, rratio = ref.rpm_components(s, t, FS, band, n_fft=n_fft)
    _close(comps, rc, dtype, rel=1e-3 if dtype == torch.float32 else 1e-9)
    _close(cen, rcen, dtype)
    _close(ratio, rratio, dtype)
    g = torch.rand_like(rc)
    (gs,) = torch.autograd.grad(comps, s, g)
    (gr,) = torch.autograd.grad(rc, s, g)
    _close(gs, gr, dtype, rel=2e-3 if dtype == torch.float32 else 1e-7)


@_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("B,T", [(1, 300), (16, 900), (100, 180)])
def test_peak_frequency_matches_reference(B, T, dtype):
    band, step = (0.5, 3.0), 1.0 / 600.0
    freqs = band_frequencies(T, FS, band, None, step)
    x = _signal(B, T, dtype, seed=5 + T)
    hz = _cuda_mod().peak_frequency_forward(x, freqs, FS, "hann", True, True)
    assert hz.dtype == torch.float64 and hz.device.type == "cuda"
    r = ref.peak_frequency(x, FS, band, step_hz=step)
    # float32 power can move the argmax by one 0.1-bpm bin on near-ties; allow one grid step
    tol = 1e-9 if dtype == torch.float64 else step * 1.01
    assert torch.allclose(hz.cpu(), r, atol=tol, rtol=0)
    core = rppg_distill.load_core()
    cpu = core.peak_frequency_forward(x.cpu().numpy(), freqs, FS, "hann", True, True)
    np.testing.assert_allclose(hz.cpu().numpy(), cpu, atol=tol, rtol=0)


# ---- float64 gradcheck ----
@_gpu
@pytest.mark.parametrize("grid", [("rfft", 256), ("step", 0.05)], ids=["rfft", "step"])
@pytest.mark.parametrize("normalize", [False, True], ids=["P", "p"])
def test_band_psd_gradcheck(grid, normalize):
    freqs = _freqs(40, (0.5, 3.0), grid)
    x = _signal(3, 40, torch.float64, seed=7).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: _BandPSD.apply(v, freqs, "hann", True, True, normalize, 1e-8),
                                    (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


@_gpu
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_psd_kl_gradcheck(symmetric):
    freqs = _freqs(48, (0.5, 3.0), ("rfft", 256))
    s = _signal(3, 48, torch.float64, seed=8).requires_grad_(True)
    t = _signal(3, 48, torch.float64, seed=9).requires_grad_(symmetric)
    assert torch.autograd.gradcheck(lambda a, b: _PSDKL.apply(a, b, freqs, "hann", True, True, 1e-8, symmetric),
                                    (s, t), eps=1e-6, atol=1e-5, rtol=1e-4)


@_gpu
def test_rpm_components_gradcheck():
    T = 64
    freqs = band_frequencies(T, FS, (0.75, 3.0), 256, None)
    s = _signal(3, T, torch.float64, seed=11).requires_grad_(True)
    t = _signal(3, T, torch.float64, seed=12)
    assert torch.autograd.gradcheck(lambda a: _RPM.apply(a, t, freqs)[0], (s,), eps=1e-6, atol=1e-5,
                                    rtol=1e-4)


# ---- batching, modes, CPU agreement ----
@_gpu
def test_batched_equals_per_item():
    B, T = 6, 180
    freqs = _freqs(T, (0.5, 3.0), ("rfft", 2048))
    c = _cuda_mod()
    s, t = _signal(B, T, torch.float32, seed=21), _signal(B, T, torch.float32, seed=22)
    out = c.band_psd_forward(s, freqs, FS)[0]
    loss = c.psd_kl_forward(s, t, freqs, FS)[0]
    comps = c.rpm_components_forward(s, t, freqs, FS)[0]
    for i in range(B):
        si, ti = s[i:i + 1].contiguous(), t[i:i + 1].contiguous()
        _close(c.band_psd_forward(si, freqs, FS)[0], out[i:i + 1], torch.float32, rel=1e-5)
        _close(c.psd_kl_forward(si, ti, freqs, FS)[0], loss[i:i + 1], torch.float32, rel=1e-5)
        _close(c.rpm_components_forward(si, ti, freqs, FS)[0], comps[i:i + 1], torch.float32, rel=1e-4)


@_gpu
def test_psd_kl_teacher_gradient_modes():
    B, T = 4, 180
    freqs = _freqs(T, (0.5, 3.0), ("rfft", 2048))
    c = _cuda_mod()
    s, t = _signal(B, T, torch.float32, seed=31), _signal(B, T, torch.float32, seed=32)
    loss, *saved = c.psd_kl_forward(s, t, freqs, FS)
    g = torch.full_like(loss, 1.0 / B)
    gs, gt = c.psd_kl_backward(g, *saved, T, freqs, FS, symmetric=False)
    assert gt is None and bool(torch.isfinite(gs).all()) and float(gs.abs().max()) > 0
    gs2, gt2 = c.psd_kl_backward(g, *saved, T, freqs, FS, symmetric=True)
    assert torch.equal(gs, gs2)
    assert gt2 is not None and float(gt2.abs().max()) > 0


@_gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_cuda_matches_cpu_core(dtype):
    B, T = 9, 255
    freqs = _freqs(T, (0.75, 3.0), ("rfft", None))
    core, c = rppg_distill.load_core(), _cuda_mod()
    s, t = _signal(B, T, dtype, seed=41), _signal(B, T, dtype, seed=42)
    cpu = core.rpm_components_forward(s.cpu().numpy(), t.cpu().numpy(), freqs, FS)
    dev = c.rpm_components_forward(s, t, freqs, FS)
    for a, b in zip(dev, cpu):
        _close(a.cpu(), torch.from_numpy(b), dtype, rel=1e-3 if dtype == torch.float32 else 1e-9)
    cpu = core.psd_kl_forward(s.cpu().numpy(), t.cpu().numpy(), freqs, FS)
    dev = c.psd_kl_forward(s, t, freqs, FS)
    for a, b in zip(dev, cpu):
        _close(a.cpu(), torch.from_numpy(b), dtype, rel=1e-3 if dtype == torch.float32 else 1e-9)


@_gpu
def test_runs_on_the_current_stream_and_caches_the_basis():
    B, T = 32, 300
    freqs = _freqs(T, (0.5, 3.0), ("rfft", 4096))
    c = _cuda_mod()
    x = _signal(B, T, torch.float32, seed=51)
    expect = c.band_psd_forward(x, freqs, FS)[0]
    n = rppg_distill.load_core().cuda.basis_cache_size()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        got = c.band_psd_forward(x, freqs, FS)[0]
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    assert torch.equal(got, expect)
    assert rppg_distill.load_core().cuda.basis_cache_size() == n  # same key: no new basis


# ---- bad input ----
@_gpu
def test_bad_inputs_raise_clear_errors():
    c = _cuda_mod()
    T = 180
    freqs = _freqs(T, (0.5, 3.0), ("rfft", None))
    x = _signal(4, T, torch.float32, seed=61)
    with pytest.raises(ValueError, match="CUDA tensor"):
        c.band_psd_forward(x.cpu(), freqs, FS)
    with pytest.raises(TypeError, match="float32 or float64"):
        c.band_psd_forward(x.to(torch.int32), freqs, FS)
    with pytest.raises(ValueError, match="2-D"):
        c.band_psd_forward(x[0], freqs, FS)
    with pytest.raises(ValueError, match="contiguous"):
        c.band_psd_forward(x.t(), freqs, FS)
    bad = x.clone()
    bad[1, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        c.band_psd_forward(bad, freqs, FS)
    bad[1, 3] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        c.psd_kl_forward(x, bad, freqs, FS)
    with pytest.raises(ValueError, match="shapes differ"):
        c.psd_kl_forward(x, x[:2].contiguous(), freqs, FS)
    with pytest.raises(TypeError, match="same dtype"):
        c.psd_kl_forward(x, x.double(), freqs, FS)
    with pytest.raises(ValueError, match="empty band"):
        c.band_psd_forward(x, np.zeros(0), FS)
    with pytest.raises(ValueError, match="window"):
        c.band_psd_forward(x, freqs, FS, window="hamming")
    with pytest.raises(ValueError, match="fs/2"):
        c.band_psd_forward(x, np.array([20.0]), FS)
    with pytest.raises(ValueError, match="shape mismatch"):
        out, re, im = c.band_psd_forward(x, freqs, FS)
        c.band_psd_backward(torch.ones(3, 3, device=DEV), out, re, im, T, freqs, FS)


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


# ---- the public API on CUDA tensors (through the registered torch ops) ----
@_gpu
@pytest.mark.parametrize("B,T,band,grid", CASES[:5])
def test_public_api_on_cuda(B, T, band, grid):
    import rppg_distill.spectral as sp

    kw = _grid_kw(grid)
    s = _signal(B, T, torch.float32, seed=71).requires_grad_(True)
    t = _signal(B, T, torch.float32, seed=72).requires_grad_(True)
    p = sp.band_psd(s, FS, band, normalize=True, **kw)
    assert p.device.type == "cuda"
    _close(p, ref.band_psd(s, FS, band, normalize=True, **kw), torch.float32)
    loss = sp.psd_kl(s, t, FS, band, mode="asymmetric", **kw)
    rloss = ref.psd_kl(s, t, FS, band, mode="asymmetric", **kw)
    _close(loss, rloss, torch.float32)
    loss.backward()
    gs = s.grad.clone()
    assert t.grad is None or bool((t.grad == 0).all())
    s.grad = None
    rloss.backward()
    _close(gs, s.grad, torch.float32, rel=1e-3)


@_gpu
def test_public_api_gradcheck_and_compile_on_cuda():
    import rppg_distill.spectral as sp

    s = _signal(2, 64, torch.float64, seed=81).requires_grad_(True)
    t = _signal(2, 64, torch.float64, seed=82).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: sp.psd_kl(a, b, FS, (0.5, 3.0), mode="symmetric", n_fft=256, reduction="none"),
        (s, t), eps=1e-6, atol=1e-5, rtol=1e-4)
    assert torch.autograd.gradcheck(
        lambda a: sp.rpm_components(a, t.detach(), FS, (0.75, 3.0), n_fft=256)[0], (s,),
        eps=1e-6, atol=1e-5, rtol=1e-4)

    def f(a, b):
        return sp.psd_kl(a, b, FS, (0.5, 3.0), n_fft=256) * 2.0

    a32, b32 = s.detach().float(), t.detach().float()
    got = torch.compile(f, fullgraph=False)(a32, b32)
    _close(got, f(a32, b32), torch.float32, rel=1e-5)
