"""A face video whose skin pulses with a blood-volume colour signature (the classical methods
cancel pure brightness changes, so ``helpers.pulse_frames`` is invisible to POS/CHROM)."""

from __future__ import annotations

import numpy as np

# relative pulse amplitude of R, G, B in skin (de Haan & van Leest 2014, PBV for white light)
PBV_SIGNATURE = np.array([0.27, 0.80, 0.54])


def skin_pulse_frames(hr_bpm: float = 72.0, seconds: float = 14.0, fps: float = 30.0,
                      size=(320, 240), amp: float = 0.01, flicker: float = 0.01, seed: int = 0):
    """(frames uint8 [N, H, W, 3], timestamps [N]) of the astronaut photo: skin-coloured pixels
    pulse at ``hr_bpm`` with ``PBV_SIGNATURE``; the whole frame also flickers in brightness
    (slow random drift, ``flicker`` relative) and gets sensor noise."""
    from helpers import face_image

    from rppg_distill.classical import skin_mask_ycrcb

    rng = np.random.default_rng(seed)
    img = face_image(size)
    skin = skin_mask_ycrcb(img)[..., None].astype(np.float32)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    pulse = np.sin(2 * np.pi * hr_bpm / 60.0 * t)
    drift = np.cumsum(rng.normal(0, 1, n))
    drift = flicker * (drift - drift.mean()) / max(np.abs(drift).max(), 1e-9)
    base = img.astype(np.float32)
    noise = rng.normal(0, 1.0, (8,) + base.shape).astype(np.float32)
    frames = np.empty((n, size[1], size[0], 3), np.uint8)
    for i in range(n):
        gain = 1.0 + drift[i] + skin * (amp * PBV_SIGNATURE * pulse[i])
        frames[i] = np.clip(base * gain + noise[rng.integers(8)], 0, 255)
    return frames, t
