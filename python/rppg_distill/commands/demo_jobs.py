"""The demo's training runs as picklable jobs for ``train.run_pool.run_jobs`` (spawned workers).

Each worker builds its datasets once per data config from the clip cache the demo's preprocess
stage wrote (reading the cache takes well under a second), then trains and evaluates one run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

_DATA: dict[str, Any] = {}


def _memo(kind: str, data_cfg, build):
    key = kind + json.dumps(dataclasses.asdict(data_cfg), sort_keys=True, default=str)
    if key not in _DATA:
        _DATA[key] = build(data_cfg, log=lambda s: None)
    return _DATA[key]


def crossview_run(cfg, seed: int, out_dir: str) -> dict:
    """One cross-view scheme and seed: ``crossview.train_one`` on the demo's cached clips (weights
    picked on the validation views, evaluated on the test views)."""
    from rppg_distill.train import crossview
    from rppg_distill.train.data import crossview_datasets

    data = _memo("crossview", cfg.data, crossview_datasets)
    return crossview.train_one(cfg, seed, data.train, data.test, Path(out_dir), val_sets=data.val,
                               log=lambda s: None)
