"""Before/after comparison of the spectral core between source trees, robust to a loaded machine.

    python bench/spectral_ab.py --tree before=/tmp/old_checkout --tree after=. [--rounds 3] [--json PATH]

Each tree's ``python/`` (with its built ``_core``) is measured in its own process, the trees in
alternation for ``--rounds`` rounds, single-threaded (OMP_NUM_THREADS=1, RPPG_NUM_THREADS=1) and
on the thread's CPU time (time.thread_time), so that time spent waiting for a core on a shared
machine is left out. Only the public API is called (rppg_distill.spectral.psd_kl and the torch.fft
reference), so any version of the package can be compared. Per process: the fixed cost of a
psd_kl forward+backward at (B, T) = (1, 64), and fused vs torch.fft forward+backward at (4, 180)
and (64, 180) (rfft n = 2048), interleaved, with the paired ratio torch.fft / fused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import metadata, spread, time_interleaved, write_json

FS, BAND = 30.0, (0.5, 3.0)
SHAPES = [(4, 180), (64, 180)]


def measure() -> dict:
    """The child: one tree's numbers (microseconds of thread CPU time per call)."""
    import torch

    import rppg_distill.spectral as S
    import rppg_distill.spectral.reference as R

    torch.set_num_threads(1)
    s1, t1 = torch.randn(1, 64, requires_grad=True), torch.randn(1, 64)

    def fixed():
        s1.grad = None
        S.psd_kl(s1, t1, FS, BAND).backward()

    out = {"fixed_cost_us": spread(time_interleaved({"f": fixed}, min_time=1.0, min_runs=30, max_runs=400,
                                                    clock=time.thread_time, inner=50)["f"], 1e6)}
    for B, T in SHAPES:
        g = torch.Generator().manual_seed(0)
        s, t = torch.randn(B, T, generator=g).requires_grad_(), torch.randn(B, T, generator=g)

        def fused(s=s, t=t):
            s.grad = None
            S.psd_kl(s, t, FS, BAND, n_fft=2048).backward()

        def fft(s=s, t=t):
            s.grad = None
            R.psd_kl(s, t, FS, BAND, n_fft=2048).backward()

        sm = time_interleaved({"fused": fused, "torch.fft": fft}, min_time=0.5, min_runs=30, max_runs=400,
                              clock=time.thread_time, inner=5)
        ratio = np.asarray(sm["torch.fft"]) / np.asarray(sm["fused"])
        out[f"{B}x{T}"] = {"fused_us": spread(sm["fused"], 1e6), "torch_fft_us": spread(sm["torch.fft"], 1e6),
                           "paired_ratio": spread(ratio)}
    out["loadavg"] = list(os.getloadavg())
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", action="append", default=[], help="NAME=PATH of a source tree (repeat)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", default=str(Path(__file__).parent / "results" / "spectral_ab.json"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure()))
        return 0
    trees = dict(t.split("=", 1) for t in args.tree)
    if len(trees) < 1:
        p.error("give at least one --tree NAME=PATH")
    meta = metadata(trees={k: str(Path(v).resolve()) for k, v in trees.items()}, clock="thread CPU time",
                    threads=1)
    env = dict(os.environ, OMP_NUM_THREADS="1", RPPG_NUM_THREADS="1")
    runs: dict[str, list] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, path in trees.items():
            env["PYTHONPATH"] = str(Path(path).resolve() / "python")
            res = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True,
                                 check=True)
            runs[name].append(json.loads(res.stdout))
            d = runs[name][-1]
            print(f"round {r} {name:<10} fixed {d['fixed_cost_us']['median']:7.1f} us | "
                  + " | ".join(f"{k} fused {d[k]['fused_us']['median']:7.1f} us, torch.fft / fused "
                               f"{d[k]['paired_ratio']['median']:.2f}" for k in (f"{b}x{t}" for b, t in SHAPES))
                  + f" | load {d['loadavg'][0]:.1f}", flush=True)
    summary = {}
    for name, rs in runs.items():
        summary[name] = {"fixed_cost_us_median_of_rounds": float(np.median([d["fixed_cost_us"]["median"] for d in rs]))}
        for b, t in SHAPES:
            k = f"{b}x{t}"
            summary[name][k] = {
                "fused_us_median_of_rounds": float(np.median([d[k]["fused_us"]["median"] for d in rs])),
                "paired_ratio_median_of_rounds": float(np.median([d[k]["paired_ratio"]["median"] for d in rs]))}
        print(f"{name:<10} " + json.dumps(summary[name]))
    path = write_json(args.json, {"meta": meta, "summary": summary, "runs": runs})
    print(f"# JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
