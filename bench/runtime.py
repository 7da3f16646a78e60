"""End-to-end runtime benchmark: frames/s and per-stage times of ``rppg-distill run``'s pipeline,
model latency per window (fp32 / fp16 / int8 in onnxruntime, full-size and small student), and
open-rppg on the same video, side by side in one run. Writes JSON with machine/version/load
metadata. Numbers and their reading: bench/RUNTIME.md.

    python bench/runtime.py [--video V.avi] [--seconds 20] [--out bench_runtime.json] [--quick]

Models (random weights: latency does not depend on them): EfficientPhys-C at the contract
T=160, 72x72, widths 32/64 ("full") and a student at 36x36, widths 16/32, dense 64 ("small"),
each as fp32, fp16 (casts, float32 I/O) and int8 (QDQ). ``--model`` adds a given ONNX.
End-to-end configurations:
- ``legacy``: the runtime's previous defaults (windows every T/2, face detection every 10 frames
  on a 320-pixel copy, onnxruntime default threads with spinning, no reader thread);
- ``offline``: ``rppg-distill run VIDEO``'s defaults now (windows every T, detection every 15
  frames on a 160-pixel copy, no spinning, reader thread), with 1 and with 2 onnxruntime threads;
- ``live``: the camera defaults (windows every T/2) with the same face/threads settings.
HR accuracy of each configuration is checked with a signal model (mean green, a torch-free
ONNX) on the same pulse video whose true HR is known.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import loadavg, metadata, spread, write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
TRUE_HR = 75.0


def _meta() -> dict:
    import cv2  # noqa: F401 - imported so that metadata() records its version
    import onnxruntime  # noqa: F401

    return metadata()


def make_video(path: Path, seconds: float, hr: float = TRUE_HR) -> Path:
    from helpers import pulse_frames

    from rppg_distill.data.video_io import write_video

    frames, _ = pulse_frames(hr, seconds=seconds, size=(640, 480))
    write_video(path, frames, 30.0, "MJPG")
    return path


STUDENTS = {"full": dict(img_size=72), "small": dict(img_size=36, nb_filters1=16, nb_filters2=32, nb_dense=64)}


def export_models(d: Path, frames: int, which=("full", "small")) -> dict:
    import torch

    from rppg_distill.deploy import precision
    from rppg_distill.deploy.contract import Contract
    from rppg_distill.deploy.export import export_onnx, random_clips
    from rppg_distill.models import build_model

    out = {}
    for name in which:
        kw = STUDENTS[name]
        torch.manual_seed(0)
        m = build_model("efficientphys_c", frame_depth=10, **kw).eval()
        c = Contract(model="efficientphys_c", frames=frames, height=kw["img_size"],
                     width=kw["img_size"], normalization="standardized")
        p32 = d / f"{name}_fp32.onnx"
        export_onnx(m, p32, c, batch="dynamic")
        out[f"{name}-fp32"] = p32
        out[f"{name}-fp16"] = precision.to_fp16(p32, d / f"{name}_fp16.onnx")
        out[f"{name}-int8"] = precision.to_int8(p32, d / f"{name}_int8.onnx", random_clips(c, 4, 3))
    return out


def macs_per_frame(path: Path) -> float | None:
    """Multiply-accumulates per frame of the Conv and Gemm/MatMul nodes (per batch item of the
    frame-folded [B*T, C, H, W] graph), from onnx shape inference."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        return None
    m = shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.value_info) + list(m.graph.output)}
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    mac = 0
    for node in m.graph.node:
        w = inits.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type == "Conv" and w and node.output[0] in shapes:
            o = shapes[node.output[0]]
            mac += o[1] * o[2] * o[3] * w[1] * w[2] * w[3]
        elif node.op_type in ("Gemm", "MatMul") and w and len(w) == 2:
            mac += w[0] * w[1]
    return float(mac) or None


def model_latency(path: Path, reps: int, threads: int | None, batch: int = 1) -> dict:
    from rppg_distill.deploy.ort_runner import OrtRunner
    from rppg_distill.deploy.timing import time_runner

    r = OrtRunner(path, providers="cpu", threads=threads)
    t, b = time_runner(r, reps, batch)
    t = t * 1e3 / b
    s = spread(t)
    return {"median_ms_per_window": s["median"], "p25_ms": s["p25"], "p75_ms": s["p75"], "reps": reps, "batch": b,
            "threads": threads or "default", "ms_per_frame": s["median"] / r.contract.frames}


CONFIGS = {
    "legacy": dict(cfg=dict(mode="live", detect_every=10, detect_max_side=320, max_hold=15),
                   threads=None, spin=True, prefetch=0),
    "offline-1t": dict(cfg=dict(mode="offline"), threads=1, spin=False, prefetch=8),
    "offline-2t": dict(cfg=dict(mode="offline"), threads=2, spin=False, prefetch=8),
    "live-1t": dict(cfg=dict(mode="live"), threads=1, spin=False, prefetch=8),
}


