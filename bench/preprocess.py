"""Benchmark preprocessing into the uint8 clip cache vs rPPG-Toolbox-style float64 chunks.

Measures, on synthetic MCD-rPPG videos made in the same run:
  - ours: frames/s per core of ``preprocess(workers=0)`` (decode + haar every N frames + crop),
    and bytes per frame on disk (all files of the entries);
  - baseline (same detection cadence and crops, storage as rPPG-Toolbox does it): the crops
    DiffNormalized as float64 and saved as 180-frame ``.npy`` chunks (~22 MB each at 72x72x3);
  - clip load time: one 180-frame clip from our memmap + on-the-fly diff_normalized vs
    ``np.load`` of a float64 chunk.
Reports median and spread over repeats and writes JSON to bench/results/preprocess.json.

    python bench/preprocess.py [--seconds 20] [--size 192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import metadata, spread, write_json


def _stats(xs):
    return spread(xs)  # median and interquartile range, as every bench script reports


def _dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=192, help="synthetic frame side")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--detect-every", type=int, default=10)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "preprocess.json"))
    args = ap.parse_args()

    import cv2

    from rppg_distill.data.cache import ClipCache, PreprocessSettings, preprocess
    from rppg_distill.data.cache.preprocess import iter_frames
    from rppg_distill.data.face import FaceTracker, TrackerSettings, get_face_backend
    from rppg_distill.data.readers import read_dataset
    from rppg_distill.data.synthetic import generate
    from rppg_distill.data.transforms import diff_normalized

    cv2.setNumThreads(1)  # per-core numbers
    tmp = Path(tempfile.mkdtemp(prefix="bench_pre_"))
    try:
        generate(tmp / "syn", 1, seed=0, states=("before",), views=("frontal",),
                 duration_s=args.seconds, size=args.size, radar=False, workers=1)
        recs = read_dataset("mcd_rppg", tmp / "syn" / "mcd_rppg")
        n = sum(len(r.bvp) for r in recs)
        settings = PreprocessSettings.from_dict(
            {"workers": 0, "progress": False, "detect_every": args.detect_every, "size": 72})

        ours_t, base_t = [], []
        for rep in range(args.repeats):
            out = tmp / f"cache{rep}"
            t0 = time.perf_counter()
            report = preprocess(recs, out, settings)
            ours_t.append(time.perf_counter() - t0)
            assert report.ok_keys, report.summary()

            base = tmp / f"toolbox{rep}"
            base.mkdir()
            t0 = time.perf_counter()
            for r in recs:
                tracker = FaceTracker(get_face_backend("haar"),
                                      TrackerSettings(detect_every=args.detect_every, size=72))
                crops = np.stack([c for c, _, _ in tracker.run(iter_frames(r))]).astype(np.float64)
                data = diff_normalized(crops).astype(np.float64)  # toolbox keeps float64
                for i, s in enumerate(range(0, len(data) - 180 + 1, 180)):
                    np.save(base / f"{r.key}_input{i}.npy", data[s:s + 180])
                    np.save(base / f"{r.key}_label{i}.npy", r.bvp[s:s + 180].astype(np.float64))
            base_t.append(time.perf_counter() - t0)

        ours_bytes = _dir_bytes(tmp / "cache0") - _dir_bytes_reports(tmp / "cache0")
        base_bytes = _dir_bytes(tmp / "toolbox0")
        n_chunked = (n // 180) * 180
        chunk = next((tmp / "toolbox0").glob("*_input0.npy"))

        cache = ClipCache(tmp / "cache0")
        e = cache[recs[0]]
        load_ours, load_base = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            x = diff_normalized(np.asarray(e.frames[0:180]))
            load_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            y = np.load(chunk)
            load_base.append(time.perf_counter() - t0)
        del x, y

        res = {
            "frames": n, "frame_size": args.size, "detect_every": args.detect_every,
            "ours_frames_per_s_per_core": _stats([n / t for t in ours_t]),
            "toolbox_style_frames_per_s_per_core": _stats([n / t for t in base_t]),
            "ours_bytes_per_frame": ours_bytes / n,
            "toolbox_style_bytes_per_frame": base_bytes / max(n_chunked, 1),
            "toolbox_chunk_bytes": chunk.stat().st_size,
            "bytes_ratio_toolbox_over_ours": (base_bytes / max(n_chunked, 1)) / (ours_bytes / n),
            "clip_load_s_ours_memmap_plus_diffnorm": _stats(load_ours),
            "clip_load_s_toolbox_float64_chunk": _stats(load_base),
            "meta": metadata(),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json(args.out, res)
    print(json.dumps(res, indent=1))
    return 0


def _dir_bytes_reports(p: Path) -> int:
    return sum(f.stat().st_size for f in p.glob("report.*"))


if __name__ == "__main__":
    raise SystemExit(main())
