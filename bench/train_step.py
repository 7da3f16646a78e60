"""Share of a training step spent in the distillation ops: fused core vs the torch.fft reference.

Cross-view (paper 1): EfficientPhys-C, batch 4 pairs (8 clips), T=180, 72x72, psd_kl (asymmetric).
RPM-Distill (paper 2): rpm_components at batch 1, T=256 (student side of a step).
Prints median (and IQR) of the full step and of the op alone (forward+backward), for both backends,
and writes JSON next to it. ``--small`` uses 36x36 frames to keep it quick on a shared CPU.
"""

from __future__ import annotations

import argparse
import json

import torch
from _common import metadata, spread, time_calls, write_json


def timeit(fn, reps):
    """(median, IQR) seconds of fn() over reps calls (see _common.spread)."""
    s = spread(time_calls(fn, min_time=0.0, min_runs=reps, max_runs=reps))
    return s["median"], s["iqr"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--json", default="bench_train_step.json")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core CPU 2 threads are slower)")
    a = ap.parse_args()
    torch.set_num_threads(max(1, a.threads))
    from rppg_distill import spectral
    from rppg_distill.models import build_model
    from rppg_distill.spectral import reference

    size = 36 if a.small else 72
    rows = []
    model = build_model("efficientphys_c", img_size=size)
    x = torch.randn(8, 3, 180, size, size)
    for name, mod in (("fused", spectral), ("torch.fft", reference)):
        def op_only(mod=mod):
            s = torch.randn(4, 180, requires_grad=True)
            t = torch.randn(4, 180)
            mod.psd_kl(s, t, 30.0, (0.5, 3.0), mode="asymmetric").backward()

        def step(mod=mod):
            y = model(x).float().contiguous()
            loss = (y ** 2).mean() + 0.01 * mod.psd_kl(y[4:].contiguous(), y[:4].contiguous(), 30.0, (0.5, 3.0),
                                                      mode="asymmetric")
            loss.backward()
        op, op_iqr = timeit(op_only, a.reps * 20)
        st, st_iqr = timeit(step, a.reps)
        rows.append({"paper": "crossview", "backend": name, "B": 4, "T": 180, "op_ms": 1e3 * op,
                     "op_iqr_ms": 1e3 * op_iqr, "step_ms": 1e3 * st, "step_iqr_ms": 1e3 * st_iqr,
                     "share_pct": 100 * op / st})
    for name, mod in (("fused", spectral), ("torch.fft", reference)):
        def op_only(mod=mod):
            s = torch.randn(1, 256, requires_grad=True)
            comps, _, _ = mod.rpm_components(s, torch.randn(1, 256), 30.0, (0.75, 3.0))
            comps.sum().backward()
        op, op_iqr = timeit(op_only, a.reps * 20)
        rows.append({"paper": "rpm", "backend": name, "B": 1, "T": 256, "op_ms": 1e3 * op, "op_iqr_ms": 1e3 * op_iqr})
    for r in rows:
        print(json.dumps(r))
    write_json(a.json, {"meta": metadata(frame_size=size), "rows": rows})


if __name__ == "__main__":
    main()
