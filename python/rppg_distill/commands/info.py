"""`rppg-distill info`: what was compiled and which optional backends are importable."""

from __future__ import annotations

import argparse
import importlib.util
import json

NAME = "info"
HELP = "print the build info of the compiled core and the optional backends found"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    import rppg_distill

    info = {"rppg_distill": rppg_distill.__version__, "core": rppg_distill.build_info()}
    for pkg in ("torch", "onnxruntime", "cv2", "mediapipe", "tensorrt"):
        info[pkg] = importlib.util.find_spec(pkg) is not None
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>14}: {value}")
    return 0
