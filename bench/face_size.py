"""Face-size sweep at the runtime's defaults: detection rate and frames/s of ``Monitor.push`` on
640x480 video with a real face photo pasted at 5 %, 8 %, 13 % and 25 % of the frame width, and
without a face. Baseline in the same run: the previous defaults (detection copy of 160 px, a
detection on every frame while no face is found); the previous global histogram equalization is
gone from the code and cannot be re-enabled, so the baseline runs without it.

    python bench/face_size.py [--seconds 6] [--out face_size.json]

Model: the torch-free mean-green ONNX (tests/deploy/helpers.py), so the figures are the face and
pipeline cost, not a network's. HR: median of the valid estimates (true 72 bpm).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
sys.path.insert(0, str(ROOT / "tests" / "data"))
TRUE_HR = 72.0
FRACS = (0.05, 0.08, 0.13, 0.25)


def run_one(model, frames, ts, previous: bool) -> dict:
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig

    cfg = MonitorConfig(mode="offline", detect_max_side=160 if previous else None)
    mon = Monitor(model, cfg)
    if previous:
        mon.tracker.s = dataclasses.replace(mon.tracker.s, backoff=False)
    t0 = time.perf_counter()
    res = [mon.push(f, t) for f, t in zip(frames, ts)]
    mon.flush()
    dt = time.perf_counter() - t0
    valid = [r.hr_bpm for r in res if r.valid]
    tr = mon.tracker
    calls = tr.n_detections + tr.n_misses
    return {"frames_with_face": float(np.mean([r.face for r in res])),
            "detector_calls": calls, "detector_hit_rate": tr.n_detections / max(calls, 1),
            "fps": len(frames) / dt, "face_ms_per_frame": 1e3 * mon.stats()["stages"]["face"]["total_s"] / len(frames),
            "hr_median_bpm": float(np.median(valid)) if valid else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--out", default="face_size.json")
    args = ap.parse_args()
    from face_scene import pulse_video
    from helpers import green_onnx

    model = green_onnx(Path(tempfile.mkdtemp()) / "green.onnx")
    rows = []
    for frac in FRACS + (None,):
        frames, ts = pulse_video(frac or 0.1, TRUE_HR, args.seconds,
                                 background="grey" if frac else "none")
        for previous in (False, True):
            r = run_one(model, frames, ts, previous)
            r.update(face_frac=frac, defaults="previous" if previous else "now")
            rows.append(r)
            print(json.dumps(r))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "loadavg": os.getloadavg(),
            "cpus": os.cpu_count(), "seconds": args.seconds, "size": "640x480"}
    Path(args.out).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print("| face width | defaults | frames with a face | detector calls | frames/s | "
          "face ms/frame | HR median |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        hr = f"{r['hr_median_bpm']:.1f}" if r["hr_median_bpm"] is not None else "n/a"
        frac = f"{100 * r['face_frac']:.0f} %" if r["face_frac"] else "no face"
        print(f"| {frac} | {r['defaults']} | {100 * r['frames_with_face']:.0f} % | "
              f"{r['detector_calls']} | {r['fps']:.1f} | {r['face_ms_per_frame']:.2f} | {hr} |")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
