"""`rppg-distill import-toolbox`: a released rPPG-Toolbox checkpoint -> ONNX with its contract."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "import-toolbox"
HELP = ("import a released rPPG-Toolbox checkpoint (PhysNet, FactorizePhys, EfficientPhys) as an "
        "ONNX model with the toolbox's preprocessing contract and/or a checkpoint to train from")

ARCHS = ("physnet", "factorizephys", "efficientphys")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="the toolbox's .pth file (read with weights_only: no code runs)")
    p.add_argument("--arch", choices=ARCHS, default=None,
                   help="architecture (default: told from the parameter names)")
    p.add_argument("-o", "--output", required=True,
                   help="model.onnx (ONNX + model.json sidecar), or model.pt for a torch "
                        "checkpoint only")
    p.add_argument("--save-checkpoint", default=None, metavar="PT",
                   help="also write a self-describing torch checkpoint (model.init_from for training)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames per model window (default: the toolbox's chunk length)")
    p.add_argument("--batch", default="dynamic", help="'dynamic' or a fixed batch size")
    p.add_argument("--exporter", choices=["auto", "dynamo", "legacy"], default="auto")


def _detection(every: int) -> str:
    return "once" if every == 0 else f"every {every} frames"


def run(args: argparse.Namespace) -> int:
    try:
        from rppg_distill.deploy.toolbox_import import import_toolbox
    except ImportError as err:
        print(f"rppg-distill import-toolbox needs torch and onnx (pip install "
              f"'rppg-distill[train]'): {err}", file=sys.stderr)
        return 2
    out = Path(args.output)
    onnx_path, ckpt_out = (out, args.save_checkpoint) if out.suffix.lower() == ".onnx" else (
        None, out)
    if onnx_path is None and args.save_checkpoint:
        print("rppg-distill import-toolbox: --save-checkpoint needs -o model.onnx", file=sys.stderr)
        return 2
    batch = args.batch if args.batch == "dynamic" else int(args.batch)
    try:
        rep = import_toolbox(args.checkpoint, onnx_path, arch=args.arch, checkpoint_out=ckpt_out,
                             frames=args.frames, batch=batch, exporter=args.exporter)
    except (ValueError, FileNotFoundError) as err:
        print(f"rppg-distill import-toolbox: {err}", file=sys.stderr)
        return 2
    c = rep["contract"]
    print(f"imported {args.checkpoint}: toolbox {rep['arch']} -> {rep['model_name']} "
          f"{json.dumps(rep['model_kwargs'])}")
    print(f"contract: {c['frames']} frames {c['height']}x{c['width']} {c['normalization']} -> "
          f"{c['output']}, {c['fs']:g} fps, face box x{c['face_box_coef']:g}, detect "
          f"{_detection(c['detect_every'])}")
    if "onnx" in rep:
        par = max(v["rel_err"] for v in rep["onnx"]["parity"].values())
        print(f"wrote {rep['onnx']['path']} ({rep['onnx']['exporter']}, opset "
              f"{rep['onnx']['opset']}; onnxruntime vs torch max rel err {par:.2e})")
    if "checkpoint" in rep:
        print(f"wrote {rep['checkpoint']}")
    return 0
