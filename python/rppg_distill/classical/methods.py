"""Classical rPPG methods on a spatially averaged RGB trace [T, 3] (numpy only).

Each method takes ``rgb`` float [T, 3] (R, G, B columns, any positive scale such as 0..255 means)
and ``fs`` in Hz, and returns a pulse signal float64 [T] (arbitrary scale and sign convention
"up = more blood volume" is not guaranteed for every method; HR does not depend on it).

References:
    GREEN: Verkruysse, Svaasand & Nelson, Opt. Express 2008.
    ICA:   Poh, McDuff & Picard, Opt. Express 2010 (here: FastICA, component picked by spectral
           peak concentration in the band instead of "always the second one").
    CHROM: de Haan & Jeanne, IEEE TBME 2013.
    PBV:   de Haan & van Leest, Physiol. Meas. 2014.
    POS:   Wang, den Brinker, Stuijk & de Haan, IEEE TBME 2017.
    LGI:   Pilz, Krajewski, Zaeske & Blazek, CVPR-W 2018.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as _sps

from rppg_distill.signal._checks import check_band, check_fs
from rppg_distill.signal.filters import bandpass


def check_rgb(rgb, fs=None, min_len: int = 2) -> np.ndarray:
    """Float64 [T, 3] trace; ValueError on wrong shape, too few samples, NaN/inf."""
    arr = np.asarray(rgb, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"rgb trace must have shape [T, 3], got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("rgb trace is empty")
    if arr.shape[0] < min_len:
        raise ValueError(f"rgb trace has {arr.shape[0]} samples, the method needs at least {min_len}"
                         + (f" ({min_len / fs:.2f} s at {fs} Hz)" if fs else ""))
    if not np.all(np.isfinite(arr)):
        raise ValueError("rgb trace contains NaN or inf")
    return arr


def _normalize(c: np.ndarray, axis: int = 0) -> np.ndarray:
    mean = c.mean(axis=axis, keepdims=True)
    if np.any(mean == 0):
        raise ValueError("rgb trace has a channel with zero mean; cannot normalize (all-black input?)")
    return c / mean


def _safe_std_ratio(a: np.ndarray, b: np.ndarray, axis=-1) -> np.ndarray:
    sa, sb = a.std(axis=axis), b.std(axis=axis)
    return np.where(sb > 0, sa / np.where(sb > 0, sb, 1.0), 0.0)


def green(rgb, fs=None) -> np.ndarray:
    """GREEN: the mean-normalized green channel, mean removed."""
    c = check_rgb(rgb)
    g = c[:, 1]
    m = g.mean()
    return (g / m - 1.0) if m != 0 else g - m


def pos(rgb, fs, window_s: float = 1.6) -> np.ndarray:
    """POS (Wang 2017): windows of ``window_s`` with hop 1, projected on the plane orthogonal to skin tone.

    Per window: temporal normalization ``Cn = C / mean(C)``; ``S = [[0, 1, -1], [-2, 1, 1]] Cn``;
    ``h = S0 + (std S0 / std S1) S1`` with its mean removed; overlap-add into the output.
    """
    fs = check_fs(fs)
    win = int(math.ceil(window_s * fs))
    c = check_rgb(rgb, fs, min_len=max(win, 2))
    frames = np.lib.stride_tricks.sliding_window_view(c, win, axis=0)  # [W, 3, win]
    mean = frames.mean(axis=2, keepdims=True)
    if np.any(mean == 0):
        raise ValueError("rgb trace has a window with a zero channel mean (all-black input?)")
    cn = frames / mean
    s0 = cn[:, 1] - cn[:, 2]
    s1 = -2.0 * cn[:, 0] + cn[:, 1] + cn[:, 2]
    h = s0 + _safe_std_ratio(s0, s1)[:, None] * s1
    h -= h.mean(axis=1, keepdims=True)
    out = np.zeros(c.shape[0])
    for k in range(win):  # overlap-add: window m covers samples m .. m + win - 1
        out[k:k + h.shape[0]] += h[:, k]
    return out


def chrom(rgb, fs, window_s: float = 1.6, band=(0.7, 4.0), order: int = 3) -> np.ndarray:
    """CHROM (de Haan 2013): windows of ``window_s`` with half overlap.

    Per window: ``X = 3Rn - 2Gn``, ``Y = 1.5Rn + Gn - 1.5Bn`` of the mean-normalized colours;
    band-pass both (Butterworth ``order``, filtfilt); ``S = Xf - (std Xf / std Yf) Yf``;
    Hann-window and overlap-add.
    """
    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    win = int(math.ceil(window_s * fs))
    win += win % 2
    c = check_rgb(rgb, fs, min_len=win)
    b, a = _sps.butter(order, [lo, hi], btype="bandpass", fs=fs)
    if win <= 3 * max(len(a), len(b)):
        raise ValueError(f"CHROM window of {win} samples is too short for its order-{order} "
                         f"band-pass at {fs} Hz; use a longer window_s")
    hop = win // 2
    n_win = (c.shape[0] - win) // hop + 1
    hann = np.hanning(win)
    starts = np.arange(n_win) * hop
    seg = c[starts[:, None] + np.arange(win)]            # [W, win, 3]
    seg = _normalize(seg, axis=1)
    x = 3.0 * seg[..., 0] - 2.0 * seg[..., 1]
    y = 1.5 * seg[..., 0] + seg[..., 1] - 1.5 * seg[..., 2]
    xy = _sps.filtfilt(b, a, np.concatenate([x, y]), axis=1)  # all windows in one call
    xf, yf = xy[:n_win], xy[n_win:]
    s = xf - _safe_std_ratio(xf, yf)[:, None] * yf
    out = np.zeros(c.shape[0])
    for w in range(n_win):  # overlap-add
        out[starts[w]:starts[w] + win] += hann * s[w]
    return out



def pbv(rgb, fs, band=(0.7, 4.0), window_s: float | None = None, signature=None) -> np.ndarray:
    """PBV (de Haan & van Leest 2014): blood-volume pulse signature.

    With ``C`` the band-passed, mean-normalized traces [3, N]: ``pbv = std(C) / ||std(C)||``,
    ``Q = C C^T``, ``W = Q^-1 pbv`` and ``bvp = C^T W / (pbv^T W)``. Computed over the whole
    trace, or per window of ``window_s`` seconds (half overlap, Hann overlap-add).

    The data-driven signature (docs/METHODS.md §4, as the common peers compute it) follows whatever
    dominates the band: strong in-band intensity flicker captures it. ``signature`` (3 values,
    e.g. the paper's prior ``(0.27, 0.80, 0.54)`` for white light) fixes it instead, which
    rejects such flicker.
    """
    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    c = check_rgb(rgb, fs, min_len=16)
    cn = bandpass(_normalize(c).T, fs, lo, hi, order=2)  # [3, T]; raises if too short

    fixed = None
    if signature is not None:
        fixed = np.asarray(signature, dtype=np.float64).reshape(-1)
        if fixed.shape != (3,) or not np.all(np.isfinite(fixed)) or np.linalg.norm(fixed) == 0:
            raise ValueError(f"signature must be 3 finite values, not all zero, got {signature!r}")

    def one(seg: np.ndarray) -> np.ndarray:
        sig = seg.std(axis=1) if fixed is None else fixed
        norm = np.linalg.norm(sig)
        if norm == 0:
            return np.zeros(seg.shape[1])
        p = sig / norm
        q = seg @ seg.T
        w = np.linalg.lstsq(q, p, rcond=None)[0]
        den = p @ w
        return seg.T @ w / den if den != 0 else seg.T @ w

    if window_s is None:
        return one(cn)
    win = max(16, int(math.ceil(window_s * fs)))
    win += win % 2
    if cn.shape[1] < win:
        raise ValueError(f"rgb trace shorter than one PBV window ({win} samples)")
    hop, hann, out = win // 2, np.hanning(win), np.zeros(cn.shape[1])
    for w in range((cn.shape[1] - win) // hop + 1):
        s = one(cn[:, w * hop:w * hop + win])
        out[w * hop:w * hop + win] += hann * (s - s.mean())
    return out


def _fastica(x: np.ndarray, n_iter: int = 200, tol: float = 1e-6, seed: int = 0) -> np.ndarray:
    """Symmetric FastICA (logcosh) on x [C, N]; returns sources [C, N]."""
    x = x - x.mean(axis=1, keepdims=True)
    cov = x @ x.T / x.shape[1]
    d, e = np.linalg.eigh(cov)
    d = np.maximum(d, 1e-12)
    z = (e / np.sqrt(d)).T @ x  # whitened
    rng = np.random.default_rng(seed)
    w = np.linalg.qr(rng.standard_normal((x.shape[0], x.shape[0])))[0]
    for _ in range(n_iter):
        wz = np.tanh(w @ z)
        w_new = wz @ z.T / z.shape[1] - np.diag((1 - wz ** 2).mean(axis=1)) @ w
        u, _, vt = np.linalg.svd(w_new)
        w_new = u @ vt
        if np.max(np.abs(np.abs(np.sum(w_new * w, axis=1)) - 1)) < tol:
            w = w_new
            break
        w = w_new
    return w @ z


def ica(rgb, fs, band=(0.7, 4.0), seed: int = 0) -> np.ndarray:
    """ICA (Poh 2010): FastICA on the detrended, normalized, band-passed traces.

    Of the three sources, returns the one with the highest PSD peak concentration in ``band``
    (sign made to correlate positively with the green channel).
    """
    fs = check_fs(fs)
    lo, hi = check_band(band, fs)
    c = check_rgb(rgb, fs, min_len=16)
    cn = _normalize(c)
    cn = (cn - cn.mean(axis=0)) / np.where(cn.std(axis=0) > 0, cn.std(axis=0), 1.0)
    cn = bandpass(cn.T, fs, lo, hi, order=2)
    src = _fastica(cn, seed=seed)
    spec = np.abs(np.fft.rfft(src * np.hanning(src.shape[1]), axis=1)) ** 2
    f = np.fft.rfftfreq(src.shape[1], 1.0 / fs)
    m = (f >= lo) & (f <= hi)
    if not m.any():
        raise ValueError("rgb trace too short for ICA's band")
    conc = spec[:, m].max(axis=1) / np.maximum(spec[:, m].sum(axis=1), 1e-30)
    best = src[int(np.argmax(conc))]
    if np.dot(best, cn[1]) < 0:
        best = -best
    return best


def lgi(rgb, fs=None) -> np.ndarray:
    """LGI (Pilz 2018): project out the dominant (illumination/intensity) direction.

    ``U`` = first left singular vector of ``C C^T`` (C [3, T]); ``P = I - U U^T``; ``Y = P C``;
    returns the green row of ``Y`` (mean removed).
    """
    c = check_rgb(rgb, min_len=2).T
    u, _, _ = np.linalg.svd(c @ c.T)
    s = u[:, :1]
    y = (np.eye(3) - s @ s.T) @ c
    g = y[1]
    return g - g.mean()


METHODS = {"pos": pos, "chrom": chrom, "pbv": pbv, "green": green, "ica": ica, "lgi": lgi}


def run_method(name: str, rgb, fs, **kwargs) -> np.ndarray:
    """Run a classical method by name ("pos", "chrom", "pbv", "green", "ica", "lgi")."""
    try:
        fn = METHODS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown classical method {name!r}; known: {sorted(METHODS)}") from None
    return fn(rgb, fs, **kwargs)
