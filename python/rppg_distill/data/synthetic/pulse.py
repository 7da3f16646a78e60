"""Physiological signals of one synthetic subject: pulse (PPG), respiration and chest displacement.

Model (all amplitudes are per-subject random draws from the ranges below, seeded):

* Heart rate ``HR(t)`` (bpm) = ``HR0`` + respiratory sinus arrhythmia (RSA, 1-4 bpm at the
  respiration frequency) + a Mayer-wave term (0.5-2.5 bpm near 0.1 Hz) + a slow random drift
  (low-pass noise, ~1.5 bpm std) [Task Force of the ESC/NASPE 1996, HRV standards]. For the
  ``"after"`` state (MCD-rPPG: 15 squats) HR starts 15-35 bpm higher and recovers with a time
  constant of 40-90 s. Clipped to [45, 150] bpm.
* Cardiac phase ``phi(t) = integral HR/60 dt``. One beat is the classic two-Gaussian PPG
  template: a systolic wave at 0.18-0.25 of the cycle and a reflected (diastolic) wave at
  0.42-0.55 with relative amplitude 0.3-0.6; the dip between them is the dicrotic notch and the
  template carries the harmonics [Banerjee et al. 2015; Tang et al. 2020, "PPG synthesis"
  (two/multi-Gaussian models); Martin-Martinez et al. 2013].
* Respiration 0.15-0.4 Hz (9-24 breaths/min; "after": +0.05-0.1 Hz) modulates the PPG by
  baseline wander (RIIV, ~10 % of pulse amplitude), amplitude (RIAV, ~10 %) and the RSA above
  (RIFV) [Charlton et al. 2016, Physiol. Meas. 37:610].
* Chest displacement for radar: respiration 1-5 mm amplitude (peak-to-peak 2-10 mm; chest wall
  4-12 mm typical at rest [Droitcour 2004; Li et al. 2013, IEEE T-MTT 61:2046]) plus a cardiac
  micro-motion of 0.05-0.5 mm with harmonics (weights 1, 0.3-0.6, 0.1-0.3), which leads the
  facial PPG by the pulse transit time (PTT, 0.1-0.2 s).

The PPG label is the *reflected-light* pulse: positive where skin pixels get brighter, i.e. the
sign of ``-blood volume`` (the sign most rPPG datasets' labels correlate positively with).
It is normalised to zero mean, unit standard deviation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d


@dataclass
class Physiology:
    """Per-subject, per-state parameters (drawn by ``draw_physiology``)."""

    hr0_bpm: float
    resp_hz: float
    rsa_bpm: float
    mayer_bpm: float
    mayer_hz: float
    drift_bpm: float
    recovery_bpm: float = 0.0
    recovery_tau_s: float = 60.0
    systole_pos: float = 0.2
    systole_width: float = 0.07
    diastole_pos: float = 0.48
    diastole_width: float = 0.1
    diastole_amp: float = 0.45
    resp_mm: float = 3.0
    cardiac_mm: float = 0.2
    cardiac_harmonics: tuple = (1.0, 0.45, 0.2)
    ptt_s: float = 0.15
    extra: dict = field(default_factory=dict)


def draw_physiology(rng: np.random.Generator, state: str = "before") -> Physiology:
    """Draw one subject's parameters; ``state="after"`` means after exercise (higher HR, faster breathing)."""
    after = state == "after"
    hr0 = rng.uniform(55.0, 100.0)
    recov = rng.uniform(15.0, 35.0) if after else 0.0
    hr0 = min(hr0, 150.0 - recov)
    resp = rng.uniform(0.15, 0.32) + (rng.uniform(0.05, 0.08) if after else 0.0)
    return Physiology(
        hr0_bpm=float(hr0),
        resp_hz=float(min(resp, 0.4)),
        rsa_bpm=float(rng.uniform(1.0, 4.0)),
        mayer_bpm=float(rng.uniform(0.5, 2.5)),
        mayer_hz=float(rng.uniform(0.08, 0.12)),
        drift_bpm=float(rng.uniform(0.5, 2.0)),
        recovery_bpm=float(recov),
        recovery_tau_s=float(rng.uniform(40.0, 90.0)),
        systole_pos=float(rng.uniform(0.18, 0.25)),
        systole_width=float(rng.uniform(0.06, 0.085)),
        diastole_pos=float(rng.uniform(0.42, 0.55)),
        diastole_width=float(rng.uniform(0.08, 0.12)),
        diastole_amp=float(rng.uniform(0.3, 0.6) * (0.7 if after else 1.0)),
        resp_mm=float(rng.uniform(1.0, 5.0)),
        cardiac_mm=float(rng.uniform(0.05, 0.5)),
        cardiac_harmonics=(1.0, float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.1, 0.3))),
        ptt_s=float(rng.uniform(0.1, 0.2)),
    )