def end_to_end(video: Path, model: Path, conf: dict) -> dict:
    from rppg_distill.data.video_io import iter_video
    from rppg_distill.deploy.ort_runner import OrtRunner
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig, prefetch

    runner = OrtRunner(model, providers="cpu", threads=conf["threads"], spin=conf["spin"])
    mon = Monitor(runner, MonitorConfig(**conf["cfg"]))
    la0 = loadavg()
    n, hrs = 0, []
    t0 = time.perf_counter()
    td = time.perf_counter()
    for frame, ts in prefetch(iter_video(video), conf["prefetch"]):
        mon.timer.add("decode", time.perf_counter() - td)
        r = mon.push(frame, ts)
        n += 1
        if r.updated and r.valid:
            hrs.append(r.hr_bpm)
        td = time.perf_counter()
    mon.flush()
    el = time.perf_counter() - t0
    hr_final = mon.last_hr()[0]
    stages = {k: {"ms_per_frame": 1e3 * v["total_s"] / n, "mean_ms_per_call": v["mean_ms"],
                  "calls": v["calls"]} for k, v in mon.stats()["stages"].items()}
    return {"frames": n, "seconds": el, "fps": n / el, "realtime_x_at_30fps": n / el / 30.0,
            "stages": stages, "hr_updates": len(hrs), "hr_final_bpm": hr_final,
            "hop": mon.hop, "loadavg": [la0, loadavg()]}


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
    la0 = loadavg()
    try:
        out = subprocess.run([str(py), "-c", OPEN_RPPG, str(video)], capture_output=True, text=True,
                             timeout=900)
    except subprocess.TimeoutExpired:
        return {"status": "timed out"}
    if out.returncode != 0:
        return {"status": "failed", "stderr": out.stderr[-800:]}
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r.update(fps=frames / r["seconds"], status="ok", loadavg=[la0, loadavg()])
    return r


def _stage_line(e: dict) -> str:
    return "  ".join(f"{s} {v['ms_per_frame']:.2f}" for s, v in e["stages"].items())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video")
    ap.add_argument("--model", help="an extra ONNX to benchmark")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--frames", type=int, default=160)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="full-size fp32/int8 and small fp32 only")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--skip-open-rppg", action="store_true")
    ap.add_argument("--out", default="bench_runtime.json")
    a = ap.parse_args(argv)
    from helpers import green_onnx

    work = Path(tempfile.mkdtemp(prefix="rppg_bench_"))
    video = Path(a.video) if a.video else make_video(work / "bench.avi", a.seconds)
    models = export_models(work, a.frames)
    if a.quick:
        models = {k: v for k, v in models.items() if k in ("full-fp32", "full-int8", "small-fp32")}
    if a.model:
        models["given"] = Path(a.model)
    res = {"meta": _meta(), "video": {"path": str(video), "size": "640x480", "true_hr_bpm": TRUE_HR},
           "latency": {}, "end_to_end": {}, "accuracy": {}}

    def flush_json():
        write_json(a.out, res)

    for k, p in models.items():
        mac = macs_per_frame(p)
        for th in (1, 2):
            lat = model_latency(p, a.reps, th)
            if mac:
                lat["gflops_per_s"] = 2 * mac / (lat["ms_per_frame"] * 1e-3) / 1e9
                lat["mmac_per_frame"] = mac / 1e6
            lat["loadavg"] = loadavg()
            res["latency"][f"{k}/{th}t"] = lat
            print(f"model {k:10s} {th}t: {lat['median_ms_per_window']:8.1f} ms/window (p25 {lat['p25_ms']:.1f}, "
                  f"p75 {lat['p75_ms']:.1f}) = {lat['ms_per_frame']:.2f} ms/frame"
                  + (f", {mac / 1e6:.1f} MMAC/frame, {lat['gflops_per_s']:.0f} GFLOP/s" if mac else "")
                  + f"  load {lat['loadavg'][0]:.2f}", flush=True)
        flush_json()
    green = green_onnx(work / "green.onnx", frames=a.frames, size=36)
    configs = [c for c in a.configs.split(",") if c]
    for c in configs:
        e = end_to_end(video, green, CONFIGS[c])
        res["accuracy"][c] = {"hr_final_bpm": e["hr_final_bpm"], "abs_err_bpm": abs(e["hr_final_bpm"] - TRUE_HR),
                              "fps": e["fps"]}
        print(f"accuracy {c:11s}: green-signal model HR {e['hr_final_bpm']:.2f} bpm (true {TRUE_HR}), "
              f"{e['fps']:.0f} fps", flush=True)
    for k, p in models.items():
        for c in configs:
            if c.startswith("live") and not k.endswith("fp32"):
                continue
            e = end_to_end(video, p, CONFIGS[c])
            res["end_to_end"][f"{k}/{c}"] = e
            print(f"end-to-end {k:10s} {c:11s}: {e['fps']:6.1f} frames/s = {e['realtime_x_at_30fps']:5.1f}x "
                  f"real time | ms/frame: {_stage_line(e)} | load {e['loadavg'][1][0]:.2f}", flush=True)
            flush_json()
    if not a.skip_open_rppg:
        ref = next(iter(res["end_to_end"].values()))
        res["open_rppg"] = o = open_rppg(video, ref["frames"])
        ours = {k: v["fps"] for k, v in res["end_to_end"].items()}
        print(f"open-rppg: {o.get('status')}" + (f" {o['fps']:.1f} frames/s (HR {o.get('hr')}) | load "
                                                 f"{o['loadavg'][1][0]:.2f}" if "fps" in o else ""))
        if "fps" in o:
            res["ratio_vs_open_rppg"] = {k: v / o["fps"] for k, v in ours.items()}
            for k, v in ours.items():
                print(f"  ours {k:24s} {v:7.1f} frames/s = {v / o['fps']:.2f}x open-rppg")
    flush_json()
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
