"""Supervised pulse losses (rPPG-Toolbox conventions; docs/METHODS.md §2-3).

All functions take ``pred [B, T]`` and ``target [B, T]`` (a 1-D ``[T]`` input is treated as
``B = 1``) and return a scalar with ``reduction="mean"`` or per-sample ``[B]`` with
``reduction="none"``.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def _as_2d(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() == 1:
        return x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"{name} must be [B, T] or [T], got shape {tuple(x.shape)}")
    return x


def _reduce(v: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return v.mean()
    if reduction == "sum":
        return v.sum()
    if reduction == "none":
        return v
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_pair(pred, target):
    pred, target = _as_2d(pred, "pred"), _as_2d(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    return pred, target


def neg_pearson(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean",
                eps: float = 1e-8) -> torch.Tensor:
    """Negative Pearson loss ``1 - r`` per sample (range 0..2)."""
    pred, target = _check_pair(pred, target)
    p = pred - pred.mean(dim=1, keepdim=True)
    t = target - target.mean(dim=1, keepdim=True)
    r = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + eps)
    return _reduce(1.0 - r, reduction)


def mse(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error over time, per sample."""
    pred, target = _check_pair(pred, target)
    return _reduce((pred - target).square().mean(dim=1), reduction)


def snr_loss(pred: torch.Tensor, label: torch.Tensor, fs: float, band=(0.75, 3.0), *,
             n_fft: int = 1024, half_width: int = 4, demean: bool = False,
             reduction: str = "mean") -> torch.Tensor:
    """SNR loss of RPM-Distill (docs/METHODS.md §3.2), per sample.

    ``rfft`` of the prediction zero-padded to ``n_fft`` (1024); the band bins are those with
    ``lo <= k*fs/n_fft <= hi``. The reference bin is the argmax of the *label's* band power
    (no gradient). Signal = prediction power in bins ``ref ± half_width`` (inside the band);
    noise = the prediction power in the rest of the band. Loss ``-10*log10(S / (N + 1e-7))``.

    Args:
        demean: remove the per-sample mean before the FFT (off by default, as in the recipe;
            with the band starting at 0.75 Hz the DC term mostly stays out of it).
    """
    pred, label = _check_pair(pred, label)
    t = pred.shape[1]
    n = max(int(n_fft), t)
    if demean:
        pred = pred - pred.mean(dim=1, keepdim=True)
        label = label - label.mean(dim=1, keepdim=True)
    freqs = torch.arange(n // 2 + 1, dtype=torch.float64) * (float(fs) / n)
    lo, hi = band
    in_band = (freqs >= lo - 1e-9) & (freqs <= hi + 1e-9)
    idx = torch.nonzero(in_band).flatten().to(pred.device)
    if idx.numel() == 0:
        raise ValueError(f"band {band} holds no rfft bin at fs={fs}, n_fft={n}")
    p_pred = torch.fft.rfft(pred, n=n, dim=1).abs().square()[:, idx]  # [B, K]
    with torch.no_grad():
        p_lab = torch.fft.rfft(label.detach(), n=n, dim=1).abs().square()[:, idx]
        ref = p_lab.argmax(dim=1, keepdim=True)  # [B, 1] index into the band
        k = torch.arange(idx.numel(), device=pred.device).unsqueeze(0)
        sig_mask = ((k - ref).abs() <= half_width).to(pred.dtype)
    signal = (p_pred * sig_mask).sum(1)
    noise = (p_pred * (1.0 - sig_mask)).sum(1)
    loss = -10.0 * torch.log10(signal / (noise + 1e-7))
    return _reduce(loss, reduction)


def rpm_supervised_loss(pred: torch.Tensor, label: torch.Tensor, fs: float, band=(0.75, 3.0), *,
                        w_pearson: float = 0.01, w_snr: float = 1.0,
                        reduction: str = "mean") -> torch.Tensor:
    """``L_sup = 0.01*NegPearson + 1.0*SNR-loss`` per sample (docs/METHODS.md §3.2)."""
    v = w_pearson * neg_pearson(pred, label, reduction="none")
    v = v + w_snr * snr_loss(pred, label, fs, band, reduction="none")
    return _reduce(v, reduction)


class NegPearsonLoss(nn.Module):
    """``1 - r`` per sample: forward(pred [B, T], target [B, T]) -> scalar (or [B])."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, pred, target):
        return neg_pearson(pred, target, self.reduction)


class SNRLoss(nn.Module):
    """SNR loss (see :func:`snr_loss`): forward(pred [B, T], label [B, T]) -> scalar (or [B])."""

    def __init__(self, fs: float, band=(0.75, 3.0), n_fft: int = 1024, half_width: int = 4,
                 reduction: str = "mean"):
        super().__init__()
        self.fs, self.band, self.n_fft = fs, tuple(band), n_fft
        self.half_width, self.reduction = half_width, reduction

    def forward(self, pred, label):
        return snr_loss(pred, label, self.fs, self.band, n_fft=self.n_fft,
                        half_width=self.half_width, reduction=self.reduction)


class RPMSupervisedLoss(nn.Module):
    """``0.01*NegPearson + 1.0*SNR`` (see :func:`rpm_supervised_loss`)."""

    def __init__(self, fs: float, band=(0.75, 3.0), w_pearson: float = 0.01, w_snr: float = 1.0,
                 reduction: str = "mean"):
        super().__init__()
        self.fs, self.band = fs, tuple(band)
        self.w_pearson, self.w_snr, self.reduction = w_pearson, w_snr, reduction

    def forward(self, pred, label):
        return rpm_supervised_loss(pred, label, self.fs, self.band, w_pearson=self.w_pearson,
                                   w_snr=self.w_snr, reduction=self.reduction)
