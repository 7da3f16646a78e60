"""Helpers shared by the two trainers: spectral ops with a fallback, HR, input resizing, stats."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

_warned: set[str] = set()


def _warn_once(msg: str) -> None:
    if msg not in _warned:
        _warned.add(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def psd_kl(student: torch.Tensor, teacher: torch.Tensor, fs: float, band, mode: str,
           n_fft: int | None = None) -> torch.Tensor:
    """KL(p_teacher || p_student) over the band PSD, batch mean (METHODS.md §1.2).

    Uses the fused core op ``rppg_distill.spectral.psd_kl``; falls back to the torch.fft reference
    when the compiled core is not available (with a warning)."""
    try:
        from rppg_distill.spectral import psd_kl as fused
    except ImportError:
        fused = None
    if fused is not None:
        return fused(student.float().contiguous(), teacher.float().contiguous(), fs, tuple(band),
                     mode=mode, n_fft=n_fft)
    try:
        from rppg_distill.spectral.reference import psd_kl as ref
        return ref(student.float(), teacher.float(), fs, tuple(band), mode=mode, n_fft=n_fft)
    except ImportError:
        _warn_once("rppg_distill.spectral is not available; using the trainer's torch.fft PSD-KL")
    eps = 1e-8
    t = teacher.float() if mode == "symmetric" else teacher.float().detach()
    n = n_fft or student.shape[-1]

    def p(x):
        x = x - x.mean(-1, keepdim=True)
        w = torch.hann_window(x.shape[-1], periodic=True, dtype=x.dtype, device=x.device)
        P = torch.fft.rfft(x * w, n=n).abs() ** 2
        f = torch.fft.rfftfreq(n, 1.0 / fs).to(x.device)
        P = P[..., (f >= band[0]) & (f <= band[1])]
        return P / (P.sum(-1, keepdim=True) + eps)

    ps, pt = p(student.float()), p(t)
    return (pt * (torch.log(pt + eps) - torch.log(ps + eps))).sum(-1).mean()


def hr_bpm(x: np.ndarray, fs: float, band=(0.5, 3.0), resolution_bpm: float = 0.1) -> np.ndarray:
    """HR per row of x [B, T] as the spectral peak in ``band`` (rppg_distill.signal when built)."""
    x = np.asarray(x, dtype=np.float64)
    try:
        from rppg_distill.signal import hr_fft
        return np.atleast_1d(hr_fft(x, fs, band=band, resolution_bpm=resolution_bpm))
    except ImportError:
        _warn_once("rppg_distill.signal/spectral core unavailable; HR by the trainer's numpy periodogram")
    x = x - x.mean(-1, keepdims=True)
    x = x * np.hanning(x.shape[-1])
    n = int(2 ** math.ceil(math.log2(max(fs * 60.0 / resolution_bpm, x.shape[-1]))))
    P = np.abs(np.fft.rfft(x, n=n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    m = (f >= band[0]) & (f <= band[1])
    return f[m][P[:, m].argmax(-1)] * 60.0


def peak_concentration(x: np.ndarray, fs: float, band=(0.5, 3.0)) -> np.ndarray:
    """max P / sum P inside the band, per row (METHODS.md §2)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(-1, keepdims=True)
    n = int(2 ** math.ceil(math.log2(8 * x.shape[-1])))
    P = np.abs(np.fft.rfft(x * np.hanning(x.shape[-1]), n=n)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    Pb = P[:, (f >= band[0]) & (f <= band[1])]
    return Pb.max(-1) / (Pb.sum(-1) + 1e-12)


def resize_video(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C, T, H, W] -> [B, C, T, size, size] by area averaging (no-op when already that size)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    b, c, t, h, w = x.shape
    y = F.adaptive_avg_pool2d(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), size)
    return y.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4).contiguous()


def standardize(y: torch.Tensor) -> torch.Tensor:
    return (y - y.mean(-1, keepdim=True)) / (y.std(-1, keepdim=True) + 1e-6)


def mean_std(values) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def wilcoxon(a, b) -> dict:
    """Wilcoxon signed-rank of paired errors a vs b (a better when smaller): p, r = Z/sqrt(n),
    share improved. Uses rppg_distill.evaluate when present, else scipy."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    improved = float(np.mean(a < b)) if n else float("nan")
    if n < 2 or np.allclose(a, b):
        return {"p": float("nan"), "r": float("nan"), "n": n, "improved": improved}
    from scipy import stats

    res = stats.wilcoxon(a, b)
    z = stats.norm.isf(res.pvalue / 2) * np.sign(np.median(b - a))
    return {"p": float(res.pvalue), "r": float(z / math.sqrt(n)), "n": n, "improved": improved}
