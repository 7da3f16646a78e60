"""Cross-view objective of paper 1 (docs/METHODS.md §2).

``L = MSE(y_t_hat, y) + MSE(y_s_hat, y) + lambda * L_KL`` where ``L_KL`` is
``KL(p_teacher || p_student)`` of the normalized band PSDs of the two predictions, computed by
the fused core op :func:`rppg_distill.spectral.psd_kl`:

* ``mode="asymmetric"`` (B', the paper's method): stop-gradient on the teacher (frontal) PSD.
* ``mode="symmetric"`` (ablation B): gradients into both branches.
* ``mode="none"``: no KL term (cam2-only, side-only, pooled A+ training on pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .supervised import mse

MODES = ("asymmetric", "symmetric", "none")


@dataclass
class CrossViewTerms:
    """The loss and its parts (detached floats are the caller's business)."""

    total: torch.Tensor
    mse_teacher: torch.Tensor
    mse_student: torch.Tensor
    kl: torch.Tensor


def cross_view_loss(pred_teacher: torch.Tensor, pred_student: torch.Tensor,
                    label: torch.Tensor, fs: float, *, lam: float = 0.01, band=(0.5, 3.0),
                    mode: str = "asymmetric", eps: float = 1e-8, kl_fn=None,
                    **psd_kwargs) -> CrossViewTerms:
    """Cross-view loss.

    Args:
        pred_teacher: frontal-view prediction ``[B, T]``.
        pred_student: side-view prediction ``[B, T]``.
        label: ground-truth BVP ``[B, T]``.
        fs: sampling rate in Hz.
        lam: KL weight lambda (0.01).
        band: PSD band in Hz (0.5-3.0).
        mode: "asymmetric", "symmetric" or "none".
        kl_fn: override of the KL op (default :func:`rppg_distill.spectral.psd_kl`; the pure-torch
            reference ``rppg_distill.spectral.reference.psd_kl`` has the same signature).
        **psd_kwargs: passed to the KL op (``n_fft``, ``step_hz``, ``window``, ...).

    Returns:
        :class:`CrossViewTerms` with scalar tensors.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    l_t = mse(pred_teacher, label)
    l_s = mse(pred_student, label)
    if mode == "none" or lam == 0:
        kl = pred_student.new_zeros(())
    else:
        if kl_fn is None:
            from rppg_distill.spectral import psd_kl as kl_fn
        kl = kl_fn(pred_student, pred_teacher, fs, band, mode=mode, eps=eps, reduction="mean",
                   **psd_kwargs)
    return CrossViewTerms(total=l_t + l_s + lam * kl, mse_teacher=l_t, mse_student=l_s, kl=kl)


class CrossViewLoss(nn.Module):
    """Module form of :func:`cross_view_loss`.

    forward(pred_teacher [B, T], pred_student [B, T], label [B, T]) -> :class:`CrossViewTerms`.
    Works on every device the KL op supports (CPU; CUDA where the core has CUDA kernels).
    """

    def __init__(self, fs: float, lam: float = 0.01, band=(0.5, 3.0), mode: str = "asymmetric",
                 eps: float = 1e-8, kl_fn=None, **psd_kwargs):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.fs, self.lam, self.band, self.mode, self.eps = fs, lam, tuple(band), mode, eps
        self.kl_fn, self.psd_kwargs = kl_fn, psd_kwargs

    def forward(self, pred_teacher, pred_student, label) -> CrossViewTerms:
        return cross_view_loss(pred_teacher, pred_student, label, self.fs, lam=self.lam,
                               band=self.band, mode=self.mode, eps=self.eps, kl_fn=self.kl_fn,
                               **self.psd_kwargs)
