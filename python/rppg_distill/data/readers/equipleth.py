"""EquiPleth reader (RGB face crops + 77 GHz FMCW radar, Vilesov et al. 2022).

Layout: ``rgb_files/v_{vol}_{trial}/rgbd_rgb_{i}.png`` (30 fps face crops),
``rgb_files/v_{vol}_{trial}/rgbd_ppg.npy`` (PPG at frame rate; the first ``ppg_offset`` = 25
samples are an offset to drop), ``rf_files/{vol}_{trial}/rf.pkl`` (DCA1000 capture: a list
[uint16 raw packets, packet count, byte count, start time, end time]) and
``rf_files/{vol}_{trial}/vital_dict.npy`` (dict; ``['rgbd']['NOM_PLETHWaveExport']`` is the pleth
at camera timestamps, used as the label when ``rgbd_ppg.npy`` is absent).

Radar processing (DATASETS.md), ``radar_features``:
1. int16 stream -> complex: ``x[0::2] = raw[0::4] + 1j raw[2::4]``, ``x[1::2] = raw[1::4] + 1j raw[3::4]``;
   ``samples_per_chirp`` (512) complex samples per chirp, one chirp per radar frame at 120 Hz;
   keep every second sample (256).
2. Range FFT over the 256 samples; strongest bin by sum_t |X| within bins [5, 20) (within ~1 m).
3. 5 bins centred on it; real parts then imaginary parts -> float32 (10, T_radar)
   (rows 0-4 = Re of bins b-2..b+2, rows 5-9 = Im).
4. Resample to the video rate (polyphase, ``scipy.signal.resample_poly``; 120 Hz -> 30 fps is /4).
Frames, label and radar must agree within ``tolerance_frames``; all three are cut to the shortest,
except that radar recorded past the last frame is kept, up to ``max_radar_tail_s`` (a radar window
may then start after its video clip's: RPM-Distill's radar-shift experiment). Sample i of every
stream is frame i (the streams start together); ``meta["radar_tail"]`` is the number of radar
samples past the last frame. A radar longer than that by more than the tolerance is an error.

Security: ``rf.pkl`` is a Python pickle and ``vital_dict.npy`` a pickled dict (``allow_pickle``);
that is the dataset's real format, so both are unpickled. Unpickling runs code: read only
EquiPleth copies you trust. Every other file in the package is read without pickle.
"""

from __future__ import annotations

import pickle
import re
from fractions import Fraction
from pathlib import Path

import numpy as np

from rppg_distill.data.readers._common import DEFAULT_TOLERANCE_FRAMES, ErrorSink, check_fps, natural_key
from rppg_distill.data.types import Recording
from rppg_distill.data.video_io import read_frame_folder

NAME = "equipleth"
_RGB = re.compile(r"^v_(\d+)_(\d+)$")


