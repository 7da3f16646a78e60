"""aarch64 half of tools/aarch64/runtime_check.sh, run by an aarch64 CPython under QEMU.

    python runtime_aarch64.py DIR

Compares the NEON core's numpy results with DIR/ref.npz (x86-64), runs `rppg-distill run` on
DIR/v.avi with DIR/g.onnx through onnxruntime, compares its heart rate with DIR/out_ref, and checks
that neither torch nor scikit-image was needed. Exit status 1 on a mismatch.
"""

import json
import sys
from pathlib import Path

import numpy as np

from rppg_distill import spectral
from rppg_distill.cli import main
from rppg_distill.commands import info

F32_RTOL = 2e-4  # as tests/spectral

if __name__ == "__main__":
    d = Path(sys.argv[1])
    failures = 0
    inf = info.collect()
    print(json.dumps({k: inf[k] for k in ("machine", "python", "simd", "torch", "skimage", "onnxruntime")}))
    if inf["machine"] != "aarch64" or inf["simd"] != "neon":
        print("FAIL: not the aarch64 NEON core")
        failures += 1
    x, t, ref = np.load(d / "x.npy"), np.load(d / "t.npy"), np.load(d / "ref.npz")
    got = {"band_psd": spectral.band_psd(x, 30.0), "psd_kl": spectral.psd_kl(x, t, 30.0),
           "peak": spectral.peak_frequency(x, 30.0)}
    for key, val in got.items():
        a, r = np.asarray(val, np.float64), ref[key].astype(np.float64)
        err = float(np.abs(a - r).max() / np.abs(r).max())
        ok = a.shape == r.shape and err <= F32_RTOL
        failures += not ok
        print(f"  {key:10s} {a.shape}: max |aarch64 - x86-64| / max |x86-64| = {err:.3e}  {'ok' if ok else 'FAIL'}")
    rc = main(["run", str(d / "v.avi"), "--model", str(d / "g.onnx"), "--out", str(d / "out_aarch64"),
               "--quiet"])
    s = json.loads((d / "out_aarch64" / "summary.json").read_text())
    r = json.loads((d / "out_ref" / "summary.json").read_text())
    ok = rc == 0 and abs(s["hr_median_bpm"] - r["hr_median_bpm"]) <= 1.0 and s["valid_frames"] == r["valid_frames"]
    failures += not ok
    print(f"  run ({s['runner']['runner']}): rc {rc}, median HR {s['hr_median_bpm']:.2f} bpm (x86-64 "
          f"{r['hr_median_bpm']:.2f}, true 78), valid frames {s['valid_frames']} ({r['valid_frames']})  "
          f"{'ok' if ok else 'FAIL'}")
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"torch", "skimage"})
    failures += bool(heavy)
    print(f"  modules loaded from torch / scikit-image: {heavy or 'none'}")
    print(f"{'FAIL' if failures else 'PASS'}: {failures} check(s) failed")
    sys.exit(1 if failures else 0)
