"""Atomic file writes: write a temporary file in the target's folder, then ``os.replace`` it.

A reader never sees a half-written file; a failed write leaves the old file (if any) and no
temporary behind. Numpy/stdlib only (used by the torch-free data paths). The temporary name
``.<name>.tmp-<pid>.<random>`` carries the writer's PID, so a file left by a killed process can
be told from one being written (``rppg_distill.data.cache.store.remove_stale_temps``).
"""

from __future__ import annotations

import csv
import errno
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Self

__all__ = ["CsvRows", "atomic_save", "atomic_write_bytes", "atomic_write_text"]


def atomic_save(path: str | Path, save: Callable[[str], None], *, suffix: str = "") -> Path:
    """Call ``save(tmp_path)`` then rename ``tmp_path`` onto ``path`` (mode 0644).

    Args:
        path: final file; its folder is created if needed.
        save: writes the whole file to the temporary path it is given.
        suffix: suffix of the temporary name (writers that pick a format by extension need it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}.", suffix=suffix,
                               dir=path.parent)
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


class CsvRows:
    """A CSV file written as it goes that always ends with a complete row (for results streamed
    while a run may be interrupted or the disk may fill up).

    Each ``write(rows)`` is one ``os.write`` of whole lines (no user-space buffer: what is
    written is on its way to the file at once). When a write fails or is cut short, the file is
    truncated back to the last complete row and the ``OSError`` is raised.
    """

    def __init__(self, path: str | Path, header: list[str]):
        self.path = Path(path)
        self.header = list(header)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.size = 0
        self.write([self.header])

    def write(self, rows) -> None:
        """Append rows (each a list in header order, or a dict keyed by the header)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for r in rows:
            w.writerow([r.get(k, "") for k in self.header] if isinstance(r, dict) else r)
        data = buf.getvalue().encode()
        if not data:
            return
        try:
            n = os.write(self._fd, data)
            if n != len(data):
                raise OSError(errno.ENOSPC, f"disk full? only {n} of {len(data)} bytes written",
                              str(self.path))
        except OSError:
            os.ftruncate(self._fd, self.size)
            raise
        self.size += n

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
