"""Classical HR on real skin: every method with the default pipeline vs the README's four rows.

    python bench/real_skin.py [--data DIR] [--methods pos,chrom,...] [--json PATH]

Reads ``skin_traces.npz`` (``--data``, ``$RPPG_DISTILL_REALDATA`` or ``../shared/realdata``):
45 real cheek RGB traces at 15 fps with contact mean HR. Prints, per method with the default
``ClassicalPipeline`` (detrend + order-1 band-pass 0.75-2.5 Hz, 10 s windows every 1 s, median),
the MAE and share within 5 bpm of the recording HR and of every 10 s window, then the four
baseline rows of the data's README recomputed here (whole-trace HR, as the README measured them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from rppg_distill.classical import DEFAULT_METHOD, METHODS, ClassicalPipeline, run_method
from rppg_distill.classical.skin_traces import evaluate_on_traces, find_realdata, load_skin_traces
from rppg_distill.signal import hr_fft, hr_protocol

README_ROWS = [  # (label, README MAE, README within 5 bpm)
    ("pos + crossview protocol (default today)", 37.2, 0.07),
    ("pos + rpm_distill protocol (order-6 band-pass)", 31.8, 0.09),
    ("pos + order-1 band-pass 0.75-3 Hz", 20.0, 0.13),
    ("chrom + order-1 band-pass 0.75-3 Hz", 14.4, 0.20),
]


def readme_rows(traces) -> list[tuple[str, float, float, float, float]]:
    """The README's four whole-trace pipelines recomputed: (label, mae, within5, readme mae, w5)."""
    fns = [
        lambda tr: hr_protocol(run_method("pos", tr.rgb, tr.fs), tr.fs, "crossview"),
        lambda tr: hr_protocol(run_method("pos", tr.rgb, tr.fs), tr.fs, "rpm_distill"),
        lambda tr: hr_fft(run_method("pos", tr.rgb, tr.fs), tr.fs, (0.75, 3.0), window=None,
                          filter_order=1),
        lambda tr: hr_fft(run_method("chrom", tr.rgb, tr.fs), tr.fs, (0.75, 3.0), window=None,
                          filter_order=1),
    ]
    out = []
    for (label, r_mae, r_w5), fn in zip(README_ROWS, fns):
        err = []
        for tr in traces:
            try:
                err.append(abs(fn(tr) - tr.hr_bpm))
            except ValueError:  # e.g. a dropped (black) frame: a method cannot normalize it
                err.append(np.nan)
        e = np.asarray(err)
        out.append((label, float(np.nanmean(e)), float(np.nanmean(e <= 5)), r_mae, r_w5,
                    int(np.isnan(e).sum())))
    return out


class _WholeFrame:
    """Face backend for trace replay: the face is the whole frame."""

    name = "whole_frame"

    def detect(self, frame):
        from rppg_distill.data.face import Detection

        return [Detection(0.0, 0.0, float(frame.shape[1]), float(frame.shape[0]))]

    def config(self) -> dict:
        return {"backend": self.name}


def replay_frames(rgb: np.ndarray, side: int = 64) -> np.ndarray:
    """uint8 frames [T, side, side, 3] whose pixel mean equals the float RGB means to 1/side^2
    (side = the classical crop size, so the tracker's resize is a copy):
    each pixel adds its own offset of an evenly spread dither before rounding down."""
    offsets = (np.random.default_rng(0).permutation(side * side) + 0.5) / (side * side)
    v = np.floor(rgb[:, None, :] + offsets[None, :, None])  # [T, side^2, 3]
    return np.clip(v, 0, 255).astype(np.uint8).reshape(len(rgb), side, side, 3)


