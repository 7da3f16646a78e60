"""Dataset readers: one module per dataset, each with ``read(root, **cfg) -> list[Recording]``.

``get_reader(name)`` returns the ``read`` function of a dataset by name (aliases accepted).
All readers share the length/error policy documented in ``rppg_distill.data.readers._common``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

READERS = {
    "mcd_rppg": "mcd_rppg",
    "ubfc_rppg": "ubfc_rppg",
    "pure": "pure",
    "equipleth": "equipleth",
    "physdrive": "physdrive",
}
ALIASES = {"mcd": "mcd_rppg", "mcd-rppg": "mcd_rppg", "ubfc": "ubfc_rppg", "ubfc-rppg": "ubfc_rppg",
           "ubfc2": "ubfc_rppg", "equi": "equipleth"}


def canonical_name(name: str) -> str:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in READERS:
        raise ValueError(f"unknown dataset {name!r}; known: {sorted(READERS)}")
    return key


def get_reader(name: str) -> Callable:
    """The ``read(root, **cfg)`` function of dataset ``name``."""
    module = importlib.import_module(f"rppg_distill.data.readers.{READERS[canonical_name(name)]}")
    return module.read


def read_dataset(name: str, root, **cfg):
    """Shortcut: ``get_reader(name)(root, **cfg)``."""
    return get_reader(name)(root, **cfg)


__all__ = ["READERS", "canonical_name", "get_reader", "read_dataset"]
