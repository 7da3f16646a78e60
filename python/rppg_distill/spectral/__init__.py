"""Spectral core, Python face: band PSD, PSD-KL, RPM-Distill components, peak frequency.

Every function accepts numpy arrays (returns numpy, no gradients) or torch tensors (CPU, or CUDA
when the core was built with CUDA; returns differentiable tensors). Importing this package does
not import torch; torch inputs are routed to :mod:`rppg_distill.spectral._torch_ops`.
Formulas: docs/METHODS.md §1. Shapes: B batch, T samples, K band bins.
"""

from __future__ import annotations

import sys

from rppg_distill.spectral._plan import band_frequencies

__all__ = [
    "PSDKLLoss",
    "RPMSpectralLoss",
    "band_frequencies",
    "band_psd",
    "peak_frequency",
    "psd_kl",
    "rpm_components",
]


def _is_tensor(x) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _torch_impl():
    from rppg_distill.spectral import _torch_ops

    return _torch_ops


def _numpy_impl():
    from rppg_distill.spectral import _numpy

    return _numpy


def band_psd(x, fs, band=(0.5, 3.0), *, n_fft=None, step_hz=None, window="hann", periodic=True,
             demean=True, normalize=False, eps=1e-8):
    """Power spectrum of x inside a band, by direct DFT on a cached cos/sin basis.

    Args:
        x: [B, T] or [T], float32/float64, contiguous, finite.
        fs: sampling rate (Hz). band: (lo, hi) Hz, inclusive.
        n_fft: rfft grid k * fs / n_fft (default n_fft = T; n_fft >= T zero-pads).
        step_hz: explicit grid lo, lo + step_hz, ... <= hi instead of rfft bins.
        window: "hann" (``periodic`` or symmetric) or "none". demean: remove the mean first.
        normalize: return p = P / (sum P + eps) instead of P.
    Returns:
        [B, K] (or [K]) in the input's type, dtype and device; differentiable for tensors.
    """
    ops = _torch_impl() if _is_tensor(x) else _numpy_impl()
    return ops.band_psd(x, fs, band, n_fft, step_hz, window, periodic, demean, normalize, eps)


def psd_kl(student, teacher, fs, band=(0.5, 3.0), *, mode="asymmetric", n_fft=None, step_hz=None,
           window="hann", periodic=True, demean=True, eps=1e-8, reduction="mean"):
    """KL(p_teacher || p_student) of the normalized band PSDs (docs/METHODS.md §1.2), fused.

    Args:
        student, teacher: [B, T], same shape, dtype and device.
        mode: "asymmetric" (no gradient to the teacher) or "symmetric" (gradients to both).
        reduction: "mean" (scalar), "sum" (scalar) or "none" ([B]).
        Other arguments as in :func:`band_psd`.
    """
    ops = _torch_impl() if _is_tensor(student) or _is_tensor(teacher) else _numpy_impl()
    return ops.psd_kl(student, teacher, fs, band, mode, n_fft, step_hz, window, periodic, demean,
                      eps, reduction)


def rpm_components(student, teacher, fs=30.0, band=(0.75, 3.0), *, n_fft=None):
    """RPM-Distill spectral components per sample (docs/METHODS.md §1.3); the teacher is constant.

    Mean removal, periodic Hann window, rfft grid with n = n_fft or T, band inclusive.

    Returns:
        (components [B, 3] = (peak, off, shape), teacher_centroid [B] (band bin index 0..K-1,
        soft centroid of the raw log spectrum), peak_ratio [B] = sum P_t w / sum P_t).
    """
    ops = _torch_impl() if _is_tensor(student) or _is_tensor(teacher) else _numpy_impl()
    return ops.rpm_components(student, teacher, fs, band, n_fft)


def peak_frequency(x, fs, band=(0.5, 3.0), *, step_hz=1.0 / 600.0, window="hann", demean=True):
    """Peak frequency (Hz) of the band power on a fine explicit grid, parabolic-interpolated.

    Args:
        x: [B, T] or [T] numpy (a tensor is accepted: no gradient, same device).
        step_hz: grid step (default 0.1 bpm).
    Returns:
        float64 [B], or a float for 1-D input; NaN for a numpy row without power (constant).
    """
    ops = _torch_impl() if _is_tensor(x) else _numpy_impl()
    return ops.peak_frequency(x, fs, band, step_hz, window, demean)


def __getattr__(name):
    if name in ("PSDKLLoss", "RPMSpectralLoss"):
        from rppg_distill.spectral import losses

        return getattr(losses, name)
    raise AttributeError(f"module 'rppg_distill.spectral' has no attribute {name!r}")
