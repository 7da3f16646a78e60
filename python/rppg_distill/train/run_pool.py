"""Independent training runs (scheme x seed, sweep points) in worker processes, one torch thread each.

The demo's small models are fastest with one intra-op thread (``LoopConfig.num_threads``); on a
2-core machine two single-thread processes then finish about twice the runs per minute of one.
Every run seeds itself (``loop.seed``), so results do not depend on which worker ran it or in
which order.

A job is a picklable callable and its arguments (``functools.partial`` of a module-level
function): workers are spawned, never forked (torch's thread pools do not survive a fork).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

_DATASETS: dict[str, Any] = {}


def worker_datasets(data_cfg, build: Callable[..., Any]) -> Any:
    """``build(data_cfg, log=...)`` once per process and data config (a worker trains several runs
    on the same clips; building them from the clip cache again would only cost time)."""
    key = f"{build.__module__}.{build.__qualname__}:" + json.dumps(dataclasses.asdict(data_cfg), sort_keys=True,
                                                                   default=str)
    if key not in _DATASETS:
        _DATASETS[key] = build(data_cfg, log=lambda s: None)
    return _DATASETS[key]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_jobs(jobs: Sequence[Callable[[], Any]], *, workers: int = 1, desc: str = "runs",
             progress: bool = True, names: Sequence[str] | None = None,
             log: Callable[[str], None] = print) -> list[Any]:
    """Call every job, ``workers`` at a time; returns their results in job order.

    Args:
        jobs: zero-argument picklable callables (``functools.partial`` of module-level functions).
        workers: processes; 1 runs the jobs here, in order.
        desc, progress: a tqdm bar over finished jobs (hidden when stdout is not a terminal).
        names: one label per job for the log line printed as each one finishes.
    Raises the first job's exception (the other workers are stopped).
    """
    names = list(names) if names is not None else [f"{desc} {i}" for i in range(len(jobs))]
    bar = _bar(len(jobs), desc, progress)
    results: list[Any] = [None] * len(jobs)
    try:
        if workers <= 1 or len(jobs) <= 1:
            for i, job in enumerate(jobs):
                results[i] = job()
                _tick(bar, log, names[i])
            return results
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx,
                                 initializer=_init_worker) as pool:
            futures = {pool.submit(job): i for i, job in enumerate(jobs)}
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    _tick(bar, log, names[i])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return results
    finally:
        if bar is not None:
            bar.close()


def _bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    bar = tqdm(total=total, desc=desc, unit="run", dynamic_ncols=True, disable=None)
    return None if bar.disable else bar       # not a terminal: a log line per finished run instead


def _tick(bar, log: Callable[[str], None], name: str) -> None:
    if bar is not None:
        bar.update(1)
        bar.set_postfix_str(name)
    else:
        log(f"[runs] done: {name}")
