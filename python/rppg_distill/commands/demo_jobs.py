"""The demo's cross-view runs as picklable jobs for ``train.run_pool.run_jobs`` (spawned workers).

Each worker builds its datasets once from the clip cache the demo's preprocess stage wrote
(``run_pool.worker_datasets``), then trains and evaluates one run.
"""

from __future__ import annotations

from pathlib import Path


def crossview_run(cfg, seed: int, out_dir: str) -> dict:
    """One cross-view scheme and seed: ``crossview.train_one`` on the demo's cached clips (weights
    picked on the validation views, evaluated on the test views)."""
    from rppg_distill.train import crossview
    from rppg_distill.train.data import crossview_datasets
    from rppg_distill.train.run_pool import worker_datasets

    data = worker_datasets(cfg.data, crossview_datasets)
    return crossview.train_one(cfg, seed, data.train, data.test, Path(out_dir), val_sets=data.val,
                               log=lambda s: None)
