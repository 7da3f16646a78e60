"""`rppg-distill export`: checkpoint -> ONNX (+ fp16 / int8 Q/DQ), contract + graph checks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "export"
HELP = "export a trained student to ONNX (fp32, fp16, int8 Q/DQ) with its preprocessing contract"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="?", help="trainer checkpoint (.pt); omit with --random-init")
    p.add_argument("-o", "--output", required=True, help="output .onnx (fp32); fp16/int8 get suffixes")
    p.add_argument("--arch", default=None, help="model name if the checkpoint does not say")
    p.add_argument("--random-init", action="store_true", help="export untrained weights (tests)")
    p.add_argument("--frames", type=int, default=None, help="T per window (default from checkpoint, else 160)")
    p.add_argument("--size", type=int, default=None, help="crop side (default 72)")
    p.add_argument("--normalization", choices=["diff_normalized", "standardized", "raw"], default=None)
    p.add_argument("--fs", type=float, default=None, help="frame rate the model expects (default 30)")
    p.add_argument("--batch", default="dynamic", help="'dynamic' or a fixed batch size")
    p.add_argument("--exporter", choices=["auto", "dynamo", "legacy"], default="auto")
    p.add_argument("--precision", default="fp32",
                   help="comma list of fp32, fp16, int8 (int8 needs --calib-cache)")
    p.add_argument("--target", choices=["ort-cpu", "tensorrt"], default="ort-cpu",
                   help="int8 only: where the model will run. ort-cpu (default): onnxruntime on any "
                        "CPU (7-bit weights, accurate on x86 without VNNI too); tensorrt: full-range "
                        "int8 for TensorRT (inaccurate in onnxruntime on x86 CPUs without VNNI)")
    p.add_argument("--calib-cache", help="clip cache folder with preprocessed crops for int8 calibration")
    p.add_argument("--calib-clips", type=int, default=64)
    p.add_argument("--heldout-clips", type=int, default=16, help="held-out clips for HR drift")


def run(args: argparse.Namespace) -> int:
    try:
        from rppg_distill.deploy.export import export_checkpoint
    except ImportError as err:
        print(f"rppg-distill export needs torch and onnx (pip install 'rppg-distill[train]'): {err}",
              file=sys.stderr)
        return 2
    from rppg_distill.deploy import precision as prec

    if args.checkpoint is None and not args.random_init:
        print("rppg-distill export: give a checkpoint or --random-init", file=sys.stderr)
        return 2
    batch = args.batch if args.batch == "dynamic" else int(args.batch)
    wanted = [p.strip() for p in args.precision.split(",") if p.strip()]
    bad = set(wanted) - {"fp32", "fp16", "int8"}
    if bad:
        print(f"rppg-distill export: unknown precision {sorted(bad)}", file=sys.stderr)
        return 2
    out = Path(args.output)
    try:
        rep = export_checkpoint(args.checkpoint, out, arch=args.arch, frames=args.frames, size=args.size,
                                normalization=args.normalization, fs=args.fs, batch=batch,
                                exporter=args.exporter)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as err:
        print(f"rppg-distill export: cannot export the model: {err}", file=sys.stderr)
        return 2
    contract = rep.contract
    summary = {"fp32": rep.to_dict()}
    print(f"exported {out} ({rep.exporter}, opset {rep.opset}, parity "
          f"{max(v['rel_err'] for v in rep.parity.values()):.2e})")
    clips = hr = None
    if ("int8" in wanted or "fp16" in wanted) and args.calib_cache:
        n = args.calib_clips + args.heldout_clips
        clips, hr = prec.clips_from_cache(args.calib_cache, contract, max_clips=n, with_hr=True)
    if "fp16" in wanted:
        p16 = prec.to_fp16(out, out.with_name(out.stem + "_fp16.onnx"))
        summary["fp16"] = {"path": str(p16)}
        if clips is not None:
            summary["fp16"]["validation"] = prec.validate_precision(
                out, p16, clips[args.calib_clips:] if len(clips) > args.calib_clips else clips,
                _finite_or_none(hr[args.calib_clips:] if len(clips) > args.calib_clips else hr))
        print(f"fp16 -> {p16}")
    if "int8" in wanted:
        if clips is None:
            print("rppg-distill export: int8 needs --calib-cache (real preprocessed clips)", file=sys.stderr)
            return 2
        calib = clips[:args.calib_clips]
        held = clips[args.calib_clips:] if len(clips) > args.calib_clips else clips
        held_hr = hr[args.calib_clips:] if len(clips) > args.calib_clips else hr
        p8 = prec.to_int8(out, out.with_name(out.stem + "_int8.onnx"), calib, target=args.target)
        val = prec.validate_precision(out, p8, held, _finite_or_none(held_hr))
        summary["int8"] = {"path": str(p8), "validation": val}
        print(f"int8 -> {p8}: HR |diff| vs fp32 {val['hr_abs_diff_mean_bpm']:.2f} bpm"
              + (f", MAE drift {val['mae_drift_bpm']:+.2f} bpm" if "mae_drift_bpm" in val else ""))
    out.with_name(out.stem + "_export.json").write_text(json.dumps(summary, indent=2, default=str))
    return 0


def _finite_or_none(hr):
    import numpy as np

    if hr is None:
        return None
    hr = np.asarray(hr, float)
    return hr if len(hr) and np.isfinite(hr).all() else None