def _beat_template(frac: np.ndarray, p: Physiology) -> np.ndarray:
    """Two-Gaussian PPG beat (blood volume) on the cycle fraction in [0, 1), periodic."""
    out = np.zeros_like(frac)
    for shift in (-1.0, 0.0, 1.0):
        out += np.exp(-0.5 * ((frac - p.systole_pos + shift) / p.systole_width) ** 2)
        out += p.diastole_amp * np.exp(-0.5 * ((frac - p.diastole_pos + shift) / p.diastole_width) ** 2)
    return out


@dataclass
class Signals:
    """Signals on a fine time grid ``t`` (s) at ``fs`` Hz."""

    t: np.ndarray
    fs: float
    hr_bpm: np.ndarray      # instantaneous HR
    ppg: np.ndarray         # reflected-light pulse, zero mean, unit std
    resp: np.ndarray        # respiration phase signal in [-1, 1]
    chest_mm: np.ndarray    # chest displacement (mm), cardiac part delayed by -PTT (leads PPG)

    def at(self, times: np.ndarray, which: str = "ppg") -> np.ndarray:
        """Linear interpolation of a signal at arbitrary times (s)."""
        return np.interp(times, self.t, getattr(self, which))


def make_signals(p: Physiology, duration_s: float, rng: np.random.Generator,
                 fs: float = 480.0, pad_s: float = 2.0) -> Signals:
    """Synthesize HR, PPG, respiration and chest displacement for ``duration_s`` seconds.

    ``pad_s`` extra seconds on both sides let a lagged radar or a resampler read past the ends.
    """
    n = int(round((duration_s + 2 * pad_s) * fs))
    t = np.arange(n) / fs - pad_s
    resp_phase = 2 * np.pi * p.resp_hz * t + rng.uniform(0, 2 * np.pi)
    resp = np.sin(resp_phase) + 0.25 * np.sin(2 * resp_phase + 0.5)  # inspiration/expiration asymmetry
    resp /= np.max(np.abs(resp))
    lo_fs = 4.0                                   # drift is computed at 4 Hz, then interpolated
    n_lo = int(np.ceil(n / fs * lo_fs)) + 2
    d_lo = gaussian_filter1d(rng.standard_normal(n_lo + 128), sigma=8.0 * lo_fs, mode="reflect")[64:64 + n_lo]
    drift = np.interp(np.arange(n) / fs, np.arange(n_lo) / lo_fs, d_lo)
    drift = p.drift_bpm * drift / (np.sqrt(np.mean(drift ** 2)) + 1e-12)  # RMS drift_bpm, not mean-removed
    drift = np.clip(drift, -3 * p.drift_bpm, 3 * p.drift_bpm)
    hr = (p.hr0_bpm + p.recovery_bpm * np.exp(-np.clip(t, 0, None) / p.recovery_tau_s)
          + p.rsa_bpm * np.sin(resp_phase)
          + p.mayer_bpm * np.sin(2 * np.pi * p.mayer_hz * t + rng.uniform(0, 2 * np.pi))
          + drift)
    hr = np.clip(hr, 45.0, 150.0)
    phase = np.cumsum(hr / 60.0) / fs + rng.uniform(0, 1)       # cycles
    beat = _beat_template(np.mod(phase, 1.0), p)
    blood = (1.0 + 0.1 * resp) * beat + 0.1 * resp * beat.std() / 0.5  # RIAV + RIIV
    ppg = -(blood - blood.mean())
    ppg /= ppg.std() + 1e-12
    # cardiac chest micro-motion: harmonic series on the cardiac phase, leading the PPG by PTT
    phase_chest = np.interp(t + p.ptt_s, t, phase)  # edges clamp inside the padding
    card = sum(w * np.cos(2 * np.pi * (k + 1) * phase_chest + 0.3 * k)
               for k, w in enumerate(p.cardiac_harmonics))
    card *= p.cardiac_mm / (np.max(np.abs(card)) + 1e-12)
    chest = p.resp_mm * resp + card
    return Signals(t=t, fs=fs, hr_bpm=hr, ppg=ppg.astype(np.float64), resp=resp, chest_mm=chest)
