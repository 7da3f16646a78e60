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


def _load_runner(args: argparse.Namespace):
    """The classical runner (no ``--model``) or the model's runner; ValueError etc. on failure."""
    if args.model is None:
        from rppg_distill.classical import DEFAULT_METHOD, ClassicalPipeline
        from rppg_distill.deploy.runtime import ClassicalRunner

        pipe = ClassicalPipeline(method=args.method or DEFAULT_METHOD,
                                 window_s=args.hr_window, stride_s=args.hr_update)
        return ClassicalRunner(pipeline=pipe, skin=args.skin_mask)
    from rppg_distill.deploy import load_runner

    return load_runner(args.model, **({"providers": args.providers, "threads": args.threads}
                                      if str(args.model).endswith(".onnx") else {}))


def _summary_header(args, runner, mon, cfg, mode: str, key_period) -> dict:
    """What ran, on what, with which contract and monitor settings."""
    desc = runner.describe()
    return {"source": args.video if args.camera is None else f"camera:{args.camera}",
            "ran": (f"classical method {desc['method']}" if args.model is None
                    else f"model {args.model}"),
            "model": None if args.model is None else str(args.model),
            "method": desc.get("method"), "runner": desc, "mode": mode,
            "contract": runner.contract.to_dict(), "key_frame_period_s": key_period,
            "monitor": {"hop": mon.hop, "hr_window_s": cfg.hr_window_s,
                        "hr_update_s": cfg.hr_update_s, "face_backend": cfg.face_backend,
                        "detect_every": cfg.detect_every, "min_snr_db": cfg.min_snr_db,
                        "min_peak_concentration": cfg.min_peak_concentration}}


class _Streamed:
    """What the frame loop collected: per-frame HR rows, the stitched pulse, crops for the plot."""

    def __init__(self, plot: bool):
        from rppg_distill.deploy.runtime.plot import CropSampler

        self.hr_rows: list[dict] = []
        self.bvp_t: list[float] = []
        self.bvp: list[float] = []
        self.crops = CropSampler() if plot else None
        self.n = 0
        self.error: str | None = None


def _stream(source, mon, out: Path, console: _Console, got: _Streamed, t0: float) -> None:
    """Push every frame; rows are written whole as they come (CsvRows), so an interrupted run or
    a full disk leaves valid CSV files. Errors end the loop and are kept in ``got.error``."""
    from rppg_distill.data.atomic import CsvRows

    with CsvRows(out / "hr.csv", ["t", "valid", "hr_bpm", "snr_db", "peak_concentration",
                                   "confident", "face", "status"]) as w_hr, \
            CsvRows(out / "bvp.csv", ["t", "bvp"]) as w_b:

        def write_bvp(ts, vs):
            w_b.write([[f"{a:.4f}", f"{b:.5f}"] for a, b in zip(ts, vs)])
            got.bvp_t.extend(ts.tolist())
            got.bvp.extend(vs.tolist())

        try:
            t_dec = time.perf_counter()
            for frame, ts in source:
                mon.timer.add("decode", time.perf_counter() - t_dec)
                r = mon.push(frame, ts)
                got.n += 1
                w_hr.write([r.row()])
                got.hr_rows.append({"t": r.t, "valid": r.valid, "hr_bpm": r.hr_bpm,
                                    "snr_db": r.snr_db, "confident": r.confident,
                                    "updated": r.updated})
                if got.crops is not None and r.face:
                    got.crops.offer(r.t, mon.last_crop)
                if len(r.bvp):
                    write_bvp(r.bvp_t, r.bvp)
                console.update(r, got.n, got.n / max(time.perf_counter() - t0, 1e-9))
                t_dec = time.perf_counter()
            ts_, vs_ = mon.flush()
            if len(vs_):
                write_bvp(ts_, vs_)
        except KeyboardInterrupt:
            got.error = "interrupted"
        except (ValueError, OSError, RuntimeError) as err:
            from rppg_distill.errors import one_line

            got.error = one_line(err)


