#!/usr/bin/env python3
"""Build a TensorRT engine on the target (Jetson: TensorRT from JetPack, no torch needed).

    python3 tools/build_engine.py student_int8.onnx -o student.plan --timing-cache tc.bin

Same options as `rppg-distill build-engine`. Works from a source checkout without installing:
it puts ../python on sys.path when rppg_distill is not importable.
"""

import sys
from pathlib import Path

try:
    import rppg_distill  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

import argparse

from rppg_distill.commands import build_engine

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=build_engine.HELP)
    build_engine.add_arguments(parser)
    sys.exit(build_engine.run(parser.parse_args()))
