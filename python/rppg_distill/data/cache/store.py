"""On-disk layout of the clip cache and read access (numpy only).

One folder per recording, named by ``Recording.key``::

    <cache_dir>/<key>/frames.npy     uint8 [N, S, S, 3] RGB face crops (memory-mapped on read)
                      boxes.npy      float32 [N, 4] crop boxes (x, y, w, h) in source pixels
                      face_ok.npy    bool [N] box backed by a recent detection
                      bvp.npy        float32 [N] label at frame rate (when labelled)
                      radar.npy      float32 [10, N + tail] radar at frame rate (when present;
                                     tail = manifest "radar_tail", recorded past the last frame)
                      manifest.json  written last: its presence with matching hashes = complete
    <cache_dir>/report.json, report.txt   the last preprocessing report

An entry is built in a staging folder ``<cache_dir>/.<key>.tmp-<pid>`` and renamed into place as
a whole (:func:`commit_entry`), so its files and manifest always belong together: an interrupted
run leaves the previous entry (or none) and a staging folder that the next run removes
(:func:`remove_stale_temps`, by the writer's PID). Each file is still written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rppg_distill.data.atomic import atomic_save, atomic_write_bytes

CACHE_VERSION = 1
MANIFEST = "manifest.json"
_NPY_HEADER = 128  # bytes reserved for the .npy header of streamed arrays


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=_json_default).encode())


def atomic_save_npy(path: Path, arr: np.ndarray) -> None:
    def save(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)

    atomic_save(path, save)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return repr(o)


def stable_hash(obj) -> str:
    """sha256 (16 hex) of a JSON-serializable object with sorted keys."""
    blob = json.dumps(obj, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def array_hash(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"<none>")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


class NpyStreamWriter:
    """Append uint8 frames [S, S, 3] to a .npy file without knowing N in advance.

    The data is written after a reserved 128-byte header, which is filled in on ``close`` with
    the final shape; then the file is renamed into place. Also keeps a sha256 of the data bytes.
    """

    def __init__(self, path: Path, frame_shape: tuple[int, ...], dtype=np.uint8):
        self.path = Path(path)
        self.tmp = _tmp_name(self.path)
        self.frame_shape = tuple(frame_shape)
        self.dtype = np.dtype(dtype)
        self.n = 0
        self.sha = hashlib.sha256()
        self._f = open(self.tmp, "wb")
        self._f.write(b"\0" * _NPY_HEADER)

    def append(self, frame: np.ndarray) -> None:
        if frame.shape != self.frame_shape or frame.dtype != self.dtype:
            raise ValueError(f"frame {frame.dtype}{frame.shape} != {self.dtype}{self.frame_shape}")
        b = np.ascontiguousarray(frame).tobytes()
        self._f.write(b)
        self.sha.update(b)
        self.n += 1

    def close(self) -> str:
        """Finish the file (atomically) and return the sha256 hex digest of the data."""
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": self.dtype.str, "fortran_order": False,
                     "shape": (self.n, *self.frame_shape)})
        hb = header.getvalue()
        if len(hb) != _NPY_HEADER:  # pragma: no cover - only for absurd shapes
            self._f.close()
            raw = np.fromfile(self.tmp, dtype=self.dtype, offset=_NPY_HEADER)
            atomic_save_npy(self.path, raw.reshape(self.n, *self.frame_shape))
            os.unlink(self.tmp)
            return self.sha.hexdigest()
        self._f.seek(0)
        self._f.write(hb)
        self._f.close()
        os.replace(self.tmp, self.path)
        return self.sha.hexdigest()

    def abort(self) -> None:
        """Drop the temporary file. Never raises: it runs while another error is on its way up
        (closing flushes the buffer, which fails again on a full disk)."""
        try:
            self._f.close()
        except OSError:
            pass
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:
            pass


# ----------------------------------------------------------------------------- entry commit
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-(?P<pid>\d+)(?:\..*)?$")
ENTRY_FILES = frozenset({"frames.npy", "boxes.npy", "face_ok.npy", "bvp.npy", "radar.npy", MANIFEST})


def staging_dir(entry_dir: Path) -> Path:
    """The folder an entry is built in before :func:`commit_entry` renames it to ``entry_dir``."""
    entry_dir = Path(entry_dir)
    return entry_dir.with_name(f".{entry_dir.name}.tmp-{os.getpid()}")


def commit_entry(staged: Path, entry_dir: Path) -> None:
    """Replace the folder ``entry_dir`` by the complete folder ``staged`` (same parent).

    Two renames: the old entry moves aside, the new one into place. An exception between them
    puts the old entry back; a killed process leaves no entry (redone by the next run, which
    also removes the moved-aside folder), never a mix of old and new files.
    """
    entry_dir = Path(entry_dir)
    old = None
    if entry_dir.exists():
        old = entry_dir.with_name(f".{entry_dir.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(entry_dir, old)
    try:
        os.replace(staged, entry_dir)
    except BaseException:
        if old is not None:
            os.replace(old, entry_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists and is not a zombie (Linux: /proc state)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(root: Path) -> list[Path]:
    """Delete temporary files and staging folders (``.<name>.tmp-<pid>[.x]``, ``.<name>.old-<pid>``)
    in ``root`` and its entry folders whose writing process is gone; returns what was removed."""
    root = Path(root)
    removed = []
    for folder in [root] + [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]:
        for p in folder.iterdir():
            hit = _TEMP_NAME.match(p.name)
            if hit is None or pid_alive(int(hit["pid"])):
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) from a .npy header without reading the data."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _fortran, dtype = read(f)
        return tuple(shape), np.dtype(dtype), f.tell()


def entry_problem(entry_dir: Path, manifest: dict) -> str | None:
    """Why the files of a written entry do not match its manifest (None: they do).

    Cheap (headers and sizes, no data read): the listed files exist, frames.npy is uint8
    ``[n_frames, crop_size, crop_size, 3]`` and complete, boxes/face_ok have ``n_frames`` rows.
    """
    entry_dir = Path(entry_dir)
    files = manifest.get("files", {})
    n = manifest.get("n_frames")
    want = {"frames": (n, manifest.get("crop_size"), manifest.get("crop_size"), 3),
            "boxes": (n, 4), "face_ok": (n,)}
    for name, fn in files.items():
        path = entry_dir / fn
        try:
            shape, dtype, offset = _npy_shape(path)
            size = path.stat().st_size
        except (OSError, ValueError) as err:
            return f"{fn}: {err}"
        if name in want and shape != tuple(want[name]):
            return f"{fn} has shape {shape}, the manifest says {tuple(want[name])}"
        if name == "frames" and dtype != np.uint8:
            return f"{fn} has dtype {dtype}, expected uint8"
        if size < offset + int(np.prod(shape)) * dtype.itemsize:
            return f"{fn} is truncated ({size} bytes)"
    return None


def read_manifest(entry_dir: Path) -> dict | None:
    """The manifest of an entry folder, or None when absent or unreadable (= not complete)."""
    p = Path(entry_dir) / MANIFEST
    try:
        with open(p) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None
    if m.get("version") != CACHE_VERSION:
        return None
    return m


class CacheEntry:
    """One cached recording. Arrays open lazily; ``frames`` is a read-only memmap."""

    def __init__(self, path: Path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest
        self._frames = None

    def __getstate__(self):  # never pickle an open memmap (DataLoader workers reopen it)
        return {"path": self.path, "manifest": self.manifest, "_frames": None}

    @property
    def n_usable(self) -> int:
        """Frames with crops and (where present) labels: min of the frame and label lengths."""
        return int(self.manifest.get("n_frames_usable", self.n_frames))

    def __repr__(self) -> str:
        return f"CacheEntry({self.key!r}, n_frames={self.n_frames}, status={self.status!r})"

    key = property(lambda self: self.manifest["key"])
    status = property(lambda self: self.manifest["status"])
    fps = property(lambda self: float(self.manifest["fps"]))
    n_frames = property(lambda self: int(self.manifest.get("n_frames", 0)))
    dataset = property(lambda self: self.manifest["dataset"])
    subject = property(lambda self: self.manifest["subject"])
    state = property(lambda self: self.manifest["state"])
    view = property(lambda self: self.manifest["view"])

    def _load(self, name: str, mmap: bool = False):
        fn = self.manifest.get("files", {}).get(name)
        if not fn:
            return None
        return np.load(self.path / fn, mmap_mode="r" if mmap else None, allow_pickle=False)

    @property
    def frames(self) -> np.ndarray:
        """uint8 [N, S, S, 3] RGB crops, memory-mapped (read-only)."""
        if self._frames is None:
            f = self._load("frames", mmap=True)
            if f is None:
                raise ValueError(f"cache entry {self.key} has no frames ({self.status}: "
                                 f"{self.manifest.get('reason')})")
            self._frames = f
        return self._frames

    @property
    def bvp(self) -> np.ndarray | None:
        return self._load("bvp")

    @property
    def radar(self) -> np.ndarray | None:
        return self._load("radar")

    @property
    def boxes(self) -> np.ndarray | None:
        return self._load("boxes")

    @property
    def face_ok(self) -> np.ndarray | None:
        return self._load("face_ok")

    def verify(self) -> bool:
        """Recompute the sha256 of the crop bytes and compare with the manifest's checksum."""
        frames = self.frames
        h = hashlib.sha256()
        step = 256
        for i in range(0, len(frames), step):
            h.update(np.ascontiguousarray(frames[i:i + step]).tobytes())
        return h.hexdigest() == self.manifest.get("checksum")


