"""End-to-end runtime benchmark: frames/s and per-stage times, model latency per window
(fp32 / fp16 / int8 in onnxruntime), and open-rppg on the same video when it is installed.

    python bench/runtime.py [--video V.avi] [--model student.onnx] [--seconds 20] [--out bench.json]

Without --model it exports EfficientPhys-C (random weights; latency does not depend on them) at
the contract T=160, 72x72. Without --video it writes a synthetic pulse video (the generator's, when
`rppg_distill.data.synthetic` provides one, else a pulsing face photo). Reports the median and
spread of the model latency and writes JSON with machine/version metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _meta() -> dict:
    import onnxruntime as ort

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except Exception:
        commit = ""
    return {"commit": commit, "machine": platform.machine(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "onnxruntime": ort.__version__,
            "numpy": np.__version__, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


def make_video(path: Path, seconds: float, hr: float = 75.0) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "deploy"))
    from helpers import pulse_frames

    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(hr, seconds=seconds, size=(640, 480))
    write_video(path, frames, 30.0, "MJPG")
    return path


def export_models(d: Path, frames: int, size: int) -> dict:
    import torch

    from rppg_distill.deploy import precision
    from rppg_distill.deploy.contract import Contract
    from rppg_distill.deploy.export import export_onnx, random_clips
    from rppg_distill.models import build_model

    torch.manual_seed(0)
    m = build_model("efficientphys_c", frame_depth=10, img_size=size)
    c = Contract(model="efficientphys_c", frames=frames, height=size, width=size,
                 normalization="standardized")
    p32 = d / "ep_fp32.onnx"
    export_onnx(m, p32, c, batch=1)
    out = {"fp32": p32, "fp16": precision.to_fp16(p32, d / "ep_fp16.onnx")}
    out["int8"] = precision.to_int8(p32, d / "ep_int8.onnx", random_clips(c, 8, 3))
    return out


def model_latency(path: Path, reps: int) -> dict:
    from rppg_distill.deploy.ort_runner import OrtRunner

    r = OrtRunner(path, providers="cpu")
    x = np.random.default_rng(0).standard_normal(r.contract.input_shape(r.batch or 1)).astype(np.float32)
    r.run(x)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r.run(x)
        t.append(time.perf_counter() - t0)
    t = np.array(t) * 1e3
    return {"median_ms": float(np.median(t)), "p10_ms": float(np.percentile(t, 10)),
            "p90_ms": float(np.percentile(t, 90)), "reps": reps}


def end_to_end(video: Path, model: Path, detect_every: int) -> dict:
    from rppg_distill.data.video_io import iter_video
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig

    mon = Monitor(model, MonitorConfig(detect_every=detect_every))
    n, hrs = 0, []
    t0 = time.perf_counter()
    td = time.perf_counter()
    for frame, ts in iter_video(video):
        mon.timer.add("decode", time.perf_counter() - td)
        r = mon.push(frame, ts)
        n += 1
        if r.updated and r.valid:
            hrs.append(r.hr_bpm)
        td = time.perf_counter()
    el = time.perf_counter() - t0
    stages = {k: {"ms_per_frame": 1e3 * v["total_s"] / n, "mean_ms_per_call": v["mean_ms"],
                  "calls": v["calls"]} for k, v in mon.stats()["stages"].items()}
    return {"frames": n, "seconds": el, "fps": n / el, "realtime_x_at_30fps": n / el / 30.0,
            "stages": stages, "hr_last_bpm": hrs[-1] if hrs else None}


OPEN_RPPG = r"""
import sys, time, json
import rppg
name = "EfficientPhys.rlap" if "EfficientPhys.rlap" in getattr(rppg, "supported_models", []) else None
m = rppg.Model(name) if name else rppg.Model()
t0 = time.perf_counter()
m.process_video(sys.argv[1])
el = time.perf_counter() - t0
try:
    hr = m.hr()
    hr = hr.get("hr") if isinstance(hr, dict) else hr
except Exception as err:
    hr = repr(err)
print(json.dumps({"seconds": el, "model": name or "default", "hr": hr}, default=str))
"""


def open_rppg(video: Path, frames: int) -> dict:
    py = ROOT / ".venv-openrppg" / "bin" / "python"
    if not py.exists():
        return {"status": "not installed (.venv-openrppg missing)"}
    try:
        out = subprocess.run([str(py), "-c", OPEN_RPPG, str(video)], capture_output=True, text=True,
                             timeout=900)
    except subprocess.TimeoutExpired:
        return {"status": "timed out"}
    if out.returncode != 0:
        return {"status": "failed", "stderr": out.stderr[-800:]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["fps"] = frames / r["seconds"]
    r["status"] = "ok"
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video")
    ap.add_argument("--model")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--size", type=int, default=72)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--skip-open-rppg", action="store_true")
    ap.add_argument("--out", default="bench_runtime.json")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rppg_bench_"))
    video = Path(a.video) if a.video else make_video(work / "bench.avi", a.seconds)
    models = {"given": Path(a.model)} if a.model else export_models(work, a.frames, a.size)
    res = {"meta": _meta(), "video": str(video), "latency": {}, "end_to_end": {}}
    for k, p in models.items():
        res["latency"][k] = model_latency(p, a.reps)
        print(f"model {k:5s}: {res['latency'][k]['median_ms']:8.2f} ms/window (median; p10 "
              f"{res['latency'][k]['p10_ms']:.2f}, p90 {res['latency'][k]['p90_ms']:.2f})")
    for k, p in models.items():
        e = end_to_end(video, p, a.detect_every)
        res["end_to_end"][k] = e
        st = "  ".join(f"{s} {v['ms_per_frame']:.2f}" for s, v in e["stages"].items())
        print(f"end-to-end {k:5s}: {e['fps']:7.1f} frames/s = {e['realtime_x_at_30fps']:.1f}x real "
              f"time at 30 fps | ms/frame: {st}")
    if not a.skip_open_rppg:
        n = res["end_to_end"][next(iter(models))]["frames"]
        res["open_rppg"] = open_rppg(video, n)
        o = res["open_rppg"]
        ours = res["end_to_end"][next(iter(models))]["fps"]
        print(f"open-rppg: {o.get('status')}" + (f" {o['fps']:.1f} frames/s vs ours {ours:.1f} "
                                                 f"(ratio {ours / o['fps']:.2f}x)" if "fps" in o else ""))
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
