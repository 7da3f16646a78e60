"""Time a model runner on a fixed random input (numpy only; any runner with the common interface)."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["time_runner"]


def time_runner(runner, reps: int, batch: int = 1, seed: int = 0) -> tuple[np.ndarray, int]:
    """Seconds per ``runner.run`` call over ``reps`` calls, after one warm-up call.

    Args:
        runner: OrtRunner / TrtRunner (``contract.input_shape(b)``, ``batch``, ``run(x)``).
        reps: number of timed calls (>= 1).
        batch: batch size used when the runner's batch is dynamic (``runner.batch`` is None).
        seed: seed of the standard-normal float32 input ``[B, C, T, H, W]``.

    Returns:
        (float64 [reps] seconds per call, B the batch size used).
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    shape = runner.contract.input_shape(runner.batch or batch)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    runner.run(x)
    t = np.empty(reps)
    for i in range(reps):
        t0 = time.perf_counter()
        runner.run(x)
        t[i] = time.perf_counter() - t0
    return t, int(x.shape[0])
