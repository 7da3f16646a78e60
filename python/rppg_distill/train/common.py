"""Helpers shared by the two trainers: the fused PSD-KL op, HR, input resizing, stats."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

def psd_kl(student: torch.Tensor, teacher: torch.Tensor, fs: float, band, mode: str,
           n_fft: int | None = None) -> torch.Tensor:
    """KL(p_teacher || p_student) over the band PSD, batch mean (docs/METHODS.md §1.2).

    The fused core op ``rppg_distill.spectral.psd_kl`` (the compiled core is required; there is
    no stand-in). ``mode="asymmetric"`` stops the gradient into the teacher, ``"symmetric"`` not."""
    from rppg_distill.spectral import psd_kl as fused

    return fused(student.float().contiguous(), teacher.float().contiguous(), fs, tuple(band),
                 mode=mode, n_fft=n_fft)


def hr_bpm(x: np.ndarray, fs: float, band=(0.5, 3.0), resolution_bpm: float = 0.1, *,
           detrend: bool = False) -> np.ndarray:
    """HR per row of x [B, T] as the spectral peak in ``band`` (``rppg_distill.signal.hr_fft``)."""
    from rppg_distill.signal import hr_fft

    x = np.asarray(x, dtype=np.float64)
    return np.atleast_1d(hr_fft(x, fs, band=band, resolution_bpm=resolution_bpm, detrend=detrend))


def to_pulse(x: np.ndarray, transform: str) -> tuple[np.ndarray, bool]:
    """Model outputs / labels in the label space of ``transform`` -> pulse-like signals for HR.

    With ``diff_normalized`` labels the model predicts the normalized frame *difference* of the
    pulse. Its spectrum is the pulse spectrum times f, so the 2nd/3rd harmonic often outweighs the
    fundamental and an FFT peak on it is not the heart rate (measured on the demo set: 169 bpm
    "HR" for a 56 bpm pulse). As in rPPG-Toolbox, integrate (cumsum) first and detrend (the
    returned flag asks :func:`hr_bpm` for the smoothness-priors detrend)."""
    x = np.asarray(x, dtype=np.float64)
    if transform == "diff_normalized":
        return np.cumsum(x, axis=-1), True
    return x, False


def peak_concentration(x: np.ndarray, fs: float, band=(0.5, 3.0), *, detrend: bool = False) -> np.ndarray:
    """max P / sum P inside the band, per row (docs/METHODS.md §2)."""
    x = np.asarray(x, dtype=np.float64)
    if detrend:
        from rppg_distill.signal import detrend as _detrend

        x = np.stack([_detrend(r, 100.0) for r in x])
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


def mean_std(values) -> tuple[float, float]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def wilcoxon(a, b) -> dict:
    """Wilcoxon signed-rank of paired errors a vs b (a better when smaller): p, r = Z/sqrt(n),
    share improved, via ``scipy.stats.wilcoxon`` (its default exact/approximate choice, unlike
    ``rppg_distill.evaluate.wilcoxon_paired``'s normal approximation)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    improved = float(np.mean(a < b)) if n else float("nan")
    if n < 2 or np.allclose(a, b):
        return {"p": float("nan"), "r": float("nan"), "n": n, "improved": improved}
    from scipy import stats

    res = stats.wilcoxon(a, b)
    z = stats.norm.isf(res.pvalue / 2) * np.sign(np.median(b - a))
    return {"p": float(res.pvalue), "r": float(z / math.sqrt(n)), "n": n, "improved": improved}
