"""Benchmark of the spectral core: fused psd_kl vs the torch.fft reference vs a matmul-DFT composite.

    python bench/spectral.py [--device cpu|cuda] [--quick] [--json PATH]
    python bench/spectral.py --breakdown     # where the per-call microseconds go (CPU, B=1, T=64)

Prints, per (B, T) and grid, the median time (and interquartile spread) of forward and
forward+backward through autograd, the ratios measured in the same run, the compute floor
(multiply-adds of the direct DFT divided by the sgemm rate measured here with torch.matmul)
and the fixed per-call cost (B = 1, T = 64). Writes JSON with metadata (bench/_common.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import loadavg, metadata, spread, time_calls, time_interleaved, write_json

import rppg_distill.spectral as S
import rppg_distill.spectral.reference as R

SHAPES = [(4, 180), (64, 180), (256, 300), (4096, 180), (4096, 900)]
BAND = (0.5, 3.0)
FS = 30.0


def next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def grids(T: int) -> dict:
    return {f"rfft n={next_pow2(8 * T)}": dict(n_fft=next_pow2(8 * T)), "1 bpm": dict(step_hz=1 / 60)}


def _syncer(device):
    return torch.cuda.synchronize if device.type == "cuda" else None


def timeit(fn, device, min_time=0.25, min_runs=5, max_runs=200) -> dict:
    """Median and quartiles (ms) of fn() (see _common.spread)."""
    return spread(time_calls(fn, min_time=min_time, min_runs=min_runs, max_runs=max_runs, sync=_syncer(device)),
                  1e3)


def timeit_paired(fns: dict, device, min_time=0.25, min_runs=5, max_runs=200) -> tuple[dict, dict]:
    """Interleaved timing (see _common.time_interleaved): per-name spread (ms) and per-round samples."""
    samples = time_interleaved(fns, min_time=min_time, min_runs=min_runs, max_runs=max_runs, sync=_syncer(device))
    return {k: spread(v, 1e3) for k, v in samples.items()}, samples


def measure_sgemm(device, n=1024) -> float:
    """GFLOP/s of a float32 torch.matmul (the machine's measured sgemm rate)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    t = timeit(lambda: a @ b, device, min_time=0.5)
    return 2 * n ** 3 / (t["median"] * 1e-3) / 1e9


def impls(grid: dict) -> dict:
    ref_name = "torch.fft" if "n_fft" in grid else "explicit DFT"
    return {
        "fused": lambda s, t: S.psd_kl(s, t, FS, BAND, **grid),
        ref_name: lambda s, t: R.psd_kl(s, t, FS, BAND, **grid),
        "matmul-DFT": lambda s, t: R.psd_kl(s, t, FS, BAND, method="matmul", **grid),
    }


def bench_case(B, T, grid, device, min_time) -> dict:
    g = torch.Generator().manual_seed(0)
    s = torch.randn(B, T, generator=g).to(device).requires_grad_()
    t = torch.randn(B, T, generator=g).to(device)
    K = len(S.band_frequencies(T, FS, BAND, **grid))
    out = {"B": B, "T": T, "K": K, "flops_fwd_bwd": 3 * 2 * B * T * 2 * K, "impl": {}}
    fwd, fwd_bwd = {}, {}
    for name, fn in impls(grid).items():
        def f(fn=fn):
            with torch.no_grad():
                fn(s, t)

        def fb(fn=fn):
            s.grad = None
            fn(s, t).backward()

        fwd[name], fwd_bwd[name] = f, fb
    st_f, sm_f = timeit_paired(fwd, device, min_time)
    st_fb, sm_fb = timeit_paired(fwd_bwd, device, min_time)
    for name in fwd:
        # Median over rounds of the per-round ratio other / fused (paired: same load), and its IQR.
        rf = np.array(sm_f[name]) / np.array(sm_f["fused"])
        rfb = np.array(sm_fb[name]) / np.array(sm_fb["fused"])
        out["impl"][name] = {"fwd": st_f[name], "fwd_bwd": st_fb[name],
                             "paired_ratio_fwd": [float(x) for x in np.percentile(rf, [25, 50, 75])],
                             "paired_ratio_fwd_bwd": [float(x) for x in np.percentile(rfb, [25, 50, 75])]}
    return out


def fixed_cost(device) -> dict:
    """psd_kl fwd+bwd at B = 1, T = 64: median and IQR in microseconds."""
    s = torch.randn(1, 64, device=device, requires_grad=True)
    t = torch.randn(1, 64, device=device)

    def fwd_bwd():
        s.grad = None
        S.psd_kl(s, t, FS, BAND).backward()

    return spread(time_calls(fwd_bwd, min_time=1.0, min_runs=200, max_runs=20000, sync=_syncer(device)), 1e6)


class _Empty(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.new_zeros(())

    @staticmethod
    def backward(ctx, g):
        return None


def per_call_breakdown(min_time: float) -> dict:
    """Where the fixed cost of one eager CPU psd_kl fwd+bwd goes (B = 1, T = 64), timed interleaved:
    the whole call, its parts, and the floors any autograd op pays. Microseconds per call; with one
    torch thread (OMP_NUM_THREADS=1) the clock is the thread's CPU time (robust to a loaded machine)."""
    from rppg_distill.spectral import _torch_ops as ops
    from rppg_distill.spectral._plan import get_plan

    s = torch.randn(1, 64, requires_grad=True)
    t = torch.randn(1, 64)
    sn, tn = s.detach().numpy(), t.numpy()
    plan = get_plan(64, FS, BAND)
    args = plan.args

    def public_fwd_bwd():
        s.grad = None
        S.psd_kl(s, t, FS, BAND).backward()

    def public_no_grad():
        with torch.no_grad():
            S.psd_kl(s, t, FS, BAND)

    def registered_op_fwd_bwd():
        s.grad = None
        ops.psd_kl_op(s, t, *args, False)[0].mean().backward()

    def empty_function_fwd_bwd():
        s.grad = None
        _Empty.apply(s).backward()

    def eager_function_fwd_bwd():
        s.grad = None
        ops._psd_kl_eager(s, t, plan, True, False, 1.0).backward()

    empty_c_apply = super(torch.autograd.Function, _Empty).apply

    def empty_function_c_apply_fwd_bwd():
        s.grad = None
        empty_c_apply(s).backward()

    def sum_backward():
        s.grad = None
        s.sum().backward()

    fns = {
        "public psd_kl fwd+bwd": public_fwd_bwd,
        "public psd_kl, no grad": public_no_grad,
        "eager Function fwd+bwd (no checks, no lookup)": eager_function_fwd_bwd,
        "empty autograd.Function, Function.apply, fwd+bwd": empty_function_fwd_bwd,
        "empty autograd.Function, C apply, fwd+bwd": empty_function_c_apply_fwd_bwd,
        "s.sum().backward() (engine floor)": sum_backward,
        "core call plan.core.psd_kl_fused (loss + grad)": lambda: plan.core.psd_kl_fused(sn, tn, True, False, 1.0),
        "core call, loss only": lambda: plan.core.psd_kl_fused(sn, tn, False, False, 1.0),
        "plan lookup get_plan": lambda: get_plan(64, FS, BAND, None, None, "hann", True, True, 1e-8),
        "2 x tensor.numpy() + torch.from_numpy": lambda: (s.detach().numpy(), t.numpy(), torch.from_numpy(sn)),
        "registered custom op fwd+bwd (dispatcher)": registered_op_fwd_bwd,
    }
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    samples = time_interleaved(fns, min_time=min_time, min_runs=30, max_runs=2000, clock=clock, inner=20)
    return {k: spread(v, 1e6) for k, v in samples.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="small shapes only, short timing")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds of timing per measurement")
    p.add_argument("--breakdown", action="store_true", help="only the per-call breakdown at B=1, T=64 (CPU)")
    p.add_argument("--json", default=None, help="output path (default bench/results/spectral_<device>.json)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    shapes = SHAPES[:2] if args.quick else SHAPES
    min_time = 0.05 if args.quick else args.min_time
    default_json = Path(__file__).parent / "results" / f"spectral_{device.type}.json"

    if args.breakdown:
        meta = metadata(device=str(device))
        clock = "thread CPU time" if torch.get_num_threads() == 1 else "wall time"
        print(f"# per-call breakdown, psd_kl B=1 T=64 (interleaved rounds, {clock}), us: median [p25-p75] | "
              f"{meta['cpu']} | loadavg {meta['loadavg_start']}")
        bd = per_call_breakdown(max(args.min_time, 0.5))
        for k, v in bd.items():
            print(f"{k:<55} {v['median']:>8.1f} [{v['p25']:.1f}-{v['p75']:.1f}]")
        path = write_json(args.json or default_json.with_name("spectral_breakdown.json"), {"meta": meta,
                                                                                            "breakdown_us": bd})
        print(f"# loadavg at end {loadavg()}; JSON: {path}")
        return 0

    sgemm = measure_sgemm(device)
    meta = metadata(device=str(device))
    print(f"# {meta['cpu']} | {meta['device']} | torch {meta['torch']} | threads torch={meta['torch_threads']} "
          f"core={meta['core_threads']} | simd {meta['build_info'].get('simd')} | commit {meta['commit'][:10]}"
          f"{' (dirty)' if meta['dirty_tree'] else ''}")
    print(f"# measured sgemm (torch.matmul 1024^3 float32): {sgemm:.1f} GFLOP/s")
    print(f"# loadavg at start {meta['loadavg_start']}; ratios: 'x' = median other / median fused, 'paired' = "
          "median over interleaved rounds of other / fused")
    print("# psd_kl (asymmetric, band 0.5-3 Hz, fs 30): median ms [p25-p75]; ratio = other / fused")
    hdr = (f"{'B':>5} {'T':>4} {'grid':<12} {'K':>4} {'impl':<13} {'fwd ms':>22} {'fwd+bwd ms':>22} {'x fwd':>7} "
           f"{'x f+b':>7} {'paired x f+b [IQR]':>20}")
    print(hdr)
    results = []
    for B, T in shapes:
        for gname, grid in grids(T).items():
            r = bench_case(B, T, grid, device, min_time)
            r["grid"] = gname
            fused = r["impl"]["fused"]
            r["floor_ms"] = r["flops_fwd_bwd"] / (sgemm * 1e9) * 1e3
            r["fused_over_floor"] = fused["fwd_bwd"]["median"] / r["floor_ms"]
            # The op folds the DFT into even/odd halves about the window centre: half the MACs.
            r["folded_floor_ms"] = r["floor_ms"] / 2
            for name, m in r["impl"].items():
                m["ratio_fwd"] = m["fwd"]["median"] / fused["fwd"]["median"]
                m["ratio_fwd_bwd"] = m["fwd_bwd"]["median"] / fused["fwd_bwd"]["median"]
                f, fb = m["fwd"], m["fwd_bwd"]
                print(f"{B:>5} {T:>4} {gname:<12} {r['K']:>4} {name:<13} "
                      f"{f['median']:>9.3f} [{f['p25']:.3f}-{f['p75']:.3f}] "
                      f"{fb['median']:>9.3f} [{fb['p25']:.3f}-{fb['p75']:.3f}] "
                      f"{m['ratio_fwd']:>7.2f} {m['ratio_fwd_bwd']:>7.2f} "
                      f"{m['paired_ratio_fwd_bwd'][1]:>7.2f} [{m['paired_ratio_fwd_bwd'][0]:.2f}-"
                      f"{m['paired_ratio_fwd_bwd'][2]:.2f}]")
            print(f"{'':>5} {'':>4} {'':<12} {'':>4} {'floor':<13} {'':>22} {r['floor_ms']:>9.3f} "
                  f"(fused / floor = {r['fused_over_floor']:.2f})")
            results.append(r)
    fc = fixed_cost(device)
    print(f"# fixed per-call cost, psd_kl fwd+bwd at B=1, T=64: median {fc['median']:.1f} us "
          f"[{fc['p25']:.1f}-{fc['p75']:.1f}]")
    path = write_json(args.json or default_json, {"meta": meta, "sgemm_gflops": sgemm, "results": results,
                                                  "fixed_cost_us": fc})
    print(f"# loadavg at end {meta['loadavg_end']}")
    print(f"# JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
