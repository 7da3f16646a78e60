"""Fitzpatrick skin types I-VI: base skin colour and relative pulsatile amplitude.

Colour. Each type gets a representative CIELAB skin colour whose individual typology angle
``ITA = atan((L* - 50) / b*)`` (degrees) falls in the ITA class that colorimetric studies map to
the type: > 55 very light (I), 41-55 light (II), 28-41 intermediate (III), 10-28 tan (IV),
-30-10 brown (V), < -30 dark (VI) [Chardon et al. 1991, Int J Cosmet Sci 13:191; Del Bino &
Bernerd 2013, Br J Dermatol 169 Suppl 3:33]. The L*a*b* values are converted to sRGB (D65) and
the photo's skin pixels are rescaled per channel so that their mean becomes that colour
(``skin_gain``); texture and shading of the photo stay.

Pulsatile amplitude. Epidermal melanin absorbs strongly in the blue-green, so less of the
remitted light has crossed the pulsating dermal vessels and the relative (AC/DC) pulse falls with
skin type: reflectance PPG at green wavelengths loses a large part of its modulation from light
to dark skin [Fallow et al. 2013, J Clin Monit Comput 27:313], and camera rPPG has lower SNR and
larger HR errors on types V-VI [Nowara et al. 2020, CVPR-W "A meta-analysis of the impact of skin
type and gender on non-contact photoplethysmography measurements"; Dasari et al. 2021, npj Digit
Med 4:91; Chari et al. 2020, "Diverse R-PPG"]. ``SkinType.pulse_scale`` (1.0 for type I down
to 0.70 for VI) multiplies the subject's relative (AC/DC) green amplitude; the channel ratios
(the PBV signature) stay. The darker base colour lowers the pulse in grey levels once more (it
is a fraction of the pixel value): at type VI the pulse is ~0.3x type I's in grey levels against
the same sensor noise, i.e. ~10 dB less SNR, so dark skin is the hardest case, as in real
recordings. The scale values are this generator's choice inside that literature's direction
(calibrated in issue 10 so that POS still finds type V-VI pulses on the frontal view most of the
time), not measured constants.

Assignment: subject ``k`` (counted from the first subject) gets type ``perm[k % 6]`` with ``perm``
a seeded permutation of I-VI, so any 6 consecutive subjects cover all six types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TYPES = ("I", "II", "III", "IV", "V", "VI")


@dataclass(frozen=True)
class SkinType:
    """One Fitzpatrick type: representative CIELAB colour and relative pulsatile amplitude."""

    name: str
    lab: tuple[float, float, float]    # L*, a*, b* (D65)
    pulse_scale: float                 # pulsatile amplitude relative to type I

    @property
    def ita_deg(self) -> float:
        """Individual typology angle (degrees)."""
        return float(np.degrees(np.arctan2(self.lab[0] - 50.0, self.lab[2])))

    @property
    def rgb(self) -> np.ndarray:
        """sRGB colour, float32 [3] in 0..255."""
        return lab_to_srgb(self.lab)


SKIN_TYPES = {
    "I": SkinType("I", (72.0, 9.0, 14.0), 1.00),      # ITA 57.5
    "II": SkinType("II", (66.0, 10.0, 16.5), 0.97),   # ITA 44.1
    "III": SkinType("III", (60.0, 11.0, 17.5), 0.93),  # ITA 29.7
    "IV": SkinType("IV", (54.5, 12.0, 19.0), 0.87),   # ITA 13.3
    "V": SkinType("V", (44.0, 12.0, 18.0), 0.80),     # ITA -18.4
    "VI": SkinType("VI", (33.0, 10.0, 13.0), 0.70),   # ITA -52.6
}


def lab_to_srgb(lab) -> np.ndarray:
    """CIELAB (D65) -> sRGB float32 [3] in 0..255 (clipped)."""
    L, a, b = (float(v) for v in lab)
    fy = (L + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0
    finv = lambda f: f ** 3 if f ** 3 > 0.008856 else (f - 16.0 / 116.0) / 7.787  # noqa: E731
    xyz = np.array([0.95047 * finv(fx), 1.0 * finv(fy), 1.08883 * finv(fz)])
    m = np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]])
    lin = np.clip(m @ xyz, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return (255.0 * srgb).astype(np.float32)


def skin_gain(skin_type: str, photo_skin_rgb) -> np.ndarray:
    """Per-channel gain [3] that takes the photo's mean skin colour ``photo_skin_rgb`` to the type's."""
    ref = np.asarray(photo_skin_rgb, dtype=np.float64).reshape(3)
    if np.any(ref <= 0):
        raise ValueError(f"photo skin colour must be positive per channel, got {ref}")
    return (get(skin_type).rgb / ref).astype(np.float32)


def get(skin_type: str) -> SkinType:
    if skin_type not in SKIN_TYPES:
        raise ValueError(f"unknown Fitzpatrick type {skin_type!r}; known: {TYPES}")
    return SKIN_TYPES[skin_type]


def assign_type(seed: int, subject_index: int) -> str:
    """Fitzpatrick type of the ``subject_index``-th subject (0-based) of a set generated with ``seed``:
    a seeded permutation of I-VI, cycled, so every 6 consecutive subjects cover all types."""
    perm = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5E1])).permutation(len(TYPES))
    return TYPES[int(perm[int(subject_index) % len(TYPES)])]
