"""Seeded nuisances: head motion, illumination flicker and drift, sensor noise (compression is the codec).

* Head motion: translation, in-plane rotation and scale as low-pass filtered noise (postural
  sway: Gaussian smoothing with sigma 0.6 s for translation, so most of it lies below 0.5 Hz, the
  lower edge of the HR band) plus occasional quick movements (0.15-0.3 s bumps, ~1 per 6 s, up to
  ~1 px / 1 deg) in *every* view: it is one head, seen by three cameras. Frontal: ~0.6 px / 0.4
  deg std at 192 px; a view multiplies all of it by ``ViewSpec.motion_gain``. A yaw-oscillation
  signal drives the specular changes.
* Illumination: global gain 1 + slow drift (linear ramp up to +-4 % plus a 0.02-0.06 Hz
  sinusoid) + mains flicker aliased by the frame rate (100/120 Hz lamps seen at 30 fps alias to
  10 Hz / 0 Hz; 0.2-0.5 % amplitude) [Lewandowska et al. 2011; Wang et al. 2017 (POS)].
* Sensor noise: zero-mean Gaussian read/shot noise, 1-2 grey levels std per pixel (8-bit webcams
  at indoor light), drawn from a seeded bank of noise frames. It also dithers the 8-bit
  quantisation so that sub-level pulsatile changes (0.1-1 % of ~150 = 0.15-1.5 levels)
  survive spatial averaging.
* Compression: the video codec (MJPG at a given quality by default).

Calibration (issue 10; table in the package docstring): the side views used to get 3x the
frontal motion plus bumps of 2 px / 1.5 (yaw units) that only they had, with translation smoothed
at 0.4 s. Measured on the POS failures, the side views' HR peak then sat at the 30 bpm band edge
(head-motion energy leaking into the band) in nearly every window (POS side MAE 52-57 bpm).
Physically the same head moves for all three cameras, and a 45 deg camera does not see a
lateral sway three times larger (it sees it foreshortened, as the face itself). Now: the same
motion model for every view (``motion_gain`` 1.0 on the sides), bumps in every view at half the
old amplitude, sway smoothed at 0.6 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d


def smooth_noise(rng: np.random.Generator, n: int, fps: float, sigma_s: float) -> np.ndarray:
    """Unit-std low-pass noise of length n (Gaussian kernel with ``sigma_s`` seconds)."""
    x = gaussian_filter1d(rng.standard_normal(n + 64), sigma=max(sigma_s * fps, 0.5), mode="reflect")
    # normalise over the whole filtered sequence: the std of a short slice of a smooth signal is
    # tiny and would blow the slice up (a 0.2 s recording got a head offset of tens of pixels)
    return x[32:32 + n] / (x.std() + 1e-12)


@dataclass
class Motion:
    dx: np.ndarray
    dy: np.ndarray
    angle_deg: np.ndarray
    scale: np.ndarray
    yaw: np.ndarray     # unit-less yaw oscillation in [-1, 1]-ish, drives shading/specular


def head_motion(rng: np.random.Generator, n: int, fps: float, gain: float = 1.0,
                size: int = 192, bumps: bool = True, sway_sigma_s: float = 0.6,
                bump_scale: float = 1.0) -> Motion:
    """Seeded head motion of one recording seen by one camera (pixels at ``size``, degrees).

    Args:
        gain: the camera's apparent-motion multiplier (``ViewSpec.motion_gain``).
        bumps: add quick movements (0.15-0.3 s Gaussian bumps, ~1 per 6 s).
        sway_sigma_s: smoothing (s) of the postural sway (translation); 0.6 s puts most of it
            below 0.5 Hz, the lower edge of the HR band.
        bump_scale: amplitude multiplier of the bumps.
    """
    px = size / 192.0
    dx = 0.6 * px * gain * smooth_noise(rng, n, fps, sway_sigma_s)
    dy = 0.4 * px * gain * smooth_noise(rng, n, fps, sway_sigma_s)
    ang = 0.4 * gain * smooth_noise(rng, n, fps, 0.5)
    sc = 1.0 + 0.004 * gain * smooth_noise(rng, n, fps, 1.0)
    yaw = smooth_noise(rng, n, fps, 0.3)
    if bumps:
        t = np.arange(n) / fps
        for _ in range(rng.poisson(n / fps / 6.0)):
            t0 = rng.uniform(0, n / fps)
            w = rng.uniform(0.15, 0.3)
            g = np.exp(-0.5 * ((t - t0) / w) ** 2)
            dx += rng.normal(0, 1.0) * bump_scale * px * gain * g
            dy += rng.normal(0, 0.5) * bump_scale * px * gain * g
            yaw += rng.normal(0, 1.0) * bump_scale * g
    return Motion(dx, dy, ang, sc, yaw)


def illumination(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """Global gain per frame [n]."""
    t = np.arange(n) / fps
    dur = max(n / fps, 1e-6)
    drift = rng.uniform(-0.04, 0.04) * t / dur
    drift += rng.uniform(0.005, 0.02) * np.sin(2 * np.pi * rng.uniform(0.02, 0.06) * t + rng.uniform(0, 6.3))
    mains = rng.choice([100.0, 120.0])
    alias = abs(mains - fps * np.round(mains / fps))
    flicker = rng.uniform(0.002, 0.005) * np.sin(2 * np.pi * alias * t + rng.uniform(0, 6.3))
    return (1.0 + drift + flicker).astype(np.float32)


class NoiseBank:
    """A seeded bank of Gaussian noise frames; ``draw()`` returns a random one, randomly rolled."""

    def __init__(self, rng: np.random.Generator, shape: tuple, std: float, n_bank: int = 48):
        self.rng = rng
        self.bank = rng.standard_normal((n_bank, *shape), dtype=np.float32) * np.float32(std)

    def draw(self) -> np.ndarray:
        i = self.rng.integers(len(self.bank))
        sh = self.rng.integers(0, self.bank.shape[1])
        return np.roll(self.bank[i], sh, axis=0) if sh else self.bank[i]
