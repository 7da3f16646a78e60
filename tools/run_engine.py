#!/usr/bin/env python3
"""Run the streaming heart-rate monitor on the target (Jetson: TensorRT or onnxruntime, no torch).

    python3 tools/run_engine.py video.mp4 --model student.plan --out results/ --plot
    python3 tools/run_engine.py --camera 0 --model student.plan

Same options as `rppg-distill run`. With ``--bench-model N`` it only times N model calls.
"""

import sys
from pathlib import Path

try:
    import rppg_distill  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

import argparse

from rppg_distill.commands import run as run_cmd


def bench_model(path: str, n: int) -> int:
    from rppg_distill.deploy import load_runner
    from rppg_distill.deploy.timing import time_runner

    r = load_runner(path)
    times, _ = time_runner(r, n)
    times.sort()
    print(f"{r.describe()}: median {1e3 * times[len(times) // 2]:.2f} ms per window "
          f"(min {1e3 * times[0]:.2f}, max {1e3 * times[-1]:.2f})")
    return 0


if __name__ == "__main__":
    if "--bench-model" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--model", required=True)
        p.add_argument("--bench-model", type=int, required=True)
        a, _ = p.parse_known_args()
        sys.exit(bench_model(a.model, a.bench_model))
    parser = argparse.ArgumentParser(description=run_cmd.HELP)
    run_cmd.add_arguments(parser)
    sys.exit(run_cmd.run(parser.parse_args()))
