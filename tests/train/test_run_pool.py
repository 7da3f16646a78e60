"""train.run_pool: results in job order from spawned workers, the first failure raised."""

import functools
import os

import pytest

from rppg_distill.train.run_pool import run_jobs


def _square_and_pid(x: int) -> tuple[int, int, int]:
    import torch

    return x * x, os.getpid(), torch.get_num_threads()


def _fail(x: int) -> int:
    raise ValueError(f"job {x} failed")


def test_results_come_back_in_job_order_from_single_thread_workers():
    jobs = [functools.partial(_square_and_pid, x) for x in range(5)]
    out = run_jobs(jobs, workers=2, progress=False, log=lambda s: None)
    assert [r[0] for r in out] == [0, 1, 4, 9, 16]
    assert all(r[1] != os.getpid() for r in out)          # ran in the workers
    assert {r[2] for r in out} == {1}                      # one torch thread each


def test_one_worker_runs_here_in_order():
    out = run_jobs([functools.partial(_square_and_pid, x) for x in range(3)], workers=1, progress=False,
                   log=lambda s: None)
    assert [r[0] for r in out] == [0, 1, 4] and {r[1] for r in out} == {os.getpid()}


def test_a_failing_job_raises_its_error():
    jobs = [functools.partial(_square_and_pid, 1), functools.partial(_fail, 7)]
    with pytest.raises(ValueError, match="job 7 failed"):
        run_jobs(jobs, workers=2, progress=False, log=lambda s: None)
