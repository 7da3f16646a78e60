"""Numpy face of the spectral core (no torch): arrays in, arrays out, no gradients."""

from __future__ import annotations

import numpy as np

from rppg_distill import load_core
from rppg_distill.spectral._grid import (check_mode, check_reduction, check_window, grid_spec,
                                         _frequencies)


def _as_2d(x, name: str, allow_1d: bool) -> tuple[np.ndarray, bool]:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if x.ndim == 1 and allow_1d:
        return x[None, :], True
    if x.ndim != 2:
        shape = "[B, T] or [T]" if allow_1d else "[B, T]"
        raise ValueError(f"{name} must be {shape}, got shape {tuple(x.shape)}")
    return x, False


def band_psd(x, fs, band, n_fft, step_hz, window, periodic, demean, normalize, eps):
    x2, squeeze = _as_2d(x, "x", True)
    spec = grid_spec(x2.shape[1], fs, band, n_fft, step_hz)
    out = load_core().band_psd_forward(x2, _frequencies(x2.shape[1], *spec), spec[0],
                                       check_window(window), bool(periodic), bool(demean),
                                       bool(normalize), float(eps))[0]
    return out[0] if squeeze else out


def _pair(student, teacher):
    s, _ = _as_2d(student, "student", False)
    t, _ = _as_2d(teacher, "teacher", False)
    if not isinstance(teacher, np.ndarray):
        raise TypeError("teacher must be a numpy array like student")
    if s.shape != t.shape:
        raise ValueError(f"student and teacher shapes differ: {s.shape} vs {t.shape}")
    return s, t


def psd_kl(student, teacher, fs, band, mode, n_fft, step_hz, window, periodic, demean, eps,
           reduction):
    check_mode(mode)
    check_reduction(reduction)
    s, t = _pair(student, teacher)
    spec = grid_spec(s.shape[1], fs, band, n_fft, step_hz)
    loss = load_core().psd_kl_fused_forward(s, t, _frequencies(s.shape[1], *spec), spec[0],
                                            check_window(window), bool(periodic), bool(demean),
                                            float(eps), False, False)[0]
    if reduction == "mean":
        return loss.mean(dtype=np.float64).astype(loss.dtype)
    return loss.sum(dtype=np.float64).astype(loss.dtype) if reduction == "sum" else loss


def rpm_components(student, teacher, fs, band, n_fft):
    s, t = _pair(student, teacher)
    spec = grid_spec(s.shape[1], fs, band, n_fft, None)
    comps, cen, ratio = load_core().rpm_components_forward(
        s, t, _frequencies(s.shape[1], *spec), spec[0], "hann", True, True)[:3]
    return comps, cen, ratio


def peak_frequency(x, fs, band, step_hz, window, demean):
    """Peak (Hz) per row; NaN for a row without power (all equal after ``demean``, or all zero):
    its spectrum has no peak, and the band's lower edge would be a made-up number."""
    x2, squeeze = _as_2d(x, "x", True)
    spec = grid_spec(x2.shape[1], fs, band, None, step_hz)
    out = load_core().peak_frequency_forward(x2, _frequencies(x2.shape[1], *spec), spec[0],
                                             check_window(window), True, bool(demean))
    flat = (x2.max(axis=1) == x2.min(axis=1)) if demean else ~x2.any(axis=1)
    if flat.any():
        out = np.where(flat, np.nan, out)
    return float(out[0]) if squeeze else out
