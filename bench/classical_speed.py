"""End-to-end speed of the classical path (`rppg-distill run` without --model) vs vitallens POS.

    python bench/classical_speed.py [--video V] [--seconds 30]
        [--repeats 3] [--methods pos,chrom] [--models NAME=PATH,...] [--json PATH]

Both run in this one process on the same video file, interleaved (one run of each per round,
so load bursts on a shared machine hit them alike), from the file path to the HR: decoding,
face detection, the RGB trace and HR. rppg-distill: ``rppg_distill.cli.main(["run", VIDEO,
"--method", M])`` (writes its CSV/JSON as a user gets them); vitallens 0.6.2:
``VitalLens(method="pos")(VIDEO)`` with its defaults (its ONNX face detector at 1 Hz, ffmpeg
decoding), the client built once before timing. ``--models physnet=a.onnx,...`` adds exported
ONNX models, each through ``rppg-distill run VIDEO --model PATH`` (onnxruntime on the CPU, the
same timing and HR as the classical rows) in the same rounds. Needs an environment with both packages
(vitallens needs ``prpy[numpy-min]`` and ffmpeg); rppg-distill is taken from ``python/`` of
this checkout. Without ``--video`` a 640x480, 30 fps face video with a known pulse is written
(``tests/deploy/skin_video.py``; needs scikit-image).

Prints frames/s per run, the median per side and the median of the paired ratios.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))


def make_video(path: Path, seconds: float, hr_bpm: float = 72.0) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "deploy"))
    from skin_video import skin_pulse_frames

    from rppg_distill.data.video_io import write_video

    frames, _ = skin_pulse_frames(hr_bpm, seconds=seconds, size=(640, 480), seed=5)
    write_video(path, frames, 30.0, "MJPG")
    return path


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def run_ours(video: Path, out: Path, *, method: str | None = None,
             model: str | None = None) -> tuple[int, float, float | None]:
    """One ``rppg-distill run`` (a classical ``method`` or an ONNX ``model``): frames, seconds, HR."""
    from rppg_distill.cli import main

    what = ["--method", method] if model is None else ["--model", model]
    t0 = time.perf_counter()
    rc = main(["run", str(video), "--out", str(out), "--quiet", *what])
    dt = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"rppg-distill run {' '.join(what)} failed with exit code {rc}")
    s = json.loads((out / "summary.json").read_text())
    hr = s.get("hr_recording_bpm")
    return int(s["frames"]), dt, hr if hr is not None else s.get("hr_median_bpm")


def parse_models(spec: str | None) -> dict[str, str]:
    """``"a=x.onnx,b=y.onnx"`` -> {"a": "x.onnx", ...}; ValueError on a malformed or missing entry."""
    models = {}
    for item in filter(None, (spec or "").split(",")):
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--models entries are NAME=PATH, got {item!r}")
        if not Path(path).is_file():
            raise ValueError(f"--models {name}: no file {path}")
        models[name] = path
    return models


def run_vitallens(vl, video: Path) -> tuple[int, float, float]:
    t0 = time.perf_counter()
    res = vl(str(video))
    dt = time.perf_counter() - t0
    return len(res[0]["face"]["coordinates"]), dt, float(res[0]["vitals"]["heart_rate"]["value"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", default=None)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the made video")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", default="pos,chrom", help="rppg-distill classical methods")
    ap.add_argument("--models", default=None, help="ONNX models to add: NAME=PATH,...")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    models = parse_models(args.models)
    from vitallens import VitalLens

    tmp = Path(tempfile.mkdtemp(prefix="rppg_speed_"))
    video = Path(args.video) if args.video else make_video(tmp / "face_72bpm.avi", args.seconds)
    vl = VitalLens(method="pos", export_to_json=False)
    load0 = os.getloadavg()[0]
    runs = itertools.count()
    sides = {f"rppg-distill {m}": (lambda m=m: run_ours(video, tmp / f"run{next(runs)}", method=m))
             for m in args.methods.split(",")}
    sides.update({f"model {k}": (lambda p=p: run_ours(video, tmp / f"run{next(runs)}", model=p))
                  for k, p in models.items()})
    sides["vitallens pos"] = lambda: run_vitallens(vl, video)
    for fn in sides.values():  # one untimed run each: imports, model loads, caches
        fn()
    fps = {k: [] for k in sides}
    hr = {}
    for r in range(args.repeats):
        for name, fn in sides.items():
            n, dt, h = fn()
            fps[name].append(n / dt)
            hr[name] = h
            print(f"round {r}: {name:24s} {n} frames in {dt:6.2f} s = {n / dt:6.1f} frames/s, "
                  f"HR {h if h is None else round(h, 1)}", flush=True)
    base = fps["vitallens pos"]
    print(f"\nvideo {video} (640x480 MJPG, 30 fps); load average {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs; vitallens {_version('vitallens')}")
    print(f"{'path':26s} {'frames/s (median)':>18s} {'paired ratio vs vitallens POS':>30s}  HR")
    table = {}
    for name, v in fps.items():
        ratio = statistics.median(a / b for a, b in zip(v, base))
        table[name] = {"fps": v, "fps_median": statistics.median(v), "ratio_vs_vitallens_pos": ratio,
                       "hr_bpm": hr[name]}
        print(f"{name:26s} {statistics.median(v):18.1f} {ratio:29.2f}x  {hr[name]}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "video": str(video), "repeats": args.repeats, "models": models, "table": table,
            "load_average": [load0, os.getloadavg()[0]], "cpus": os.cpu_count(),
            "machine": platform.platform()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
