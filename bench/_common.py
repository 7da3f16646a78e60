"""Helpers shared by the bench/ scripts: timing, one spread, run metadata and the JSON writer.

Every script reports a time as its median and interquartile range (p25, p75) over repeated
calls (:func:`spread`); ratios between implementations come from :func:`time_interleaved`
(one call of each per round, so load bursts on a shared machine hit all of them alike).
:func:`metadata` records the commit, machine, load average and versions; :func:`write_json`
adds the load average at the end and writes atomically.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def loadavg() -> list[float]:
    """1, 5 and 15 minute load averages ([] where the OS does not say)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def spread(samples, scale: float = 1.0) -> dict:
    """Median and interquartile range of samples (times scale): {median, p25, p75, iqr, runs}."""
    x = np.asarray(samples, dtype=np.float64) * scale
    if x.size == 0:
        raise ValueError("spread of no samples")
    p25, med, p75 = np.percentile(x, [25, 50, 75])
    return {"median": float(med), "p25": float(p25), "p75": float(p75), "iqr": float(p75 - p25),
            "runs": int(x.size)}


def time_calls(fn: Callable[[], object], *, min_time: float = 0.25, min_runs: int = 5, max_runs: int = 200,
               sync: Callable[[], None] | None = None, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds per fn() call, after one warm-up call; repeats until min_time has passed (and at
    least min_runs, at most max_runs calls). sync (e.g. torch.cuda.synchronize) ends each call."""
    return time_interleaved({"fn": fn}, min_time=min_time, min_runs=min_runs, max_runs=max_runs, sync=sync,
                            clock=clock)["fn"]


def time_interleaved(fns: dict, *, min_time: float = 0.25, min_runs: int = 5, max_runs: int = 200,
                     sync: Callable[[], None] | None = None, clock: Callable[[], float] = time.perf_counter,
                     inner: int = 1) -> dict[str, list[float]]:
    """Seconds per call of several callables timed in rounds (one sample of each per round).

    Round i of every name ran at nearly the same time: per-round ratios are paired samples.
    A sample is the mean of `inner` back-to-back calls (for calls near the clock's resolution).
    clock: time.perf_counter (wall, default) or time.thread_time (this thread's CPU time: on a
    loaded machine it leaves out the time the thread waited; only for single-threaded calls).
    Stops after max_runs rounds, or after min_runs rounds once min_time * len(fns) has passed.
    """
    sync = sync or (lambda: None)
    for fn in fns.values():
        fn()
    sync()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    for n in range(1, max_runs + 1):
        for k, fn in fns.items():
            t0 = clock()
            for _ in range(inner):
                fn()
            sync()
            samples[k].append((clock() - t0) / inner)
        if n >= min_runs and time.perf_counter() - start >= min_time * len(fns):
            break
    return samples


def time_cuda_events(fn: Callable[[], object], *, warmup: int = 10, iters: int = 50, repeats: int = 5) -> list[float]:
    """Seconds per call of fn() on the current CUDA stream, one sample per repeat: a CUDA event
    pair around `iters` back-to-back calls (launch overhead the GPU hides is not counted twice)."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device")
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        out.append(start.elapsed_time(end) / 1e3 / iters)
    return out


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False)
        return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def metadata(**extra) -> dict:
    """Commit (and whether the tree was dirty), machine, load average, time (UTC) and the versions
    of python, numpy and, when already imported, torch / onnxruntime / opencv / rppg_distill."""
    meta = {"commit": _git("rev-parse", "HEAD"), "dirty_tree": bool(_git("status", "--porcelain")),
            "cpu": _cpu_name(), "cores": os.cpu_count(), "machine": platform.machine(),
            "platform": platform.platform(), "loadavg_start": loadavg(),
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(), "numpy": np.__version__}
    mods = sys.modules
    if "torch" in mods:
        torch = mods["torch"]
        meta.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
        if torch.cuda.is_available():
            meta["gpu"] = torch.cuda.get_device_name(0)
    if "onnxruntime" in mods:
        meta["onnxruntime"] = mods["onnxruntime"].__version__
    if "cv2" in mods:
        meta["opencv"] = mods["cv2"].__version__
    if "rppg_distill" in mods:
        rd = mods["rppg_distill"]
        meta.update(rppg_distill=rd.__version__, build_info=rd.build_info(),
                    core_threads=rd.load_core().get_num_threads())
    meta.update(extra)
    return meta


def write_json(path: str | Path, payload: dict) -> Path:
    """Writes payload (its "meta" gains loadavg_end) as indented JSON, atomically."""
    from rppg_distill.data.atomic import atomic_write_text

    if isinstance(payload.get("meta"), dict):
        payload["meta"]["loadavg_end"] = loadavg()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, json.dumps(payload, indent=2, default=str) + "\n")
