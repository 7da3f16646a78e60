"""torch.compile and torch.export through the registered custom ops."""

from __future__ import annotations

import torch

import rppg_distill.spectral as S


def _loss(s, t):
    kl = S.psd_kl(s, t, 30.0, (0.5, 3.0), n_fft=256)
    comps = S.rpm_components(s, t, 30.0)[0]
    return kl + comps.mean() + S.band_psd(s, 30.0, step_hz=0.05, normalize=True).max()


def test_torch_compile_agrees(device):
    torch._dynamo.reset()
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4, 128, generator=g).to(device).requires_grad_()
    t = torch.randn(4, 128, generator=g).to(device)
    eager = _loss(s, t)
    (g_eager,) = torch.autograd.grad(eager, s)
    compiled = torch.compile(_loss, backend="aot_eager", fullgraph=True)
    got = compiled(s, t)
    (g_got,) = torch.autograd.grad(got, s)
    torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_got, g_eager, rtol=1e-5, atol=1e-7)


class _KL(torch.nn.Module):
    def forward(self, s, t):
        return S.psd_kl(s, t, 30.0, (0.5, 3.0), reduction="none", step_hz=1 / 60)


def test_torch_export_runs():
    s, t = torch.randn(3, 150), torch.randn(3, 150)
    ep = torch.export.export(_KL(), (s, t))
    assert "rppg_distill.psd_kl" in str(ep.graph)
    torch.testing.assert_close(ep.module()(s, t), _KL()(s, t))
