"""`rppg-distill run VIDEO|--camera N --model student.onnx|student.plan`: streaming heart rate.

Writes ``<out>/hr.csv`` (one row per frame, flushed as it goes, so a crash or Ctrl-C leaves a valid
partial file), ``<out>/bvp.csv`` (stitched pulse), ``<out>/summary.json`` and with ``--plot`` a PNG
of BVP and HR over time. Never imports torch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

NAME = "run"
HELP = "estimate heart rate from a video file or a camera with an exported student model"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("video", nargs="?", help="video file (MP4/AVI/...)")
    src.add_argument("--camera", type=int, help="camera index (OpenCV)")
    p.add_argument("--model", required=True, help="student .onnx or TensorRT .plan")
    p.add_argument("--out", default="rppg_run", help="output folder (default: ./rppg_run)")
    p.add_argument("--plot", action="store_true", help="write plot.png (BVP and HR over time)")
    p.add_argument("--providers", default="auto", help="onnxruntime providers: auto, cpu, cuda, tensorrt")
    p.add_argument("--face-backend", default="haar")
    p.add_argument("--mode", choices=("auto", "live", "offline"), default="auto",
                   help="offline: windows without overlap, several per model call (default for "
                        "a file); live: half-overlapping windows, lower latency (default for a camera)")
    p.add_argument("--detect-every", type=int, default=None,
                   help="face detection every N frames (default: the model contract's, else 15)")
    p.add_argument("--detect-max-side", type=int, default=None,
                   help="haar: detect on a copy downscaled to this longest side (default: as far "
                        "as a face of 10%% of the frame's shorter side is still found)")
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
    p.add_argument("--fps", type=float, default=None,
                   help="the video's real frame rate, for a file whose header has none or a wrong "
                        "one (timestamps become index / fps); default: the header's rate")
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


def _video_frames(path: str, max_frames: int | None, fps: float | None = None):
    from rppg_distill.data.video_io import iter_video

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"video not found: {p}")
    for i, item in enumerate(iter_video(p, fps=fps)):
        if max_frames is not None and i >= max_frames:
            return
        yield item


def _key_frame_period(args) -> float | None:
    """The video file's regular key-frame period (s), whose rhythm the Monitor flags; None for a
    camera, an intra-only codec or a file OpenCV cannot probe (the frame loop reports why)."""
    if args.camera is not None:
        return None
    from rppg_distill.deploy.runtime.codec_rhythm import probe_key_frame_period

    try:
        return probe_key_frame_period(args.video, args.fps)
    except ValueError:
        return None


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


def write_plot(path: Path, bvp_t, bvp, hr_rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    a1.plot(bvp_t, bvp, lw=0.8)
    a1.set_ylabel("BVP (z)")
    t = [r["t"] for r in hr_rows if r["valid"]]
    h = [r["hr_bpm"] for r in hr_rows if r["valid"]]
    a2.plot(t, h, ".", ms=2)
    a2.set_ylabel("HR (bpm)")
    a2.set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from rppg_distill.deploy import load_runner
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig

    out = Path(args.out)
    try:
        runner = load_runner(args.model, **({"providers": args.providers, "threads": args.threads}
                                            if str(args.model).endswith(".onnx") else {}))
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as err:
        print(f"rppg-distill run: cannot load model: {err}", file=sys.stderr)
        return 2
    mode = args.mode if args.mode != "auto" else ("live" if args.camera is not None else "offline")
    key_period = _key_frame_period(args)
    cfg = MonitorConfig(mode=mode, hop=args.hop, batch_windows=args.batch_windows,
                        hr_window_s=args.hr_window, hr_update_s=args.hr_update,
                        face_backend=args.face_backend, detect_every=args.detect_every,
                        detect_max_side=args.detect_max_side, key_frame_period_s=key_period)
    try:
        mon = Monitor(runner, cfg)
    except Exception as err:  # face backend missing etc.
        print(f"rppg-distill run: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    from rppg_distill.deploy.runtime import prefetch

    source = (_camera_frames(args.camera, args.camera_timeout, args.max_frames)
              if args.camera is not None else _video_frames(args.video, args.max_frames,
                                                                  args.fps))
    source = prefetch(source, args.prefetch)
    summary = {"source": args.video if args.camera is None else f"camera:{args.camera}",
               "model": str(args.model), "runner": runner.describe(), "mode": mode,
               "contract": runner.contract.to_dict(), "key_frame_period_s": key_period}
    console = _Console(args.quiet)
    hr_rows, bvp_t_all, bvp_all = [], [], []
    n = 0
    error = None
    t0 = time.perf_counter()
    from rppg_distill.data.atomic import CsvRows

    # rows are written whole as they come (CsvRows): an interrupted run or a full disk leaves
    # valid CSV files, and summary.json is written in any case (finally)
    try:
        with CsvRows(out / "hr.csv", ["t", "valid", "hr_bpm", "snr_db", "peak_concentration",
                                       "confident", "face", "status"]) as w_hr, \
                CsvRows(out / "bvp.csv", ["t", "bvp"]) as w_b:

            def write_bvp(ts, vs):
                w_b.write([[f"{a:.4f}", f"{b:.5f}"] for a, b in zip(ts, vs)])
                bvp_t_all.extend(ts.tolist())
                bvp_all.extend(vs.tolist())

            try:
                t_dec = time.perf_counter()
                for frame, ts in source:
                    mon.timer.add("decode", time.perf_counter() - t_dec)
                    r = mon.push(frame, ts)
                    n += 1
                    w_hr.write([r.row()])
                    hr_rows.append({"t": r.t, "valid": r.valid, "hr_bpm": r.hr_bpm})
                    if len(r.bvp):
                        write_bvp(r.bvp_t, r.bvp)
                    console.update(r, n, n / max(time.perf_counter() - t0, 1e-9))
                    t_dec = time.perf_counter()
                ts_, vs_ = mon.flush()
                if len(vs_):
                    write_bvp(ts_, vs_)
            except KeyboardInterrupt:
                error = "interrupted"
            except (ValueError, OSError, RuntimeError) as err:
                from rppg_distill.errors import one_line

                error = one_line(err)
    finally:
        console.done()
        elapsed = time.perf_counter() - t0
        valid = [r["hr_bpm"] for r in hr_rows if r["valid"]]
        final = mon.last_hr()[0]
        summary.update({"frames": n, "elapsed_s": elapsed,
                        "fps": n / elapsed if elapsed > 0 else 0.0, "valid_frames": len(valid),
                        "hr_median_bpm": float(sorted(valid)[len(valid) // 2]) if valid else None,
                        "hr_final_bpm": final if math.isfinite(final) else None,
                        "stages": mon.stats()["stages"], "error": error})
        from rppg_distill.data.atomic import atomic_write_text

        atomic_write_text(out / "summary.json", json.dumps(
            summary, indent=2,
            default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o)))
    if args.plot and bvp_t_all:
        write_plot(out / "plot.png", bvp_t_all, bvp_all, hr_rows)
    if error:
        print(f"rppg-distill run: stopped after {n} frames: {error} "
              f"(results so far are in {out})", file=sys.stderr)
        return 1 if n else 2
    if not args.quiet:
        med, fin = summary["hr_median_bpm"], summary["hr_final_bpm"]
        hr = (f"median HR {med:.1f} bpm" if med is not None else
              f"HR {fin:.1f} bpm (one estimate at the end of the stream)" if fin is not None else
              "median HR n/a (no valid estimate)")
        print(f"{n} frames in {elapsed:.1f} s ({summary['fps']:.1f} fps); {hr}; results in {out}")
    return 0
