"""Thin nn.Module wrappers of the spectral losses (torch required)."""

from __future__ import annotations

import torch

from rppg_distill.spectral import psd_kl, rpm_components


class PSDKLLoss(torch.nn.Module):
    """Cross-view PSD distillation loss KL(p_teacher || p_student) (docs/METHODS.md §1.2).

    Args:
        fs: sampling rate (Hz). band: (lo, hi) Hz. mode: "asymmetric" (teacher gets no gradient)
        or "symmetric". Other keyword arguments go to :func:`rppg_distill.spectral.psd_kl`.
    Shapes: forward(student [B, T], teacher [B, T]) -> scalar (or [B] with reduction="none").
    Devices: CPU; CUDA when the core was built with CUDA.
    """

    def __init__(self, fs: float, band=(0.5, 3.0), mode: str = "asymmetric", **kwargs):
        super().__init__()
        self.fs, self.band, self.mode, self.kwargs = float(fs), tuple(band), mode, kwargs

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        return psd_kl(student, teacher, self.fs, self.band, mode=self.mode, **self.kwargs)

    def extra_repr(self) -> str:
        return f"fs={self.fs}, band={self.band}, mode={self.mode!r}"


class RPMSpectralLoss(torch.nn.Module):
    """RPM-Distill spectral components (docs/METHODS.md §1.3); the teacher is constant.

    Shapes: forward(student [B, T], teacher [B, T]) -> (components [B, 3] (peak, off, shape),
    teacher_centroid [B] (band bin index), peak_ratio [B]). Devices: CPU; CUDA when built.
    """

    def __init__(self, fs: float = 30.0, band=(0.75, 3.0), n_fft: int | None = None):
        super().__init__()
        self.fs, self.band, self.n_fft = float(fs), tuple(band), n_fft

    def forward(self, student: torch.Tensor, teacher: torch.Tensor):
        return rpm_components(student, teacher, self.fs, self.band, n_fft=self.n_fft)

    def extra_repr(self) -> str:
        return f"fs={self.fs}, band={self.band}"