def runtime_track(traces, method: str) -> dict:
    """The streaming Monitor on each trace replayed as frames (skin mask "none": the traces
    already are skin means): its HR at every update (1 s) against the contact mean HR."""
    from rppg_distill.deploy.runtime import ClassicalRunner, Monitor, MonitorConfig

    errs = []
    for tr in traces:
        mon = Monitor(ClassicalRunner(method, skin="none"),
                      MonitorConfig(mode="offline", detect_every=10**6, max_hold=10**9),
                      face_backend=_WholeFrame())
        hrs = []
        for i, f in enumerate(replay_frames(tr.rgb)):
            r = mon.push(f, i / tr.fs)
            if r.updated and r.valid:
                hrs.append(r.hr_bpm)
        errs.append(np.abs(np.array(hrs) - tr.hr_bpm))
    e = np.concatenate(errs)
    return {"window_mae": float(e.mean()), "window_within5": float((e <= 5).mean()),
            "n_windows": int(e.size)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder or file of skin_traces.npz")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--json", default=None, help="write the figures here")
    ap.add_argument("--aggregate", default=None,
                    help="recording HR from the windows: spectrum, median or mode (default: the "
                         "pipeline's)")
    ap.add_argument("--runtime", action="store_true",
                    help="also replay each trace through the streaming Monitor (HR every 1 s)")
    ap.add_argument("--stride", type=float, default=None,
                    help="window stride in s (default: the pipeline's 1 s; larger is faster, for "
                         "slow methods such as ica)")
    args = ap.parse_args(argv)
    data = Path(args.data) if args.data else find_realdata(Path(__file__).parent)
    if data is None:
        print("skin_traces.npz not found: pass --data or set RPPG_DISTILL_REALDATA", file=sys.stderr)
        return 2
    traces = load_skin_traces(data)
    print(f"{len(traces)} traces from {data}; default pipeline: {ClassicalPipeline().as_dict()}")
    if args.aggregate:
        print(f"recording aggregate {args.aggregate} instead of the pipeline's default")
    if args.stride:
        print(f"window stride {args.stride} s instead of the pipeline's default")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(f"\n{'method':8s} {'recording MAE':>14s} {'within 5':>9s} {'10 s window MAE':>16s} "
          f"{'within 5':>9s} {'time':>6s}")
    results = {}
    for m in args.methods.split(","):
        t0 = time.perf_counter()
        pipe = ClassicalPipeline(method=m)
        if args.stride:
            pipe = dataclasses.replace(pipe, stride_s=args.stride)
        if args.aggregate:
            pipe = dataclasses.replace(pipe, aggregate=args.aggregate)
        r = evaluate_on_traces(traces, pipe)
        dt = time.perf_counter() - t0
        tag = " (default)" if m == DEFAULT_METHOD else ""
        print(f"{m:8s} {r['recording_mae']:14.1f} {100 * r['recording_within5']:8.0f}% "
              f"{r['window_mae']:16.1f} {100 * r['window_within5']:8.0f}% {dt:5.0f}s{tag}",
              flush=True)
        if args.runtime:
            t0 = time.perf_counter()
            rt = runtime_track(traces, m)
            print(f"{'':8s} streaming Monitor, HR every 1 s: {rt['window_mae']:.1f} bpm MAE, "
                  f"{100 * rt['window_within5']:.0f}% within 5 ({rt['n_windows']} updates, "
                  f"{time.perf_counter() - t0:.0f}s)", flush=True)
        results[m] = {k: v for k, v in r.items() if k != "per_trace"}
        if args.runtime:
            results[m]["runtime"] = rt
        results[m]["per_trace"] = [list(p) for p in r["per_trace"]]
    print("\nREADME rows (whole-trace HR), recomputed here vs the README:")
    rows = readme_rows(traces)
    for label, mae, w5, r_mae, r_w5, n_fail in rows:
        fail = f"  ({n_fail} trace(s) failed, left out)" if n_fail else ""
        print(f"  {label:48s} MAE {mae:5.1f} ({100 * w5:3.0f}% within 5)   README {r_mae:5.1f} "
              f"({100 * r_w5:3.0f}%){fail}")
    if args.json:
        payload = {"pipeline": ClassicalPipeline().as_dict(), "methods": results,
                   "readme_rows": [dict(zip(("label", "mae", "within5", "readme_mae",
                                             "readme_within5", "failed"), r)) for r in rows],
                   "load_average_end": os.getloadavg()[0]}
        Path(args.json).write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
