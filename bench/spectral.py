"""Benchmark of the spectral core: fused psd_kl vs the torch.fft reference vs a matmul-DFT composite.

    python bench/spectral.py [--device cpu|cuda] [--quick] [--json PATH]

Prints, per (B, T) and grid, the median time (and interquartile spread) of forward and
forward+backward through autograd, the ratios measured in the same run, the compute floor
(multiply-adds of the direct DFT divided by the sgemm rate measured here with torch.matmul)
and the fixed per-call cost (B = 1, T = 64). Writes JSON with metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import rppg_distill
import rppg_distill.spectral as S
import rppg_distill.spectral.reference as R

SHAPES = [(4, 180), (64, 180), (256, 300), (4096, 180), (4096, 900)]
BAND = (0.5, 3.0)
FS = 30.0


def next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def grids(T: int) -> dict:
    return {f"rfft n={next_pow2(8 * T)}": dict(n_fft=next_pow2(8 * T)), "1 bpm": dict(step_hz=1 / 60)}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timeit(fn, device, min_time=0.25, min_runs=5, max_runs=200) -> dict:
    """Median and quartiles (ms) of fn(); repeats until min_time has passed."""
    fn()
    _sync(device)
    ts, start = [], time.perf_counter()
    while len(ts) < max_runs and (len(ts) < min_runs or time.perf_counter() - start < min_time):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        ts.append((time.perf_counter() - t0) * 1e3)
    q = np.percentile(ts, [25, 50, 75])
    return {"median_ms": float(q[1]), "p25_ms": float(q[0]), "p75_ms": float(q[2]), "runs": len(ts)}


def timeit_paired(fns: dict, device, min_time=0.25, min_runs=5, max_runs=200) -> tuple[dict, dict]:
    """Times several callables interleaved, one call of each per round, so that load bursts on a
    shared machine hit all of them alike. Returns per-name stats (as timeit) and per-round samples."""
    for fn in fns.values():
        fn()
    _sync(device)
    samples = {k: [] for k in fns}
    start = time.perf_counter()
    while True:
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[k].append((time.perf_counter() - t0) * 1e3)
        n = len(samples[next(iter(fns))])
        if n >= max_runs or (n >= min_runs and time.perf_counter() - start >= min_time * len(fns)):
            break
    stats = {}
    for k, ts in samples.items():
        q = np.percentile(ts, [25, 50, 75])
        stats[k] = {"median_ms": float(q[1]), "p25_ms": float(q[0]), "p75_ms": float(q[2]), "runs": len(ts)}
    return stats, samples


def measure_sgemm(device, n=1024) -> float:
    """GFLOP/s of a float32 torch.matmul (the machine's measured sgemm rate)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    t = timeit(lambda: a @ b, device, min_time=0.5)
    return 2 * n ** 3 / (t["median_ms"] * 1e-3) / 1e9


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


def metadata(device) -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True,
                                    cwd=Path(__file__).parent).stdout.strip())
    except OSError:
        commit, dirty = "", None
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    core = rppg_distill.load_core()
    meta = {"commit": commit, "dirty_tree": dirty, "cpu": cpu, "cores": os.cpu_count(),
            "loadavg": os.getloadavg(), "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "rppg_distill": rppg_distill.__version__,
            "build_info": rppg_distill.build_info(), "torch_threads": torch.get_num_threads(),
            "core_threads": core.get_num_threads(), "device": str(device),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if device.type == "cuda":
        meta["gpu"] = torch.cuda.get_device_name(device)
    return meta


def fixed_cost(device) -> dict:
    s = torch.randn(1, 64, device=device, requires_grad=True)
    t = torch.randn(1, 64, device=device)

    def fwd_bwd():
        s.grad = None
        S.psd_kl(s, t, FS, BAND).backward()

    r = timeit(fwd_bwd, device, min_time=1.0, min_runs=200, max_runs=20000)
    return {k.replace("_ms", "_us"): v * 1e3 for k, v in r.items() if k.endswith("_ms")} | {"runs": r["runs"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="small shapes only, short timing")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds of timing per measurement")
    p.add_argument("--json", default=None, help="output path (default bench/results/spectral_<device>.json)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    shapes = SHAPES[:2] if args.quick else SHAPES
    min_time = 0.05 if args.quick else args.min_time

    sgemm = measure_sgemm(device)
    meta = metadata(device)
    print(f"# {meta['cpu']} | {meta['device']} | torch {meta['torch']} | threads torch={meta['torch_threads']} "
          f"core={meta['core_threads']} | simd {meta['build_info'].get('simd')} | loadavg {meta['loadavg']}")
    print(f"# measured sgemm (torch.matmul 1024^3 float32): {sgemm:.1f} GFLOP/s")
    print(f"# loadavg at start {os.getloadavg()}; ratios: 'x' = median other / median fused, 'paired' = "
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
            r["fused_over_floor"] = fused["fwd_bwd"]["median_ms"] / r["floor_ms"]
            # The op folds the DFT into even/odd halves about the window centre: half the MACs.
            r["folded_floor_ms"] = r["floor_ms"] / 2
            for name, m in r["impl"].items():
                m["ratio_fwd"] = m["fwd"]["median_ms"] / fused["fwd"]["median_ms"]
                m["ratio_fwd_bwd"] = m["fwd_bwd"]["median_ms"] / fused["fwd_bwd"]["median_ms"]
                f, fb = m["fwd"], m["fwd_bwd"]
                print(f"{B:>5} {T:>4} {gname:<12} {r['K']:>4} {name:<13} "
                      f"{f['median_ms']:>9.3f} [{f['p25_ms']:.3f}-{f['p75_ms']:.3f}] "
                      f"{fb['median_ms']:>9.3f} [{fb['p25_ms']:.3f}-{fb['p75_ms']:.3f}] "
                      f"{m['ratio_fwd']:>7.2f} {m['ratio_fwd_bwd']:>7.2f} "
                      f"{m['paired_ratio_fwd_bwd'][1]:>7.2f} [{m['paired_ratio_fwd_bwd'][0]:.2f}-"
                      f"{m['paired_ratio_fwd_bwd'][2]:.2f}]")
            print(f"{'':>5} {'':>4} {'':<12} {'':>4} {'floor':<13} {'':>22} {r['floor_ms']:>9.3f} "
                  f"(fused / floor = {r['fused_over_floor']:.2f})")
            results.append(r)
    fc = fixed_cost(device)
    print(f"# fixed per-call cost, psd_kl fwd+bwd at B=1, T=64: median {fc['median_us']:.1f} us "
          f"[{fc['p25_us']:.1f}-{fc['p75_us']:.1f}]")
    meta["loadavg_end"] = os.getloadavg()
    print(f"# loadavg at end {meta['loadavg_end']}")
    out = {"meta": meta, "sgemm_gflops": sgemm, "results": results, "fixed_cost_us": fc}
    path = Path(args.json or Path(__file__).parent / "results" / f"spectral_{device.type}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"# JSON: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
