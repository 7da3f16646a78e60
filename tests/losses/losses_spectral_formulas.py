"""Plain-torch formulas of docs/METHODS.md §1 used to check the loss plumbing independently of the core.

Signatures follow docs/INTERFACES.md (rfft-bin grid only).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _band_idx(t, fs, band, n):
    f = torch.arange(n // 2 + 1, dtype=torch.float64) * fs / n
    return torch.nonzero((f >= band[0] - 1e-9) & (f <= band[1] + 1e-9)).flatten()


def band_psd(x, fs, band=(0.5, 3.0), *, n_fft=None, step_hz=None, window="hann", periodic=True,
             demean=True, normalize=False, eps=1e-8):
    assert step_hz is None
    t = x.shape[-1]
    n = n_fft or t
    if demean:
        x = x - x.mean(dim=-1, keepdim=True)
    if window == "hann":
        x = x * torch.hann_window(t, periodic=periodic, dtype=x.dtype, device=x.device)
    p = torch.fft.rfft(x, n=n, dim=-1).abs().square()[..., _band_idx(t, fs, band, n)]
    if normalize:
        p = p / (p.sum(dim=-1, keepdim=True) + eps)
    return p


def psd_kl(student, teacher, fs, band=(0.5, 3.0), *, mode="asymmetric", eps=1e-8,
           reduction="mean", **kw):
    ps = band_psd(student, fs, band, normalize=True, eps=eps, **kw)
    pt = band_psd(teacher, fs, band, normalize=True, eps=eps, **kw)
    if mode == "asymmetric":
        pt = pt.detach()
    kl = (pt * (torch.log(pt + eps) - torch.log(ps + eps))).sum(-1)
    return kl.mean() if reduction == "mean" else kl


def rpm_components(student, teacher, fs=30.0, band=(0.75, 3.0), *, n_fft=None):
    def spectra(x):
        raw = torch.log(band_psd(x, fs, band, n_fft=n_fft) + 1e-8)
        z = (raw - raw.mean(-1, keepdim=True)) / (raw.std(-1, unbiased=False, keepdim=True) + 1e-8)
        return raw, z

    teacher = teacher.detach()
    rs, zs = spectra(student)
    rt, zt = spectra(teacher)
    k = rs.shape[-1]
    kk = torch.arange(k, dtype=student.dtype)
    cs = (kk * torch.softmax(rs, -1)).sum(-1)
    ct = (kk * torch.softmax(rt, -1)).sum(-1)
    sigma = max(1.0, math.floor(0.02 * k) / 2)
    w = torch.exp(-0.5 * ((kk - ct[:, None]) / sigma) ** 2)
    rest = torch.clamp(1 - w, min=0)
    d = (zs - zt).abs()
    peak = (w * d).sum(-1) / (w.sum(-1) + 1e-8)
    off = (rest * d).sum(-1) / (rest.sum(-1) + 1e-8)

    def ent(z):
        q = torch.softmax(z, -1)
        return -(q * torch.log(q + 1e-8)).sum(-1)

    shape = (F.smooth_l1_loss(cs, ct, reduction="none", beta=1.0)
             + F.smooth_l1_loss(ent(zs), ent(zt), reduction="none", beta=1.0))
    p_t = band_psd(teacher, fs, band, n_fft=n_fft)
    ratio = (p_t * w).sum(-1) / p_t.sum(-1)
    return torch.stack([peak, off, shape], dim=1), ct, ratio
