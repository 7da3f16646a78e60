"""`rppg-distill build-engine`: ONNX -> TensorRT engine (needs TensorRT; no torch)."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "build-engine"
HELP = "build a TensorRT engine (.plan) from an exported ONNX (TensorRT 10.x or 11.x)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("onnx", help="exported student .onnx (fp32, fp16 or int8 Q/DQ)")
    p.add_argument("-o", "--output", help="engine path (default: ONNX name with .plan)")
    p.add_argument("--precision", choices=["fp32", "fp16", "int8"], default=None,
                   help="TensorRT 10.x builder flags; default, on 11.x and with --strongly-typed: "
                        "the ONNX's own precision (another value is refused)")
    p.add_argument("--batch", default="1,1,4", help="min,opt,max batch for a dynamic-batch ONNX")
    p.add_argument("--workspace-mib", type=int, default=1024)
    p.add_argument("--timing-cache", default=None, help="timing cache file (read and updated)")
    p.add_argument("--dla-core", type=int, default=None, help="build for DLA core N (AGX Orin; TensorRT 10.x or 11.4+, "
                   "11.0-11.3 have no DLA)")
    p.add_argument("--strongly-typed", action="store_true", help="strongly typed network on 10.x (precision from the "
                   "ONNX, as on 11.x)")
    p.add_argument("--verbose", action="store_true")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rppg_distill.deploy.trt_build import BuildError, BuildOptions, build_engine

    try:
        batch = tuple(int(v) for v in args.batch.split(","))
        if len(batch) != 3:
            raise ValueError
    except ValueError:
        print(f"--batch must be min,opt,max (e.g. 1,1,4), got {args.batch!r}", file=sys.stderr)
        return 2
    out = args.output or str(Path(args.onnx).with_suffix(".plan"))
    opts = BuildOptions(precision=args.precision, batch=batch, workspace_mib=args.workspace_mib,
                        timing_cache=args.timing_cache, dla_core=args.dla_core,
                        strongly_typed=args.strongly_typed or None)
    try:
        header = build_engine(args.onnx, out, opts, verbose=args.verbose)
    except (ImportError, BuildError, FileNotFoundError, ValueError) as err:
        print(f"rppg-distill build-engine: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: header[k] for k in ("tensorrt_version", "gpu", "compute_capability",
                                             "precision", "dla_core", "build_s")}))
    print(f"engine written to {out}")
    return 0
