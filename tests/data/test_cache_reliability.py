"""The clip cache under interruption and faults: atomic entry commit, transient errors retried,
stale temporary files of killed processes removed."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_cache import FAST, N, face_frames, make_rec

from rppg_distill.data.cache import ClipCache, preprocess, store, worker
from rppg_distill.data.cache.store import atomic_save_npy
from rppg_distill.data.types import Recording


class Interrupted(KeyboardInterrupt):
    """Stands for a process interrupted at a chosen point."""


def test_interrupt_before_the_manifest_keeps_the_old_entry_whole(tmp_path, monkeypatch):
    rec = make_rec(tmp_path)
    root = tmp_path / "cache"
    preprocess([rec], root, FAST)  # 36 px
    # a re-crop to 24 px is interrupted after frames.npy is written, before the manifest is
    real_write = worker.atomic_write_json

    def interrupt(path, obj):
        if path.name == "manifest.json":
            raise Interrupted("interrupted before the manifest write")
        return real_write(path, obj)

    monkeypatch.setattr(worker, "atomic_write_json", interrupt)
    with pytest.raises(Interrupted):
        preprocess([rec], root, {**FAST, "size": 24})
    monkeypatch.undo()
    e = ClipCache(root)[rec]
    assert e.frames.shape == (N, 36, 36, 3) and e.verify()  # the old entry, untouched
    assert not list(root.glob(".*"))                         # no staging folder left
    rep = preprocess([rec], root, FAST)                      # the 36 px settings again: reused
    assert rep.reused == [rec.key] and ClipCache(root)[rec].verify()


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_interrupt_between_the_renames(tmp_path, monkeypatch):
    rec = make_rec(tmp_path)
    root = tmp_path / "cache"
    preprocess([rec], root, FAST)
    real_replace = store.os.replace

    def replace(src, dst):
        if str(dst) == str(root / rec.key) and ".tmp-" in str(src):
            # the old entry was moved aside, the new one is not yet in place
            raise Interrupted("interrupted between the renames")
        return real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", replace)
    with pytest.raises(Interrupted):
        preprocess([rec], root, {**FAST, "size": 24})
    monkeypatch.undo()
    e = ClipCache(root)[rec]  # an exception there puts the old entry back
    assert e.frames.shape == (N, 36, 36, 3) and e.verify() and not list(root.glob(".*"))
    # a process killed there leaves the old entry moved aside under its (now dead) PID
    (root / rec.key).rename(root / f".{rec.key}.old-{dead_pid()}")
    assert rec.key not in ClipCache(root)  # absent, never a mix of old and new files
    rep = preprocess([rec], root, {**FAST, "size": 24})
    assert rep.processed == [rec.key]
    assert any("temporary" in w for w in rep.warnings), rep.warnings
    e = ClipCache(root)[rec]
    assert e.frames.shape == (N, 24, 24, 3) and e.verify()
    assert not list(root.glob(".*"))


def test_frames_that_contradict_the_manifest_are_redone(tmp_path):
    """An entry written by an older version (files renamed one by one) that was interrupted."""
    rec = make_rec(tmp_path)
    root = tmp_path / "cache"
    preprocess([rec], root, FAST)
    atomic_save_npy(root / rec.key / "frames.npy", np.zeros((N, 24, 24, 3), np.uint8))
    assert not ClipCache(root)[rec].verify()
    rep = preprocess([rec], root, FAST)
    assert rep.processed == [rec.key] and not rep.reused
    assert any("does not match its manifest" in w for w in rep.warnings)
    e = ClipCache(root)[rec]
    assert e.frames.shape == (N, 36, 36, 3) and e.verify()


class FullDiskFile:
    """A file on a disk that fills up after ``room`` bytes: writes fail with ENOSPC, and so does
    the flush on close (as a real buffered file's does)."""

    def __init__(self, f, room: int):
        self.f, self.room, self.used = f, room, 0

    def write(self, b: bytes) -> int:
        if self.used + len(b) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.used += len(b)
        return self.f.write(b)

    def seek(self, *a):
        return self.f.seek(*a)

    def close(self) -> None:
        self.f.close()
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_reported_and_retried_not_flagged_forever(tmp_path, monkeypatch):
    a, b = make_rec(tmp_path, "a"), make_rec(tmp_path, "b")
    root = tmp_path / "cache"
    real_init = store.NpyStreamWriter.__init__

    def full_disk(self, *args, **kw):
        real_init(self, *args, **kw)
        if "__b__" in str(self.path):
            self._f = FullDiskFile(self._f, room=5000)

    monkeypatch.setattr(store.NpyStreamWriter, "__init__", full_disk)
    rep = preprocess([a, b], root, FAST)  # no crash, in the writer's abort or elsewhere
    monkeypatch.undo()
    assert rep.ok_keys == [a.key]
    (bad,) = rep.flagged
    assert (bad.key, bad.reason, bad.retry, bad.written) == (b.key, "io_error", True, False)
    assert "No space left" in bad.detail and "FAILED (retried by the next run)" in rep.summary()
    assert b.key not in ClipCache(root).keys(status=None)  # no verdict stored
    assert not [p for p in root.rglob(".*") if p.name != ".gitkeep"]
    rep = preprocess([a, b], root, FAST)  # space freed: b is done, a reused
    assert rep.processed == [b.key] and rep.reused == [a.key] and not rep.flagged
    assert ClipCache(root)[b].verify()


def test_abort_never_raises(tmp_path):
    w = store.NpyStreamWriter(tmp_path / "frames.npy", (4, 4, 3))
    w._f = FullDiskFile(w._f, room=0)
    w.abort()
    assert not list(tmp_path.iterdir())


def test_input_problems_stay_flagged_other_errors_are_retried(tmp_path, monkeypatch):
    vids = tmp_path / "videos"
    vids.mkdir()
    (vids / "empty.avi").write_bytes(b"")
    empty = Recording("test", "empty", "frontal", vids / "empty.avi", 30.0)
    good = make_rec(tmp_path, "good")
    root = tmp_path / "cache"

    def denied(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(root))

    monkeypatch.setattr(worker, "_write_labels", denied)
    rep = preprocess([empty, good], root, FAST)
    monkeypatch.undo()
    reasons = {f.key: (f.reason, f.retry) for f in rep.flagged}
    assert reasons == {empty.key: ("empty", False), good.key: ("io_error", True)}
    rep = preprocess([empty, good], root, FAST)
    assert rep.reused == [empty.key] and rep.processed == [good.key]
    assert [f.key for f in rep.flagged] == [empty.key]


CHILD = '''
import sys
import time
from pathlib import Path

import numpy as np

from rppg_distill.data.cache import preprocess
from rppg_distill.data.types import Recording


def slow_frames():  # a worker is busy with this when the parent is killed
    time.sleep(60)
    return np.zeros((30, 64, 64, 3), np.uint8)


if __name__ == "__main__":
    recs = [Recording("test", f"v{i}", "frontal", Path(sys.argv[1]) / f"v{i}.avi", 30.0,
                      frame_loader=slow_frames) for i in range(2)]
    preprocess(recs, sys.argv[2], {"workers": 2, "progress": False})
'''


def test_kill_9_of_preprocess_ends_its_workers_and_the_next_run_cleans_up(tmp_path):
    import rppg_distill

    root = tmp_path / "cache"
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(rppg_distill.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(tmp_path), str(root)],
                            env=env)
    try:
        deadline = time.monotonic() + 60
        while len(list(root.glob(".*.tmp-*"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "preprocess ended before it could be killed"
            time.sleep(0.1)
        workers = {int(p.name.rsplit("-", 1)[1]) for p in root.glob(".*.tmp-*")}
        assert len(workers) == 2, "the workers did not start within 60 s"
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while any(store.pid_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [w for w in workers if store.pid_alive(w)]
    for w in survivors:  # leave no orphan behind when the check fails
        os.kill(w, signal.SIGKILL)
    assert not survivors, "a worker outlived its killed parent"
    assert len(list(root.glob(".*.tmp-*"))) == 2  # what the killed workers were writing
    frames = face_frames()
    recs = [Recording("test", f"v{i}", "frontal", tmp_path / f"v{i}.avi", 30.0,
                      frame_loader=lambda: frames) for i in range(2)]
    rep = preprocess(recs, root, FAST)
    assert any("removed 2 temporary" in w for w in rep.warnings), rep.warnings
    assert rep.ok_keys == sorted(r.key for r in recs) and not list(root.rglob(".*"))


def test_prune_removes_incomplete_entries_and_dead_temps_only(tmp_path):
    rec = make_rec(tmp_path)
    root = tmp_path / "cache"
    preprocess([rec], root, FAST)
    (root / "gone__s9__rest__frontal").mkdir()  # an entry interrupted before its manifest (old layout)
    atomic_save_npy(root / "gone__s9__rest__frontal" / "frames.npy", np.zeros((2, 4, 4, 3), np.uint8))
    (root / "gone__s9__rest__frontal" / f".frames.npy.tmp-{dead_pid()}").write_bytes(b"junk")
    (root / f".report.json.tmp-{dead_pid()}.abc123").write_bytes(b"junk")
    live = root / f".report.json.tmp-{os.getpid()}.abc123"  # a writer that is still running
    live.write_bytes(b"busy")
    (root / "notes").mkdir()  # not a cache entry: kept
    (root / "notes" / "readme.txt").write_text("mine")
    rep = preprocess([rec], root, FAST, prune=True)
    assert rep.reused == [rec.key]
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [rec.key, "notes", live.name, "report.json", "report.txt"])
    assert any("pruned stale entry gone__s9" in w for w in rep.warnings)
