"""Resume planning: per-entry hashes and what a second run redoes.

Each entry's manifest stores three hashes (:func:`_hashes`); :func:`_plan` compares them:
    - ``face``: source file fingerprint + backend config + detection/smoothing settings -> full
      redo (decode, detect, crop);
    - ``crop``: crop size and box coefficient -> re-crop with the stored boxes, no detection;
    - ``label``: bvp/radar arrays, fps and recording metadata -> rewrite labels and manifest only.
An entry whose hashes all match is reused; a missing or unreadable manifest (interrupted run)
means the entry is redone. Flagged entries are remembered too, so they are reported again
without being recomputed.
"""

from __future__ import annotations

from rppg_distill.data.cache.settings import PreprocessSettings
from rppg_distill.data.cache.sources import _meta_jsonable, _streamable, source_fingerprint
from rppg_distill.data.cache.store import CACHE_VERSION, array_hash, stable_hash
from rppg_distill.data.types import Recording

_FACE_KEYS = ("detect_every", "smoothing", "window", "max_hold", "max_lead_frames",
              "kalman_q", "kalman_r")
_CROP_KEYS = ("size", "coef")


def _hashes(rec: Recording, backend_cfg: dict, s: PreprocessSettings) -> dict:
    tr = s.tracker.to_dict()
    face = stable_hash({"v": CACHE_VERSION, "src": source_fingerprint(rec.video),
                        "backend": backend_cfg, **{k: tr[k] for k in _FACE_KEYS},
                        "min_face_frac": s.min_face_frac,
                        "frames": [rec.meta.get("frame_start", 0), rec.meta.get("n_frames"),
                                   bool(s.stream and _streamable(rec))
                                   or rec.frame_loader is None]})
    crop = stable_hash({k: tr[k] for k in _CROP_KEYS})
    label = stable_hash({"arrays": array_hash(rec.bvp, rec.radar), "fps": rec.fps,
                         "hr": rec.hr_bpm, "tol": s.label_tolerance,
                         "meta": [rec.dataset, rec.subject, rec.state, rec.view, rec.camera,
                                  _meta_jsonable(rec.meta)]})
    return {"face": face, "crop": crop, "label": label}


def _plan(prev: dict | None, hashes: dict) -> str:
    if prev is None:
        return "full"
    ph = prev.get("hashes", {})
    files = prev.get("files", {})
    if ph.get("face") != hashes["face"]:
        return "full"
    if prev.get("status") == "flagged" and not prev.get("written"):
        # the same inputs failed before; only a label change could change that verdict
        return "reuse" if ph.get("label") == hashes["label"] else "full"
    if ph.get("crop") != hashes["crop"]:
        return "recrop" if "boxes" in files else "full"
    if ph.get("label") != hashes["label"]:
        return "relabel"
    return "reuse"