def _recording_hr(runner, got: _Streamed, estimates: list[float]) -> float | None:
    """One HR for the whole recording: a classical pipeline's own aggregate over its windows of
    the stitched pulse, else the aggregate of the window estimates."""
    from rppg_distill.signal.hr import aggregate_hr

    pipe = getattr(runner, "pipeline", None)
    if pipe is not None and len(got.bvp) >= round(pipe.window_s * runner.fs):
        import numpy as np

        from rppg_distill.signal.windows import window_bounds

        sig = np.asarray(got.bvp, np.float64)
        bounds = window_bounds(len(sig), runner.fs, pipe.window_s, pipe.stride_s)
        return pipe.aggregate_windows(np.stack([sig[a:b] for a, b in bounds]), runner.fs)
    return aggregate_hr(estimates) if estimates else None


def _results(summary: dict, runner, mon, got: _Streamed, elapsed: float) -> dict:
    from rppg_distill.signal.hr import aggregate_hr

    valid = [r["hr_bpm"] for r in got.hr_rows if r["valid"]]
    estimates = [r["hr_bpm"] for r in got.hr_rows if r["valid"] and r["updated"]]
    final = mon.last_hr()[0]
    summary.update({
        "frames": got.n, "elapsed_s": elapsed, "fps": got.n / elapsed if elapsed > 0 else 0.0,
        "valid_frames": len(valid),
        "hr_median_bpm": float(sorted(valid)[len(valid) // 2]) if valid else None,
        "hr_final_bpm": final if math.isfinite(final) else None,
        "hr_estimates": len(estimates),
        "hr_recording_bpm": _recording_hr(runner, got, estimates),
        "hr_window_median_bpm": aggregate_hr(estimates) if estimates else None,
        "confident_share": (sum(r["confident"] for r in got.hr_rows if r["valid"]) / len(valid))
        if valid else None,
        "stages": mon.stats()["stages"], "error": got.error})
    return summary


def run(args: argparse.Namespace) -> int:
    from rppg_distill.data.atomic import atomic_write_text
    from rppg_distill.deploy.runtime import Monitor, MonitorConfig, prefetch

    out = Path(args.out)
    if args.model is not None and args.method is not None:
        print("rppg-distill run: give either --model or --method, not both", file=sys.stderr)
        return 2
    try:
        runner = _load_runner(args)
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as err:
        what = "model" if args.model is not None else "classical method"
        print(f"rppg-distill run: cannot load {what}: {err}", file=sys.stderr)
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
    source = (_camera_frames(args.camera, args.camera_timeout, args.max_frames)
              if args.camera is not None else _video_frames(args.video, args.max_frames, args.fps))
    summary = _summary_header(args, runner, mon, cfg, mode, key_period)
    console = _Console(args.quiet)
    got = _Streamed(args.plot)
    t0 = time.perf_counter()
    try:
        _stream(prefetch(source, args.prefetch), mon, out, console, got, t0)
    finally:  # summary.json is written in any case
        console.done()
        elapsed = time.perf_counter() - t0
        _results(summary, runner, mon, got, elapsed)
        atomic_write_text(out / "summary.json", json.dumps(
            summary, indent=2,
            default=lambda o: None if isinstance(o, float) and math.isnan(o) else str(o)))
    if args.plot and got.bvp_t:
        from rppg_distill.deploy.runtime.plot import write_run_plot

        write_run_plot(out / "plot.png", got.bvp_t, got.bvp, got.hr_rows, got.crops.items(),
                       title=f"{summary['ran']} - {summary['source']}",
                       min_snr_db=cfg.min_snr_db, roi_boxes=getattr(runner, "roi_boxes", ()))
    n = got.n
    if got.error:
        print(f"rppg-distill run: stopped after {n} frames: {got.error} "
              f"(results so far are in {out})", file=sys.stderr)
        return 1 if n else 2
    if not args.quiet:
        med, fin = summary["hr_median_bpm"], summary["hr_final_bpm"]
        hr = (f"median HR {med:.1f} bpm" if med is not None else
              f"HR {fin:.1f} bpm (one estimate at the end of the stream)" if fin is not None else
              "median HR n/a (no valid estimate)")
        print(f"{n} frames in {elapsed:.1f} s ({summary['fps']:.1f} fps); {hr}; results in {out}")
    return 0
