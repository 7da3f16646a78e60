"""x86-64 half of tools/aarch64/runtime_check.sh: inputs and reference results.

    python tools/aarch64/runtime_inputs.py DIR

Writes DIR/x.npy, t.npy (random signals), ref.npz (band_psd, psd_kl, peak_frequency of them),
g.onnx (the tests' green-channel model), v.avi (an 11 s synthetic face video at 78 bpm) and
DIR/out_ref/ (`rppg-distill run` on it). Needs onnx and scikit-image (the test environment).
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

from helpers import green_onnx, pulse_frames  # noqa: E402

from rppg_distill import spectral  # noqa: E402
from rppg_distill.cli import main  # noqa: E402
from rppg_distill.data.video_io import write_video  # noqa: E402

HR_BPM = 78.0

if __name__ == "__main__":
    d = Path(sys.argv[1])
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 300)).astype(np.float32)
    t = rng.standard_normal((64, 300)).astype(np.float32)
    np.save(d / "x.npy", x)
    np.save(d / "t.npy", t)
    np.savez(d / "ref.npz", band_psd=spectral.band_psd(x, 30.0), psd_kl=spectral.psd_kl(x, t, 30.0),
             peak=spectral.peak_frequency(x, 30.0))
    green_onnx(d / "g.onnx")
    frames, _ = pulse_frames(HR_BPM, seconds=11.0, size=(160, 120))
    write_video(d / "v.avi", frames, 30.0, "MJPG")
    sys.exit(main(["run", str(d / "v.avi"), "--model", str(d / "g.onnx"), "--out", str(d / "out_ref"),
                   "--quiet"]))
