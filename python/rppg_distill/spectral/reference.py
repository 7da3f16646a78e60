"""Plain-torch reference of every spectral op: ground truth for tests, baseline for benchmarks.

Same signatures as :mod:`rppg_distill.spectral` (tensors only). The rfft grid uses ``torch.fft.rfft``
(what users write today); explicit grids use an explicit DFT matrix. ``method="matmul"`` forces the
matmul-DFT composite (a cached [T, K] cos/sin basis and ``torch.matmul``) for any grid.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from rppg_distill.spectral._grid import check_mode, check_reduction, check_window
from rppg_distill.spectral._plan import band_frequencies


def _window(T: int, window: str, periodic: bool, dtype, device) -> torch.Tensor:
    if check_window(window) == "none":
        return torch.ones(T, dtype=dtype, device=device)
    return torch.hann_window(T, periodic=periodic, dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _dft_basis(T: int, freqs: tuple, fs: float, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    f = torch.tensor(freqs, dtype=torch.float64)
    ang = 2 * math.pi * torch.outer(torch.arange(T, dtype=torch.float64), f) / fs  # [T, K]
    return torch.cos(ang).to(dtype=dtype, device=device), torch.sin(ang).to(dtype=dtype, device=device)


def band_psd(x, fs, band=(0.5, 3.0), *, n_fft=None, step_hz=None, window="hann", periodic=True,
             demean=True, normalize=False, eps=1e-8, method="auto"):
    """[B, T] or [T] -> [B, K] or [K]; see :func:`rppg_distill.spectral.band_psd`."""
    T = x.shape[-1]
    freqs = band_frequencies(T, fs, band, n_fft, step_hz)
    if demean:
        x = x - x.mean(dim=-1, keepdim=True)
    xw = x * _window(T, window, periodic, x.dtype, x.device)
    if method == "fft" or (method == "auto" and not step_hz):
        n = n_fft or T
        X = torch.fft.rfft(xw, n=n)
        k0 = round(freqs[0] * n / fs)
        X = X[..., k0:k0 + len(freqs)]
        P = X.real ** 2 + X.imag ** 2
    else:
        c, s = _dft_basis(T, tuple(freqs.tolist()), float(fs), x.dtype, x.device)
        P = (xw @ c) ** 2 + (xw @ s) ** 2
    if normalize:
        P = P / (P.sum(dim=-1, keepdim=True) + eps)
    return P


def psd_kl(student, teacher, fs, band=(0.5, 3.0), *, mode="asymmetric", n_fft=None, step_hz=None,
           window="hann", periodic=True, demean=True, eps=1e-8, reduction="mean", method="auto"):
    """KL(p_teacher || p_student) per docs/METHODS.md §1.2; asymmetric detaches the teacher."""
    symmetric = check_mode(mode)
    check_reduction(reduction)
    kw = dict(n_fft=n_fft, step_hz=step_hz, window=window, periodic=periodic, demean=demean,
              normalize=True, eps=eps, method=method)
    ps = band_psd(student, fs, band, **kw)
    pt = band_psd(teacher if symmetric else teacher.detach(), fs, band, **kw)
    loss = (pt * (torch.log(pt + eps) - torch.log(ps + eps))).sum(dim=-1)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _log_spectrum(x, fs, band, n_fft):
    P = band_psd(x, fs, band, n_fft=n_fft, window="hann", periodic=True, demean=True)
    lr = torch.log(P + 1e-8)
    z = (lr - lr.mean(-1, keepdim=True)) / (lr.std(-1, unbiased=False, keepdim=True) + 1e-8)
    idx = torch.arange(P.shape[-1], dtype=P.dtype, device=P.device)
    c = (torch.softmax(lr, dim=-1) * idx).sum(-1)
    q = torch.softmax(z, dim=-1)
    H = -(q * torch.log(q + 1e-8)).sum(-1)
    return P, z, c, H, idx


def rpm_components(student, teacher, fs=30.0, band=(0.75, 3.0), *, n_fft=None):
    """(components [B, 3] (peak, off, shape), teacher_centroid [B], peak_ratio [B]); docs/METHODS.md §1.3."""
    _, ls, cs, Hs, idx = _log_spectrum(student, fs, band, n_fft)
    with torch.no_grad():
        Pt, lt, ct, Ht, _ = _log_spectrum(teacher.detach(), fs, band, n_fft)
        K = Pt.shape[-1]
        sigma = max(1.0, math.floor(0.02 * K) / 2.0)
        w = torch.exp(-0.5 * ((idx - ct[:, None]) / sigma) ** 2)
        rest = torch.clamp(1 - w, min=0)
        ratio = (Pt * w).sum(-1) / Pt.sum(-1)
    D = (ls - lt).abs()
    peak = (w * D).sum(-1) / (w.sum(-1) + 1e-8)
    off = (rest * D).sum(-1) / (rest.sum(-1) + 1e-8)
    shape = (F.smooth_l1_loss(cs, ct, beta=1.0, reduction="none")
             + F.smooth_l1_loss(Hs, Ht, beta=1.0, reduction="none"))
    return torch.stack([peak, off, shape], dim=-1), ct, ratio


def peak_frequency(x, fs, band=(0.5, 3.0), *, step_hz=1.0 / 600.0, window="hann", demean=True):
    """Peak frequency (Hz) with parabolic interpolation on the explicit grid; [B, T] -> [B]."""
    freqs = torch.tensor(band_frequencies(x.shape[-1], fs, band, None, step_hz).copy(), dtype=torch.float64)
    P = band_psd(x.to(torch.float64), fs, band, step_hz=step_hz, window=window, demean=demean)
    P = P.reshape(-1, P.shape[-1]).cpu()
    out = []
    for row in P:
        k = int(torch.argmax(row))
        f = float(freqs[k])
        if 0 < k < len(row) - 1:
            a, b, c = float(row[k - 1]), float(row[k]), float(row[k + 1])
            den = a - 2 * b + c
            if den < 0:
                d = min(0.5, max(-0.5, 0.5 * (a - c) / den))
                f += d * float(freqs[k + 1] - freqs[k] if d >= 0 else freqs[k] - freqs[k - 1])
        out.append(f)
    return torch.tensor(out, dtype=torch.float64)
