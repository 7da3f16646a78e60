"""Writers of the real on-disk dataset formats (see shared/spec/DATASETS.md).

* MCD-rPPG: ``video/{pid}_{camera}_{state}.avi``, ``ppg_sync/{pid}_{camera}_{state}.txt`` (one
  line per frame, ``"{value} {time_s}"``; readers take the first token), ``ppg/{pid}_{state}.PW``
  (raw PPG at 100 Hz, one value per line) and ``db.csv``.
* UBFC-rPPG (DATASET_2): ``subject{N}/vid.avi`` and ``subject{N}/ground_truth.txt`` (3 lines:
  PPG, HR (bpm), time (s); whitespace-separated floats).
* EquiPleth: ``rgb_files/v_{vol}_{trial}/rgbd_rgb_{i}.png`` (face crops),
  ``rgb_files/v_{vol}_{trial}/rgbd_ppg.npy`` (``ppg_offset`` extra leading samples, then one per
  frame), ``rf_files/{vol}_{trial}/rf.pkl`` (DCA1000 packets, see ``radar.py``; the capture may run
  past the last frame, ``SynthConfig.radar_tail_s``) and
  ``rf_files/{vol}_{trial}/vital_dict.npy`` (``{'rgbd': {'NOM_PLETHWaveExport': ppg, ...}}``).
"""

from __future__ import annotations

import csv
import io
import pickle
from pathlib import Path

import numpy as np

from rppg_distill.data.atomic import atomic_save, atomic_write_text
from rppg_distill.data.video_io import write_frame_folder, write_video

# Default camera -> view mapping for MCD-rPPG (cam1, cam2, cam3 in the release's listing order;
# DATASETS.md: cam2 = frontal, cam1/cam3 = sides). Configurable everywhere it is used.
MCD_CAMERAS = ("FullHDwebcam", "USBVideo", "IriunWebcam")
MCD_DEFAULT_CAMERA_VIEWS = {"FullHDwebcam": "side_left", "USBVideo": "frontal", "IriunWebcam": "side_right"}
MCD_DB_COLUMNS = ["patient_id", "camera", "step", "video", "ppg_sync", "ppg", "pulse", "age", "bmi"]


def _save_npy(path: Path, obj, allow_pickle: bool = False) -> None:
    def save(p):
        with open(p, "wb") as f:
            np.save(f, obj, allow_pickle=allow_pickle)

    atomic_save(path, save)


def view_to_camera(camera_views: dict | None = None) -> dict:
    cams = camera_views or MCD_DEFAULT_CAMERA_VIEWS
    return {v: c for c, v in cams.items()}


# ------------------------------------------------------------------ MCD-rPPG
def write_mcd_view(root: Path, pid: str, camera: str, state: str, frames: np.ndarray, fps: float,
                   ppg_frames: np.ndarray, codec: str = "MJPG", quality: int = 95) -> dict:
    """Write one camera's video and its frame-synchronous PPG; return the db.csv row fragment."""
    stem = f"{pid}_{camera}_{state}"
    video = Path(root) / "video" / f"{stem}.avi"
    write_video(video, frames, fps, codec=codec, quality=quality)
    t = np.arange(len(ppg_frames)) / fps
    lines = "".join(f"{v:.6f} {ti:.4f}\n" for v, ti in zip(ppg_frames, t))
    atomic_write_text(Path(root) / "ppg_sync" / f"{stem}.txt", lines)
    return {"patient_id": pid, "camera": camera, "step": state, "video": f"video/{stem}.avi",
            "ppg_sync": f"ppg_sync/{stem}.txt", "ppg": f"ppg/{pid}_{state}.PW"}


def write_mcd_raw_ppg(root: Path, pid: str, state: str, ppg_100hz: np.ndarray) -> None:
    atomic_write_text(Path(root) / "ppg" / f"{pid}_{state}.PW", "".join(f"{v:.6f}\n" for v in ppg_100hz))


def write_mcd_db(root: Path, rows: list[dict]) -> Path:
    """Write db.csv (rows sorted by patient id numerically, then camera, then step)."""
    def key(r):
        pid = str(r["patient_id"])
        return (int(pid) if pid.isdigit() else pid, r["camera"], r["step"])

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=MCD_DB_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for r in sorted(rows, key=key):
        w.writerow(r)
    return atomic_write_text(Path(root) / "db.csv", buf.getvalue(), newline="")


# ------------------------------------------------------------------ UBFC-rPPG
def write_ubfc(root: Path, subject_num: int, frames: np.ndarray, fps: float, ppg_frames: np.ndarray,
               hr_frames: np.ndarray, codec: str = "MJPG", quality: int = 95) -> Path:
    d = Path(root) / f"subject{int(subject_num)}"
    write_video(d / "vid.avi", frames, fps, codec=codec, quality=quality)
    t = np.arange(len(ppg_frames)) / fps
    fmt = lambda a: " ".join(f"{v:.8e}" for v in a)  # noqa: E731
    atomic_write_text(d / "ground_truth.txt", f"{fmt(ppg_frames)}\n{fmt(hr_frames)}\n{fmt(t)}\n")
    return d


# ------------------------------------------------------------------ EquiPleth
def write_equipleth(root: Path, vol: int, trial: int, frames: np.ndarray, fps: float,
                    ppg_frames: np.ndarray, rf_payload: list | None, ppg_offset: int = 25,
                    offset_ppg: np.ndarray | None = None) -> tuple[Path, Path | None]:
    """Write one EquiPleth trial. ``offset_ppg`` gives the ``ppg_offset`` samples before frame 0."""
    rgb_dir = Path(root) / "rgb_files" / f"v_{vol}_{trial}"
    write_frame_folder(rgb_dir, frames, name="rgbd_rgb_{i}.png")
    lead = offset_ppg if offset_ppg is not None else np.full(ppg_offset, ppg_frames[0])
    ppg_full = np.concatenate([np.asarray(lead[:ppg_offset], np.float64), np.asarray(ppg_frames, np.float64)])
    _save_npy(rgb_dir / "rgbd_ppg.npy", ppg_full)
    rf_dir = None
    if rf_payload is not None:
        rf_dir = Path(root) / "rf_files" / f"{vol}_{trial}"

        def dump(p):
            with open(p, "wb") as f:
                pickle.dump(rf_payload, f, protocol=4)

        atomic_save(rf_dir / "rf.pkl", dump)
        vital = {"rgbd": {"NOM_PLETHWaveExport": ppg_full.copy(),
                          "timestamps": np.arange(len(ppg_full)) / fps - ppg_offset / fps}}
        _save_npy(rf_dir / "vital_dict.npy", vital, allow_pickle=True)
    return rgb_dir, rf_dir