class ClipCache:
    """Read access to a preprocessed cache folder.

    >>> cache = ClipCache("cache/")
    >>> e = cache["synthetic__s00__rest__frontal"]; e.frames.shape   # (N, 72, 72, 3)
    """

    def __init__(self, cache_dir: str | os.PathLike):
        self.root = Path(cache_dir)
        if not self.root.is_dir():
            raise ValueError(f"cache folder not found: {self.root} (run `rppg-distill preprocess`)")
        self._entries: dict[str, CacheEntry] = {}
        self.refresh()

    def refresh(self) -> None:
        self._entries.clear()
        # hidden folders are staging or moved-aside entries (see commit_entry), never live ones
        for d in sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            m = read_manifest(d)
            if m is not None:
                self._entries[m["key"]] = CacheEntry(d, m)

    def keys(self, status: str | None = "usable") -> list[str]:
        """Sorted keys. ``"usable"``: entries with crops (ok, or flagged but written, e.g. a face
        lost in part of the video; their ``face_ok`` marks the good frames); ``"ok"``: only
        clean entries; ``None``: all, skipped ones included."""
        def keep(e):
            if status is None:
                return True
            if status == "usable":
                return e.status == "ok" or bool(e.manifest.get("written"))
            return e.status == status
        return sorted(k for k, e in self._entries.items() if keep(e))

    def __contains__(self, key) -> bool:
        key = getattr(key, "key", key)
        return key in self._entries

    def __getitem__(self, key) -> CacheEntry:
        key = getattr(key, "key", key)  # accepts a Recording
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f"{key!r} is not in the cache {self.root} "
                           f"({len(self._entries)} entries)") from None

    entry = __getitem__

    def __iter__(self) -> Iterator[CacheEntry]:
        return iter(self._entries[k] for k in self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def report(self) -> dict | None:
        try:
            with open(self.root / "report.json") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
