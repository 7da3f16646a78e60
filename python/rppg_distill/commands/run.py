"""`rppg-distill run VIDEO|--camera N [--model student.onnx|student.plan | --method pos|chrom|...]`.

Streaming heart rate. Without ``--model`` a classical method runs (``--method``; default: the one
that measured best on real skin, ``classical.DEFAULT_METHOD``) through the same Monitor.
Writes ``<out>/hr.csv`` (one row per frame, flushed as it goes, so a crash or Ctrl-C leaves a valid
partial file), ``<out>/bvp.csv`` (stitched pulse), ``<out>/summary.json`` (what ran, with its
contract and pipeline settings) and with ``--plot`` ``plot.png`` (pulse, HR track with its
confidence, face crops). Never imports torch.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

NAME = "run"
HELP = "estimate heart rate from a video file or a camera (a classical method or an exported model)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("video", nargs="?", help="video file (MP4/AVI/...)")
    src.add_argument("--camera", type=int, help="camera index (OpenCV)")
    from rppg_distill.classical import DEFAULT_METHOD, METHODS
    from rppg_distill.data.face.skin import SKIN_MODES

    p.add_argument("--model", default=None, help="student .onnx or TensorRT .plan (default: none, "
                   "a classical method runs)")
    p.add_argument("--method", choices=sorted(METHODS), default=None,
                   help=f"classical method when no --model is given (default: {DEFAULT_METHOD}, "
                        "the best measured on real skin)")
    p.add_argument("--skin-mask", choices=SKIN_MODES, default="roi+ycrcb",
                   help="classical: pixels averaged in the face box (default: forehead + cheeks, "
                        "skin-coloured only)")
    p.add_argument("--out", default="rppg_run", help="output folder (default: ./rppg_run)")
    p.add_argument("--plot", action="store_true",
                   help="write plot.png (pulse, HR with its confidence, face crops)")
    p.add_argument("--providers", default="auto", help="onnxruntime providers: auto, cpu, cuda, tensorrt")
    p.add_argument("--face-backend", default="haar")
    p.add_argument("--mode", choices=("auto", "live", "offline"), default="auto",
                   help="offline: windows without overlap, several per model call (default for "
                        "a file); live: half-overlapping windows, lower latency (default for a camera)")
    p.add_argument("--detect-every", type=int, default=15, help="face detection every N frames")
    p.add_argument("--detect-max-side", type=int, default=160,
                   help="haar: detect on a copy downscaled to this longest side")
    p.add_argument("--hop", type=int, default=None,
                   help="samples between model windows (default: T offline, T/2 live)")
    p.add_argument("--batch-windows", type=int, default=1,
                   help="offline: model windows per call (dynamic-batch models)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime intra-op threads (default: onnxruntime's choice)")
    p.add_argument("--prefetch", type=int, default=8,
                   help="frames decoded ahead in a reader thread (0: no thread)")
    p.add_argument("--hr-window", type=float, default=10.0, help="seconds per HR estimate")
    p.add_argument("--hr-update", type=float, default=1.0, help="re-estimate HR at most every S seconds")
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--camera-timeout", type=float, default=5.0,
                   help="seconds to wait for a camera's first frame")
    p.add_argument("--quiet", action="store_true", help="no live console line")


def _camera_frames(index: int, timeout_s: float, max_frames: int | None):
    import cv2

    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise ValueError(f"camera {index} could not be opened")
    t_start = time.monotonic()
    got = 0
    try:
        while max_frames is None or got < max_frames:
            ok, frame = cap.read()
            now = time.monotonic()
            if not ok or frame is None:
                if got == 0 and now - t_start < timeout_s:
                    time.sleep(0.05)
                    continue
                if got == 0:
                    raise ValueError(f"camera {index} yielded no frames within {timeout_s:.1f} s")
                break
            got += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), now - t_start
    finally:
        cap.release()


def _video_frames(path: str, max_frames: int | None):
    from rppg_distill.data.video_io import iter_video

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video not found: {p}")
    for i, item in enumerate(iter_video(p)):
        if max_frames is not None and i >= max_frames:
            return
        yield item


class _Console:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, r, n: int, fps: float) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 2.0):
            return
        self.last = now
        hr = f"{r.hr_bpm:6.1f} bpm" if r.valid else "  --.- bpm"
        snr = f"{r.snr_db:5.1f} dB" if r.valid else "  --  dB"
        conf = "confident" if r.confident else ("low-quality" if r.valid else r.status)
        line = f"t={r.t:7.2f}s  HR {hr}  SNR {snr}  {conf:<12} frames {n:6d}  {fps:6.1f} fps"
        if self.tty:
            sys.stderr.write("\r" + line.ljust(90))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if not self.quiet and self.tty:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    from rppg_distill.deploy import load_runner
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig

    out = Path(args.out)
    if args.model is not None and args.method is not None:
        print("rppg-distill run: give either --model or --method, not both", file=sys.stderr)
        return 2
    try:
        if args.model is None:
            from rppg_distill.classical import ClassicalPipeline, DEFAULT_METHOD
            from rppg_distill.deploy.runtime import ClassicalRunner

            pipe = ClassicalPipeline(method=args.method or DEFAULT_METHOD,
                                     window_s=args.hr_window, stride_s=args.hr_update)
            runner = ClassicalRunner(pipeline=pipe, skin=args.skin_mask)
        else:
            runner = load_runner(args.model, **({"providers": args.providers, "threads": args.threads}
                                                if str(args.model).endswith(".onnx") else {}))
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as err:
        what = "model" if args.model is not None else "classical method"
        print(f"rppg-distill run: cannot load {what}: {err}", file=sys.stderr)
        return 2
    mode = args.mode if args.mode != "auto" else ("live" if args.camera is not None else "offline")
    cfg = MonitorConfig(mode=mode, hop=args.hop, batch_windows=args.batch_windows,
                        hr_window_s=args.hr_window, hr_update_s=args.hr_update,
                        face_backend=args.face_backend, detect_every=args.detect_every,
                        detect_max_side=args.detect_max_side)
    try:
        mon = Monitor(runner, cfg)
    except Exception as err:  # face backend missing etc.
        print(f"rppg-distill run: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from rppg_distill.deploy.runtime import prefetch

    source = (_camera_frames(args.camera, args.camera_timeout, args.max_frames)
              if args.camera is not None else _video_frames(args.video, args.max_frames))
    source = prefetch(source, args.prefetch)
    desc = runner.describe()
    summary = {"source": args.video if args.camera is None else f"camera:{args.camera}",
               "ran": (f"classical method {desc['method']}" if args.model is None
                       else f"model {args.model}"),
               "model": None if args.model is None else str(args.model),
               "method": desc.get("method"), "runner": desc, "mode": mode,
               "contract": runner.contract.to_dict(),
               "monitor": {"hop": mon.hop, "hr_window_s": cfg.hr_window_s,
                           "hr_update_s": cfg.hr_update_s, "face_backend": cfg.face_backend,
                           "detect_every": cfg.detect_every, "min_snr_db": cfg.min_snr_db,
                           "min_peak_concentration": cfg.min_peak_concentration}}
    from rppg_distill.deploy.runtime.plot import CropSampler

    crops = CropSampler()
    console = _Console(args.quiet)
    hr_rows, bvp_t_all, bvp_all = [], [], []
    n = 0
    error = None
    t0 = time.perf_counter()
    with open(out / "hr.csv", "w", newline="") as fh_hr, open(out / "bvp.csv", "w", newline="") as fh_b:
        w_hr = csv.DictWriter(fh_hr, fieldnames=["t", "valid", "hr_bpm", "snr_db",
                                                  "peak_concentration", "confident", "face", "status"])
        w_hr.writeheader()
        w_b = csv.writer(fh_b)
        w_b.writerow(["t", "bvp"])

        def write_bvp(ts, vs):
            for a, b in zip(ts, vs):
                w_b.writerow([f"{a:.4f}", f"{b:.5f}"])
            bvp_t_all.extend(ts.tolist())
            bvp_all.extend(vs.tolist())
            fh_b.flush()

        try:
            t_dec = time.perf_counter()
            for frame, ts in source:
                mon.timer.add("decode", time.perf_counter() - t_dec)
                r = mon.push(frame, ts)
                n += 1
                row = r.row()
                w_hr.writerow(row)
                hr_rows.append({"t": r.t, "valid": r.valid, "hr_bpm": r.hr_bpm,
                                "snr_db": r.snr_db, "confident": r.confident,
                                "updated": r.updated})
                if args.plot and r.face:
                    crops.offer(r.t, mon.last_crop)
                if len(r.bvp):
                    write_bvp(r.bvp_t, r.bvp)
                    fh_hr.flush()
                console.update(r, n, n / max(time.perf_counter() - t0, 1e-9))
                t_dec = time.perf_counter()
            ts_, vs_ = mon.flush()
            if len(vs_):
                write_bvp(ts_, vs_)
        except KeyboardInterrupt:
            error = "interrupted"
        except (ValueError, FileNotFoundError, RuntimeError) as err:
            error = str(err)
        finally:
            fh_hr.flush()
            fh_b.flush()
    console.done()
    elapsed = time.perf_counter() - t0
    valid = [r["hr_bpm"] for r in hr_rows if r["valid"]]
    estimates = [r["hr_bpm"] for r in hr_rows if r["valid"] and r["updated"]]
    from rppg_distill.signal.hr import aggregate_hr

    recording_hr = aggregate_hr(estimates) if estimates else None
    pipe = getattr(runner, "pipeline", None)
    if pipe is not None and len(bvp_all) >= round(pipe.window_s * runner.fs):
        # classical: the pipeline's own aggregate over 10 s windows of the stitched pulse
        import numpy as np

        from rppg_distill.signal.windows import window_bounds

        sig = np.asarray(bvp_all, np.float64)
        bounds = window_bounds(len(sig), runner.fs, pipe.window_s, pipe.stride_s)
        recording_hr = pipe.aggregate_windows(np.stack([sig[a:b] for a, b in bounds]), runner.fs)

    summary.update({"frames": n, "elapsed_s": elapsed, "fps": n / elapsed if elapsed > 0 else 0.0,
                    "valid_frames": len(valid),
                    "hr_median_bpm": float(sorted(valid)[len(valid) // 2]) if valid else None,
                    "hr_estimates": len(estimates),
                    "hr_recording_bpm": recording_hr,
                    "hr_window_median_bpm": aggregate_hr(estimates) if estimates else None,
                    "confident_share": (sum(r["confident"] for r in hr_rows if r["valid"])
                                        / len(valid)) if valid else None,
                    "stages": mon.stats()["stages"], "error": error})
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2, default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o)))
    tmp.replace(out / "summary.json")
    if args.plot and bvp_t_all:
        from rppg_distill.deploy.runtime.plot import write_run_plot

        write_run_plot(out / "plot.png", bvp_t_all, bvp_all, hr_rows, crops.items(),
                       title=f"{summary['ran']} - {summary['source']}",
                       min_snr_db=cfg.min_snr_db, roi_boxes=getattr(runner, "roi_boxes", ()))
    if error:
        print(f"rppg-distill run: stopped after {n} frames: {error} "
              f"(results so far are in {out})", file=sys.stderr)
        return 1 if n else 2
    if not args.quiet:
        med = summary["hr_median_bpm"]
        print(f"{n} frames in {elapsed:.1f} s ({summary['fps']:.1f} fps); median HR "
              f"{'%.1f bpm' % med if med is not None else 'n/a (no valid estimate)'}; results in {out}")
    return 0
