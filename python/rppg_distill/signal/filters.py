"""Zero-phase Butterworth band-pass and detrending (numpy/scipy, no torch)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as _sps
from scipy import sparse as _sparse
from scipy.sparse.linalg import spsolve

from rppg_distill.signal._checks import check_band, check_fs, check_signal


@lru_cache(maxsize=64)
def _butter_sos(order: int, lo: float, hi: float, fs: float) -> np.ndarray:
    return _sps.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")


def bandpass(x, fs, lo: float = 0.75, hi: float = 3.0, order: int = 6, axis: int = -1) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``scipy.signal.sosfiltfilt``).

    The filter is designed with ``butter(order, [lo, hi], btype="bandpass")`` in second-order
    sections (numerically stable at low cutoffs; the transfer function equals the ``b, a`` design
    of the RPM-Distill evaluation), then run forward and backward (filtfilt).

    Args:
        x: array [..., T] (filtered along ``axis``).
        fs: sampling rate in Hz.
        lo, hi: pass band edges in Hz, ``0 < lo < hi < fs/2``.
        order: Butterworth order of the design (>= 1).

    Returns:
        float64 array, same shape as ``x``.

    Raises:
        ValueError: empty / NaN input, a band outside (0, fs/2), or a signal too short for
            filtfilt's edge padding.
    """
    fs = check_fs(fs)
    lo, hi = check_band((lo, hi), fs)
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer, got {order}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("bandpass needs an array with a time axis, got a scalar")
    arr = np.moveaxis(arr, axis, -1)
    check_signal(arr, "bandpass input", ndim=tuple(range(1, 8)))
    sos = _butter_sos(int(order), lo, hi, fs)
    padlen = 3 * (2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum()))
    if arr.shape[-1] <= padlen:
        raise ValueError(
            f"signal too short for an order-{order} band-pass with filtfilt: {arr.shape[-1]} samples, "
            f"needs more than {padlen} ({padlen / fs:.2f} s at {fs} Hz)")
    out = _sps.sosfiltfilt(sos, arr, axis=-1, padlen=padlen)
    return np.moveaxis(out, -1, axis)


_DENSE_DETREND_MAX = 1024


@lru_cache(maxsize=16)
def _detrend_operator(n: int, lam: float) -> np.ndarray:
    """Dense [n, n] matrix ``I - (I + lam^2 D2^T D2)^-1``: detrended = operator @ x."""
    d2 = np.diff(np.eye(n), 2, axis=0)
    a = np.eye(n) + (lam ** 2) * (d2.T @ d2)
    op = np.eye(n) - np.linalg.inv(a)
    op.setflags(write=False)
    return op


def detrend_lambda(fs, lam_at_30: float = 100.0) -> float:
    """Smoothness-priors ``lam`` at ``fs`` with the same cutoff in Hz as ``lam_at_30`` at 30 fps.

    The detrending high-pass has its half-power point where ``lam^2 (2 sin(w/2))^4 = 1``, i.e.
    ``w ~ 1/sqrt(lam)`` rad/sample or ``f ~ fs / (2 pi sqrt(lam))`` Hz: keeping ``f`` fixed means
    ``lam`` grows with ``fs^2``. rPPG-Toolbox's ``lam = 100`` at 30 fps cuts near 0.48 Hz.
    """
    fs = check_fs(fs)
    if not np.isfinite(lam_at_30) or lam_at_30 <= 0:
        raise ValueError(f"lam_at_30 must be > 0, got {lam_at_30}")
    return float(lam_at_30) * (fs / 30.0) ** 2


def detrend(x, lam: float = 100.0, axis: int = -1) -> np.ndarray:
    """Smoothness-priors detrending (Tarvainen et al. 2002), as used by the rPPG baselines.

    Solves ``(I + lam^2 D2^T D2) z = x`` for the trend ``z`` (D2: second differences) and returns
    ``x - z``. ``lam`` around 100 at 30 fps removes drifts slower than about 0.1 Hz.

    Args:
        x: array [T] or [..., T].
        lam: regularization; larger means a smoother trend (only slower drifts are removed).

    Returns:
        float64 array, same shape.
    """
    arr = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    check_signal(arr, "detrend input", ndim=tuple(range(1, 8)))
    if not np.isfinite(lam) or lam <= 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    n = arr.shape[-1]
    if n < 3:
        return np.moveaxis(arr - arr.mean(axis=-1, keepdims=True), -1, axis)
    if n <= _DENSE_DETREND_MAX:  # streaming windows: one cached matrix product per call
        return np.moveaxis(arr @ _detrend_operator(n, float(lam)).T, -1, axis)
    d2 = _sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    a = (_sparse.identity(n) + (lam ** 2) * (d2.T @ d2)).tocsc()
    flat = arr.reshape(-1, n).T  # [T, M]
    trend = spsolve(a, flat)
    trend = np.asarray(trend).reshape(n, -1).T.reshape(arr.shape)
    return np.moveaxis(arr - trend, -1, axis)


def demean(x, axis: int = -1) -> np.ndarray:
    """Subtract the mean along ``axis`` (float64)."""
    arr = np.asarray(x, dtype=np.float64)
    return arr - arr.mean(axis=axis, keepdims=True)
