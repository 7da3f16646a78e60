"""Atomic file writes: write a temporary file in the target's folder, then ``os.replace`` it.

A reader never sees a half-written file; a failed write leaves the old file (if any) and no
temporary behind. The temporary name ``.<name>.tmp-<pid>.<random>`` carries the writer's PID, so
a file left by a killed process can be told from one being written (see
``rppg_distill.data.cache.store.remove_stale_temps``). Numpy/stdlib only (used by the torch-free data paths).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["atomic_save", "atomic_write_bytes", "atomic_write_text"]


def atomic_save(path: str | Path, save: Callable[[str], None], *, suffix: str = "") -> Path:
    """Call ``save(tmp_path)`` then rename ``tmp_path`` onto ``path`` (mode 0644).

    Args:
        path: final file; its folder is created if needed.
        save: writes the whole file to the temporary path it is given.
        suffix: suffix of the temporary name (writers that pick a format by extension need it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_save(path, lambda p: Path(p).write_bytes(data))


def atomic_write_text(path: str | Path, text: str, newline: str | None = None) -> Path:
    """Write ``text`` to ``path`` atomically (``newline`` as in :func:`open`)."""
    def save(p):
        with open(p, "w", newline=newline) as f:
            f.write(text)

    return atomic_save(path, save)
