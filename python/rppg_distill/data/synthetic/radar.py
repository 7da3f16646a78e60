"""77 GHz FMCW radar: I/Q beat signal from chest displacement, and the DCA1000 packet layout.

Physics (TI AWR1443-class radar as in EquiPleth [Vilesov et al. 2022]):

* Carrier 77 GHz, wavelength ``lambda = c / f = 3.9 mm``. A reflector at range ``R(t) = R0 + d(t)``
  gives, per chirp, a complex beat tone whose frequency encodes R0 (range bin
  ``R0 / dR``, ``dR = c / (2 B)``) and whose phase is ``4 pi d(t) / lambda`` [Richards,
  Fundamentals of Radar Signal Processing; TI app note SWRA553 "Introduction to mmWave sensing"].
  Displacements of 0.05-0.5 mm therefore move the phase by 0.16-1.6 rad; 1-5 mm of breathing by
  3-16 rad (phase wraps, which the 5-bin I/Q representation keeps).
* Range resolution ``dR = 4.7 cm`` (B ~ 3.2 GHz effective); the chest at 0.45-0.75 m lands in
  bins ~10-16, inside the [5, 20) search window of the EquiPleth processing.
* The chest is an extended target: 3-5 scatterers spread over +-4 cm in range with decreasing
  amplitudes and a per-scatterer displacement gain 0.6-1.0 (range-bin spread); plus static clutter
  (furniture/wall) beyond 1 m, occasional moving clutter (a 1-3 s burst with a random-walk phase
  at 0.3-1 m, e.g. a passing arm) and complex white noise (SNR of the chest peak 15-25 dB per
  sample before the range FFT).
* One chirp per frame at 120 Hz (4x a 30 fps camera). The DCA1000 streams interleaved int16;
  with 512 complex ADC samples per chirp, two consecutive complex samples are packed as
  ``[I0, I1, Q0, Q1]`` so that ``x[0::2] = raw[0::4] + 1j raw[2::4]`` and
  ``x[1::2] = raw[1::4] + 1j raw[3::4]``; the reader keeps every second complex sample (256).
* ``lag_s`` shifts the radar in time against the video (desynchronisation switch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

C = 299_792_458.0
F_CARRIER = 77e9
WAVELENGTH_MM = C / F_CARRIER * 1e3          # ~3.89 mm
RANGE_RES_M = 0.047
N_ADC = 512                                  # complex ADC samples per chirp (reader keeps 256)
CHIRP_HZ = 120.0
DCA_PACKET_U16 = 728                         # 1456-byte UDP payload of the DCA1000


@dataclass
class RadarParams:
    range_m: float = 0.6
    n_scatterers: int = 4
    spread_m: float = 0.04
    snr_db: float = 20.0
    amplitude: float = 1500.0                # ADC counts of the main scatterer
    clutter_prob: float = 0.3                # probability of one moving-clutter burst per recording
    lag_s: float = 0.0


def draw_radar_params(rng: np.random.Generator, lag_s: float = 0.0) -> RadarParams:
    return RadarParams(range_m=float(rng.uniform(0.45, 0.75)), n_scatterers=int(rng.integers(3, 6)),
                       spread_m=float(rng.uniform(0.02, 0.04)), snr_db=float(rng.uniform(15, 25)),
                       amplitude=float(rng.uniform(1000, 2500)), lag_s=float(lag_s))


def fmcw_iq(chest_mm_at, duration_s: float, rng: np.random.Generator, p: RadarParams,
            chirp_hz: float = CHIRP_HZ, n_adc: int = N_ADC) -> np.ndarray:
    """Complex beat samples [n_chirps, n_adc] (ADC counts) for one recording.

    ``chest_mm_at(times_s)`` returns the chest displacement (mm) at the given times; the radar
    samples it at ``t - lag_s`` so a positive lag delays the radar against the video.
    """
    n_chirps = int(round(duration_s * chirp_hz))
    t = np.arange(n_chirps) / chirp_hz
    d = chest_mm_at(t - p.lag_s)                                          # [T] mm
    n = np.arange(n_adc)
    # the reader keeps every 2nd sample of n_adc -> n_adc // 2 range bins over [0, 2 * fs/2)
    bins_per_m = 1.0 / RANGE_RES_M
    sig = np.zeros((n_chirps, n_adc), np.complex128)
    offsets = np.linspace(-p.spread_m, p.spread_m, p.n_scatterers)
    for k, off in enumerate(offsets):
        r = p.range_m + off
        amp = p.amplitude * np.exp(-0.5 * (off / (0.6 * p.spread_m + 1e-9)) ** 2) * rng.uniform(0.7, 1.0)
        gain = 1.0 if k == p.n_scatterers // 2 else rng.uniform(0.6, 1.0)
        beat = r * bins_per_m / (n_adc // 2) / 2.0                        # cycles per ADC sample
        phase0 = rng.uniform(0, 2 * np.pi) + 4 * np.pi * r * 1e3 / WAVELENGTH_MM
        ph = phase0 + 4 * np.pi * gain * d / WAVELENGTH_MM                # [T]
        sig += amp * np.exp(1j * (2 * np.pi * beat * n[None, :] + ph[:, None]))
    # static clutter beyond 1 m (furniture, wall)
    for _ in range(int(rng.integers(1, 4))):
        r = rng.uniform(1.1, 2.5)
        beat = r * bins_per_m / (n_adc // 2) / 2.0
        sig += rng.uniform(0.2, 0.8) * p.amplitude * np.exp(1j * (2 * np.pi * beat * n[None, :]
                                                                   + rng.uniform(0, 2 * np.pi)))
    # occasional moving clutter
    if rng.uniform() < p.clutter_prob and duration_s > 2:
        dur = rng.uniform(1.0, 3.0)
        t0 = rng.uniform(0, max(duration_s - dur, 0.1))
        sel = (t >= t0) & (t < t0 + dur)
        r = rng.uniform(0.3, 1.0)
        beat = r * bins_per_m / (n_adc // 2) / 2.0
        walk = np.cumsum(rng.normal(0, 0.4, sel.sum()))
        env = np.sin(np.pi * (t[sel] - t0) / dur)
        sig[sel] += (0.5 * p.amplitude * env * np.exp(1j * walk))[:, None] * np.exp(1j * 2 * np.pi * beat * n[None, :])
    noise_std = p.amplitude / (10 ** (p.snr_db / 20.0)) / np.sqrt(2)
    sig += rng.normal(0, noise_std, sig.shape) + 1j * rng.normal(0, noise_std, sig.shape)
    return sig


def pack_dca1000(iq: np.ndarray) -> np.ndarray:
    """Complex chirps [T, n_adc] -> flat uint16 stream in DCA1000 order ``[I0, I1, Q0, Q1, ...]``."""
    x = iq.reshape(-1)
    if x.size % 2:
        raise ValueError("need an even number of complex samples")
    re = np.clip(np.rint(x.real), -32768, 32767).astype(np.int16)
    im = np.clip(np.rint(x.imag), -32768, 32767).astype(np.int16)
    raw = np.empty(2 * x.size, np.int16)
    raw[0::4] = re[0::2]
    raw[1::4] = re[1::2]
    raw[2::4] = im[0::2]
    raw[3::4] = im[1::2]
    return raw.view(np.uint16)


def to_packets(stream_u16: np.ndarray, start_time: float, chirp_hz: float = CHIRP_HZ,
               n_chirps: int | None = None) -> list:
    """EquiPleth ``rf.pkl`` payload: [uint16 packets [P, 728], packet count, byte count, start, end].

    The last packet is zero-padded; ``byte count`` gives the valid length.
    """
    n = stream_u16.size
    n_packets = -(-n // DCA_PACKET_U16)
    packets = np.zeros((n_packets, DCA_PACKET_U16), np.uint16)
    packets.reshape(-1)[:n] = stream_u16
    dur = (n_chirps / chirp_hz) if n_chirps else 0.0
    return [packets, int(n_packets), int(2 * n), float(start_time), float(start_time + dur)]
