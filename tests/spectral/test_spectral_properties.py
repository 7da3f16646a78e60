"""Batch consistency, teacher gradients, numpy face, losses, import without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

import rppg_distill.spectral as S


def _pair(B, T, device, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, T, generator=g, dtype=dtype).to(device),
            torch.randn(B, T, generator=g, dtype=dtype).to(device))


def test_batched_equals_per_item(device):
    s, t = _pair(37, 150, device)  # 37 rows: crosses the 6-row kernel and 48-row block edges
    P = S.band_psd(s, 30.0, n_fft=1024, normalize=True)
    kl = S.psd_kl(s, t, 30.0, reduction="none", step_hz=1 / 60)
    comps = S.rpm_components(s, t, 30.0)[0]
    for i in [0, 5, 6, 36]:
        torch.testing.assert_close(P[i], S.band_psd(s[i], 30.0, n_fft=1024, normalize=True), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(kl[i:i + 1], S.psd_kl(s[i:i + 1], t[i:i + 1], 30.0, reduction="none",
                                                         step_hz=1 / 60), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(comps[i:i + 1], S.rpm_components(s[i:i + 1], t[i:i + 1], 30.0)[0],
                                   rtol=1e-5, atol=1e-6)


def test_batched_gradient_equals_per_item(device):
    s, t = _pair(13, 100, device, seed=1)
    s.requires_grad_()
    (g,) = torch.autograd.grad(S.psd_kl(s, t, 30.0, reduction="sum"), s)
    for i in [0, 7, 12]:
        si = s[i:i + 1].detach().clone().requires_grad_()
        (gi,) = torch.autograd.grad(S.psd_kl(si, t[i:i + 1], 30.0, reduction="sum"), si)
        torch.testing.assert_close(g[i:i + 1], gi, rtol=1e-5, atol=1e-8)


def test_asymmetric_teacher_gradient_is_exactly_zero(device):
    s, t = _pair(8, 120, device, seed=2)
    s.requires_grad_(), t.requires_grad_()
    (S.psd_kl(s, t, 30.0, mode="asymmetric") + 0 * t.sum()).backward()
    assert s.grad.abs().sum() > 0
    assert torch.count_nonzero(t.grad) == 0
    s.grad = t.grad = None
    S.psd_kl(s, t, 30.0, mode="symmetric").backward()
    assert s.grad.abs().sum() > 0 and t.grad.abs().sum() > 0
    s.grad = t.grad = None
    (S.rpm_components(s, t, 30.0)[0].sum() + 0 * t.sum()).backward()
    assert s.grad.abs().sum() > 0 and torch.count_nonzero(t.grad) == 0


def test_numpy_face_matches_torch():
    s, t = _pair(6, 180, "cpu", seed=3)
    sn, tn = s.numpy(), t.numpy()
    np.testing.assert_allclose(S.band_psd(sn, 30.0, n_fft=512), S.band_psd(s, 30.0, n_fft=512).numpy(), rtol=1e-6)
    np.testing.assert_allclose(S.psd_kl(sn, tn, 30.0, reduction="none"), S.psd_kl(s, t, 30.0, reduction="none").numpy(),
                               rtol=1e-6)
    assert np.isscalar(S.psd_kl(sn, tn, 30.0).item())
    for a, b in zip(S.rpm_components(sn, tn, 30.0), S.rpm_components(s, t, 30.0)):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)
    assert isinstance(S.peak_frequency(sn[0], 30.0), float)
    assert S.band_psd(sn[0], 30.0).shape == (len(S.band_frequencies(180, 30.0, (0.5, 3.0))),)


def test_band_frequencies_grids():
    f = S.band_frequencies(180, 30.0, (0.5, 3.0), n_fft=2048)
    assert f[0] >= 0.5 and f[-1] <= 3.0 and len(f) == 170
    np.testing.assert_allclose(np.diff(f), 30.0 / 2048)
    e = S.band_frequencies(180, 30.0, (0.5, 3.0), step_hz=1 / 60)  # 30..180 bpm in 1 bpm steps
    assert len(e) == 151 and abs(e[-1] - 3.0) < 1e-12


def test_losses_modules():
    s, t = _pair(4, 160, "cpu", seed=4)
    s.requires_grad_()
    loss = S.PSDKLLoss(30.0, (0.5, 3.0), mode="asymmetric")(s, t)
    assert loss.dim() == 0
    loss.backward()
    comps, cen, ratio = S.RPMSpectralLoss(30.0, (0.75, 3.0))(s, t)
    assert comps.shape == (4, 3) and cen.shape == (4,) and ratio.shape == (4,)


def test_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np, rppg_distill.spectral as S\n"
            "x = np.sin(2*np.pi*1.5*np.arange(300)/30).astype(np.float32)\n"
            "assert abs(S.peak_frequency(x, 30.0) - 1.5) < 2e-3\n"
            "S.psd_kl(x[None], x[None], 30.0); S.band_psd(x, 30.0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_basis_cache_and_threads_are_consistent():
    from rppg_distill import load_core
    core = load_core()
    s, t = _pair(300, 180, "cpu", seed=5)
    n = core.get_num_threads()
    try:
        core.set_num_threads(1)
        a = S.psd_kl(s, t, 30.0, reduction="none", n_fft=2048)
        core.set_num_threads(4)
        b = S.psd_kl(s, t, 30.0, reduction="none", n_fft=2048)
    finally:
        core.set_num_threads(n)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert core.basis_cache_size() >= 1


def test_eager_path_equals_registered_op(device, dtype):
    """The two paths of an op (eager fast path on plain CPU tensors, the custom op elsewhere) agree."""
    from rppg_distill.spectral import _torch_ops as ops
    from rppg_distill.spectral._plan import get_plan

    s, t = _pair(5, 128, device, seed=6, dtype=dtype)
    s.requires_grad_(), t.requires_grad_()
    plan = get_plan(128, 30.0, (0.5, 3.0), 256)
    tol = dict(rtol=1e-5, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    fast = S.psd_kl(s, t, 30.0, n_fft=256, mode="symmetric", reduction="none")
    op = ops.psd_kl_op(s, t, *plan.args, True)[0]
    torch.testing.assert_close(fast, op, **tol)
    w = torch.rand(5, dtype=dtype, generator=torch.Generator().manual_seed(7)).to(device)
    for a, b in zip(torch.autograd.grad(fast, (s, t), w), torch.autograd.grad(op, (s, t), w)):
        torch.testing.assert_close(a, b, **tol)
    fast = S.band_psd(s, 30.0, n_fft=256, normalize=True)
    op = ops.band_psd_op(s, *plan.args, True)[0]
    torch.testing.assert_close(fast, op, **tol)
    g = torch.ones_like(fast)
    torch.testing.assert_close(torch.autograd.grad(fast, s, g)[0], torch.autograd.grad(op, s, g)[0], **tol)


def test_one_plan_per_option_set():
    from rppg_distill.spectral import _plan

    a = _plan.get_plan(180, 30.0, (0.5, 3.0), 2048)
    assert _plan.get_plan(180, 30, [0.5, 3], 2048, None, "hann", 1, True, 1e-8) is a  # same options, other spelling
    assert _plan.plan_of(180, *a.args) is a  # the custom ops' form
    assert _plan.get_plan(180, 30.0, (0.5, 3.0), 2048, eps=1e-6) is not a
    assert a.K == len(a.freqs) == a.core.K == 170 and not a.freqs.flags.writeable
    for T in range(64, 64 + _plan.MAX_PLANS + 10):  # the cache is bounded
        _plan.get_plan(T, 30.0, (0.5, 3.0))
    assert len(_plan._PLANS) <= _plan.MAX_PLANS


def test_retained_graph_runs_the_backward_again(device):
    s, t = _pair(3, 64, device, seed=8, dtype=torch.float64)
    s.requires_grad_()
    for reduction in ("mean", "none"):
        s.grad = None
        loss = S.psd_kl(s, t, 30.0, reduction=reduction).sum()
        loss.backward(retain_graph=True)
        once = s.grad.clone()
        loss.backward()
        torch.testing.assert_close(s.grad, 2 * once, rtol=1e-12, atol=0)
