"""GPU benchmark of the fused spectral core: psd_kl forward and forward+backward on CUDA.

Compares, per (B, T) shape and grid, the fused op (rppg_distill.spectral.psd_kl on CUDA tensors,
i.e. the rppg_distill._core CUDA kernels), the torch.fft reference (what users write today) and a
torch matmul-DFT composite, all timed with CUDA events in the same run. Reports the achieved
FLOP/s of the fused op (multiply-adds of the direct DFT, forward and backward) against this
device's measured torch.matmul rate (float32, TF32 off, the same arithmetic as the kernels) and
its achieved bandwidth against the measured device-to-device copy rate.

Usage: python bench/spectral_cuda.py [--json out.json] [--quick]
Without a CUDA device (or a core built without CUDA) it prints "no CUDA device" and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from _common import metadata, time_cuda_events, write_json

SHAPES = [(4, 180), (64, 180), (256, 300), (4096, 180), (4096, 900)]
FS = 30.0
BAND = (0.5, 3.0)


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _grids(T: int):
    # rfft grid with n = next power of two >= 8T, and a 1-bpm explicit grid over 30-180 bpm
    return [(f"rfft n={_next_pow2(8 * T)}", {"n_fft": _next_pow2(8 * T)}),
            ("1 bpm", {"step_hz": 1.0 / 60.0})]


def _time(fn, iters: int, warmup: int = 5, repeats: int = 5) -> float:
    """Median seconds per call (CUDA events, see _common.time_cuda_events)."""
    return statistics.median(time_cuda_events(fn, warmup=warmup, iters=iters, repeats=repeats))


def _roofline(torch, dev) -> tuple[float, float]:
    """(float32 matmul FLOP/s, device-to-device copy bytes/s) measured on this device."""
    n = 8192
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    mm_flops = 2.0 * n ** 3 / _time(lambda: a @ b, iters=10, warmup=3, repeats=3)
    src = torch.empty(256 * 1024 * 1024, dtype=torch.float32, device=dev)  # 1 GiB
    dst = torch.empty_like(src)
    copy_bw = 2.0 * src.numel() * 4 / _time(lambda: dst.copy_(src), iters=10, warmup=3, repeats=3)
    return mm_flops, copy_bw


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="write the results as JSON to this path")
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    args = ap.parse_args(argv)

    try:
        import torch
    except ImportError:
        print("no CUDA device")
        return 0
    import rppg_distill

    if not (rppg_distill.has_cuda() and torch.cuda.is_available()):
        print("no CUDA device")
        return 0

    from rppg_distill.spectral import _cuda, band_frequencies
    from rppg_distill.spectral import reference as ref

    if not _cuda.available():
        print("no CUDA device")
        return 0
    import rppg_distill.spectral as sp

    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    iters = 10 if args.quick else 50

    def timeit(fn):
        return _time(fn, iters)

    mm_flops, copy_bw = _roofline(torch, dev)  # device roofline: float32 matmul rate and copy bandwidth
    torch.cuda.empty_cache()

    name = torch.cuda.get_device_name(dev)
    print(f"device: {name}; {rppg_distill.load_core().cuda.describe_device(0)}")
    print(f"measured: float32 matmul {mm_flops / 1e12:.2f} TFLOP/s, copy {copy_bw / 1e9:.0f} GB/s")
    print("psd_kl, asymmetric, float32, band 0.5-3 Hz; median time per call (us)")
    hdr = (f"{'B':>5} {'T':>4} {'grid':>12} {'K':>4} | {'fused fwd':>9} {'fft fwd':>9} {'mm fwd':>9} | "
           f"{'fused f+b':>9} {'fft f+b':>9} {'mm f+b':>9} | {'x fft':>6} {'x mm':>6} | "
           f"{'GFLOP/s':>8} {'%mm':>5} {'GB/s':>7} {'%copy':>5}")
    print(hdr)
    print("-" * len(hdr))
    rows = []
    for B, T in SHAPES:
        for gname, kw in _grids(T):
            K = len(band_frequencies(T, FS, BAND, kw.get("n_fft"), kw.get("step_hz")))
            g = torch.Generator(device=dev).manual_seed(B + T)
            s0 = torch.randn(B, T, device=dev, generator=g)
            t0 = torch.randn(B, T, device=dev, generator=g)
            s = s0.clone().requires_grad_(True)

            def fused():
                return sp.psd_kl(s, t0, FS, BAND, mode="asymmetric", **kw)

            def fft():
                return ref.psd_kl(s, t0, FS, BAND, mode="asymmetric", **kw)

            def mm():
                return ref.psd_kl(s, t0, FS, BAND, mode="asymmetric", method="matmul", **kw)

            res = {"B": B, "T": T, "grid": gname, "K": K}
            for label, fn in (("fused", fused), ("fft", fft), ("matmul", mm)):
                with torch.no_grad():
                    res[f"{label}_fwd_us"] = timeit(fn) * 1e6

                def fb(fn=fn):
                    fn().backward()
                    s.grad = None

                res[f"{label}_fwdbwd_us"] = timeit(fb) * 1e6
            # Work of the fused fwd+bwd: 3 GEMMs of 2*B*T*2K flops (student and teacher DFT,
            # student adjoint); traffic: inputs, the saved [B, K] arrays, the work buffer, grad.
            flops = 3 * 2.0 * B * T * 2 * K
            bytes_ = 4.0 * (2 * B * T + 7 * B * K + 6 * B * K + 2 * B * 2 * K + B * T + 2 * B)
            t_fb = res["fused_fwdbwd_us"] * 1e-6
            res.update({"speedup_vs_fft": res["fft_fwdbwd_us"] / res["fused_fwdbwd_us"],
                        "speedup_vs_matmul": res["matmul_fwdbwd_us"] / res["fused_fwdbwd_us"],
                        "gflops": flops / t_fb / 1e9, "pct_matmul": 100 * flops / t_fb / mm_flops,
                        "gbps": bytes_ / t_fb / 1e9, "pct_copy": 100 * bytes_ / t_fb / copy_bw})
            rows.append(res)
            print(f"{B:>5} {T:>4} {gname:>12} {K:>4} | {res['fused_fwd_us']:>9.1f} {res['fft_fwd_us']:>9.1f} "
                  f"{res['matmul_fwd_us']:>9.1f} | {res['fused_fwdbwd_us']:>9.1f} {res['fft_fwdbwd_us']:>9.1f} "
                  f"{res['matmul_fwdbwd_us']:>9.1f} | {res['speedup_vs_fft']:>6.1f} {res['speedup_vs_matmul']:>6.1f} | "
                  f"{res['gflops']:>8.0f} {res['pct_matmul']:>5.1f} {res['gbps']:>7.1f} {res['pct_copy']:>5.1f}")
    if args.json:
        meta = metadata(device=name, cuda=torch.version.cuda, matmul_tflops_f32=mm_flops / 1e12,
                        copy_gbps=copy_bw / 1e9)
        print(f"wrote {write_json(args.json, {'meta': meta, 'rows': rows})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