def load_rf(path: str | Path) -> tuple[np.ndarray, dict]:
    """int16 sample stream of an ``rf.pkl`` and its header fields."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"radar file not found: {path}")
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f)
        packets, n_packets, n_bytes, t0, t1 = obj[:5]
        stream = np.asarray(packets).astype(np.uint16, copy=False).reshape(-1)
    except Exception as err:
        raise ValueError(f"{path}: not a DCA1000 rf.pkl ({type(err).__name__}: {err})") from None
    n_u16 = int(n_bytes) // 2
    if n_u16 > stream.size or n_u16 <= 0:
        raise ValueError(f"{path}: byte count {n_bytes} does not fit {stream.size} uint16 of packet data")
    return stream[:n_u16].view(np.int16), {"packets": int(n_packets), "bytes": int(n_bytes),
                                           "start_time": float(t0), "end_time": float(t1)}


def organize(raw: np.ndarray, samples_per_chirp: int = 512) -> np.ndarray:
    """Interleaved int16 -> complex [n_chirps, samples_per_chirp] (DCA1000 complex 2-lane order)."""
    n = (raw.size // 4) * 4
    raw = raw[:n].astype(np.float32)
    x = np.empty(n // 2, np.complex64)
    x[0::2] = raw[0::4] + 1j * raw[2::4]
    x[1::2] = raw[1::4] + 1j * raw[3::4]
    n_chirps = x.size // samples_per_chirp
    if n_chirps == 0:
        raise ValueError(f"radar stream has fewer than {samples_per_chirp} complex samples")
    return x[: n_chirps * samples_per_chirp].reshape(n_chirps, samples_per_chirp)


def radar_features(raw: np.ndarray, *, samples_per_chirp: int = 512, keep_every: int = 2,
                   bin_range: tuple = (5, 20), n_bins: int = 5, chirp_hz: float = 120.0,
                   fps: float = 30.0) -> tuple[np.ndarray, int]:
    """EquiPleth radar processing: float32 (2 * n_bins, T_video) at ``fps`` and the chosen range bin."""
    iq = organize(raw, samples_per_chirp)[:, ::keep_every]
    spec = np.fft.fft(iq, axis=1)                                      # range FFT
    lo, hi = bin_range
    energy = np.abs(spec[:, lo:hi]).sum(0)
    b = lo + int(np.argmax(energy))
    half = n_bins // 2
    idx = np.clip(np.arange(b - half, b - half + n_bins), 0, spec.shape[1] - 1)
    sel = spec[:, idx].T                                               # (n_bins, T_radar)
    feats = np.concatenate([sel.real, sel.imag], 0).astype(np.float64)
    ratio = Fraction(float(fps) / float(chirp_hz)).limit_denominator(1000)
    if ratio != 1:
        from scipy.signal import resample_poly

        feats = resample_poly(feats, ratio.numerator, ratio.denominator, axis=1)
    return feats.astype(np.float32), b


def read(root: str | Path, *, fps: float = 30.0, ppg_offset: int = 25, radar: bool = True,
         chirp_hz: float = 120.0, samples_per_chirp: int = 512, subjects=None,
         tolerance_frames: int = DEFAULT_TOLERANCE_FRAMES, max_radar_tail_s: float = 2.0,
         on_error: str = "raise", skipped: list | None = None) -> list[Recording]:
    """Read EquiPleth trials (PNG frames carry no fps: ``fps`` is the dataset's 30 unless given).

    ``Recording.radar`` is [10, N + tail]: N = the frames (and labels) kept, tail = the radar
    samples recorded after the last frame (at most ``max_radar_tail_s`` seconds).
    """
    root = Path(root)
    rgb_root = root / "rgb_files"
    if not rgb_root.is_dir():
        raise ValueError(f"EquiPleth root has no rgb_files/ folder: {root}")
    rate = check_fps(fps, str(rgb_root))
    if not max_radar_tail_s >= 0:
        raise ValueError(f"max_radar_tail_s must be >= 0, got {max_radar_tail_s}")
    max_tail = int(round(max_radar_tail_s * rate))
    trials = sorted((int(m.group(1)), int(m.group(2)), d) for d in rgb_root.iterdir()
                    if d.is_dir() and (m := _RGB.match(d.name)))
    sink = ErrorSink(on_error, skipped)
    recs = []
    for vol, trial, d in trials:
        if subjects is not None and str(vol) not in {str(s) for s in subjects}:
            continue
        try:
            frames = sorted(d.glob("rgbd_rgb_*.png"), key=lambda p: natural_key(p.name))
            if not frames:
                raise ValueError(f"no rgbd_rgb_*.png frames in {d}")
            rf_dir = root / "rf_files" / f"{vol}_{trial}"
            ppg_file = d / "rgbd_ppg.npy"
            if ppg_file.is_file():
                try:
                    ppg = np.load(ppg_file).astype(np.float32).reshape(-1)
                except Exception as err:
                    raise ValueError(f"{ppg_file}: unreadable ({err})") from None
            elif (rf_dir / "vital_dict.npy").is_file():
                vital = np.load(rf_dir / "vital_dict.npy", allow_pickle=True).item()
                ppg = np.asarray(vital["rgbd"]["NOM_PLETHWaveExport"], np.float32).reshape(-1)
            else:
                raise ValueError(f"label file not found: {ppg_file}")
            ppg = ppg[ppg_offset:]
            lengths = {"frames": len(frames), "label": len(ppg)}
            feats, rbin = None, None
            if radar and rf_dir.is_dir():
                raw, hdr = load_rf(rf_dir / "rf.pkl")
                feats, rbin = radar_features(raw, samples_per_chirp=samples_per_chirp, chirp_hz=chirp_hz,
                                             fps=rate)
                lengths["radar"] = feats.shape[1]
            n = min(lengths.values())
            video_n = max(lengths["frames"], lengths["label"])
            radar_over = lengths.get("radar", n) - max(video_n, n)   # radar recorded past the video
            if n <= 0 or video_n - n > tolerance_frames or radar_over > max_tail + tolerance_frames:
                raise ValueError(f"{d.name}: lengths disagree beyond tolerance {tolerance_frames} (radar may run "
                                 f"{max_tail} samples = max_radar_tail_s past the video): {lengths} "
                                 f"(label after dropping {ppg_offset} offset samples)")
            tail = 0 if feats is None else min(feats.shape[1] - n, max_tail)
            recs.append(Recording(
                dataset=NAME, subject=str(vol), view="frontal", video=d, fps=rate, state=str(trial),
                camera="rgbd", bvp=ppg[:n], radar=None if feats is None else feats[:, :n + tail],
                meta={"label_file": str(ppg_file), "rf_dir": str(rf_dir) if feats is not None else None,
                      "range_bin": rbin, "lengths": lengths, "n_frames": n, "radar_tail": tail},
                frame_loader=lambda d=d, n=n: read_frame_folder(d, "rgbd_rgb_*.png")[:n]))
        except ValueError as err:
            sink(d.name, err)
    return recs
