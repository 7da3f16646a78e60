"""Preprocessing: recordings -> uint8 face crops in the clip cache, in parallel, resumable.

``preprocess(records, cache_dir, settings)`` runs the face tracker over each video (streamed
frame by frame, so memory per worker is a few frames plus the label arrays), writes the entry
files atomically and returns a :class:`CacheReport` naming every flagged or skipped recording.

This module is the orchestration (plan each entry, process pool, progress bar, report, prune).
The pieces live beside it: ``settings`` (:class:`PreprocessSettings`), ``report``
(:class:`CacheReport`), ``sources`` (frame streaming, fingerprints), ``plan`` (the three hashes
and what a second run redoes) and ``worker`` (:func:`process_recording`). Their names are
re-exported here so existing imports keep working.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

# re-exported: these lived here before the split and are imported from this path
from rppg_distill.data.cache.plan import _CROP_KEYS, _FACE_KEYS, _hashes, _plan  # noqa: F401
from rppg_distill.data.cache.report import CacheReport, FlaggedRecording
from rppg_distill.data.cache.settings import PreprocessSettings
from rppg_distill.data.cache.sources import _iter_source, _meta_jsonable, _streamable, iter_frames, source_fingerprint  # noqa: F401
from rppg_distill.data.cache.store import ENTRY_FILES, MANIFEST, entry_problem, read_manifest, remove_stale_temps
from rppg_distill.data.cache.worker import (  # noqa: F401
    _BACKEND,
    _backend,
    _base_manifest,
    _Flag,
    _run_task,
    _usable_len,
    _worker_init,
    _write_labels,
    process_recording,
)
from rppg_distill.data.types import Recording


def preprocess(records: Sequence[Recording], cache_dir: str | os.PathLike,
               settings: PreprocessSettings | dict | None = None, *,
               prune: bool = False) -> CacheReport:
    """Crop faces of ``records`` into ``cache_dir`` and return the report (also saved there).

    Args:
        records: recordings (from a reader or the synthetic generator); keys must be unique.
        settings: PreprocessSettings or a dict of its fields (tracker fields may be given flat).
        prune: delete cache entries whose key is not among ``records``.
    Raises ValueError for duplicate keys or an unusable backend (before any work starts).
    """
    t0 = time.perf_counter()
    s = settings if isinstance(settings, PreprocessSettings) else PreprocessSettings.from_dict(settings)
    root = Path(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    keys = [r.key for r in records]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"duplicate recording keys: {dup}")
    backend_cfg = _backend(s.backend, s.backend_cfg).config()  # fails early with a clear message
    report = CacheReport(cache_dir=str(root), settings={**s.to_dict(), "backend_config": backend_cfg})
    stale = remove_stale_temps(root)
    if stale:
        report.warnings.append(f"removed {len(stale)} temporary file(s) left by an interrupted run")
    tasks, picklable = _plan_tasks(records, root, s, backend_cfg, report)
    _add_results(report, _run_tasks(tasks, picklable, s))
    if prune:
        _prune(root, set(keys), report)
    report.seconds = time.perf_counter() - t0
    report.save(root)
    return report


def _plan_tasks(records: Sequence[Recording], root: Path, s: PreprocessSettings, backend_cfg: dict,
                report: CacheReport) -> tuple[list[tuple], list[bool]]:
    """Worker tasks ``(rec, out, settings, hashes, mode, prev)`` for the entries that need work
    (up-to-date entries go to ``report`` as reused), and whether each task can be pickled."""
    tasks, picklable = [], []
    for rec in records:
        out = root / rec.key
        hashes = _hashes(rec, backend_cfg, s)
        prev = read_manifest(out)
        problem = entry_problem(out, prev) if prev is not None else None
        if problem:
            report.warnings.append(f"{rec.key}: entry does not match its manifest ({problem}); redone")
            prev = None
        mode = _plan(prev, hashes)
        if mode == "reuse":
            report.reused.append(rec.key)
            if prev["status"] == "flagged":
                report.flagged.append(FlaggedRecording(rec.key, str(rec.video), prev["reason"],
                                                       prev["detail"], bool(prev.get("written"))))
            continue
        if s.stream and _streamable(rec) and rec.frame_loader is not None:
            rec = dataclasses.replace(rec, frame_loader=None)  # decode from the file, streamed
        tasks.append((rec, out, s, hashes, mode, prev))
        try:
            pickle.dumps(rec)
            picklable.append(True)
        except Exception:
            picklable.append(False)
    return tasks, picklable


def _run_tasks(tasks: list[tuple], picklable: list[bool], s: PreprocessSettings) -> list[tuple[str, dict]]:
    """Run the tasks (picklable ones in a process pool when ``s.workers > 0``); [(mode, manifest)]."""
    results: list[tuple[str, dict]] = []
    bar = None
    if s.progress and tasks:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(tasks), desc="preprocess", unit="video")
        except ImportError:  # pragma: no cover
            bar = None

    def _done(mode, m):
        results.append((mode, m))
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(m["key"][-30:])

    pool_tasks = [t for t, ok in zip(tasks, picklable) if ok and s.workers > 0]
    local_tasks = [t for t, ok in zip(tasks, picklable) if not (ok and s.workers > 0)]
    if pool_tasks:
        _run_pool(pool_tasks, s, _done)
    for t in local_tasks:
        _done(t[4], _run_task(t))
    if bar is not None:
        bar.close()
    return results


def _run_pool(tasks: list[tuple], s: PreprocessSettings, done) -> None:
    """Run ``tasks`` in worker processes; ``done(mode, manifest)`` as each finishes."""
    import multiprocessing as mp

    # "spawn" by default: fork after OpenCV (or torch) has started its thread pools can
    # deadlock the children. Spawn needs the caller's script to guard its entry point with
    # `if __name__ == "__main__":` (the console script does).
    ctx = mp.get_context(s.start_method or "spawn")
    with ProcessPoolExecutor(max_workers=min(s.workers, len(tasks)), mp_context=ctx,
                             initializer=_worker_init) as ex:
        futs = {ex.submit(_run_task, t): t for t in tasks}
        try:
            for fut in as_completed(futs):
                t = futs[fut]
                done(t[4], fut.result())
        except BrokenProcessPool as err:
            raise RuntimeError(
                "a preprocessing worker process died (out of memory, a crash in a decoder, or "
                "a script without an `if __name__ == \"__main__\":` guard under the spawn "
                "start method); rerun to resume, or use workers=0 to run in this process"
            ) from err
        except BaseException:
            for f in futs:
                f.cancel()
            raise


def _add_results(report: CacheReport, results: list[tuple[str, dict]]) -> None:
    """Sort the worker manifests into the report (processed/recropped/relabelled, flagged, frames)."""
    for mode, m in sorted(results, key=lambda r: r[1]["key"]):
        key = m["key"]
        {"full": report.processed, "recrop": report.recropped,
         "relabel": report.relabelled}[mode].append(key)
        if m["status"] in ("flagged", "failed"):
            report.flagged.append(FlaggedRecording(key, m["source"], m["reason"], m["detail"],
                                                   bool(m.get("written")), m["status"] == "failed"))
        elif mode != "relabel":
            report.n_frames += int(m.get("n_frames", 0))
        report.warnings += [f"{key}: {w}" for w in m.get("warnings", [])]
    report.flagged.sort(key=lambda f: f.key)


def _prune(root: Path, wanted: set[str], report: CacheReport) -> None:
    """Delete cache entries whose key is not in ``wanted`` (also incomplete ones: folders holding
    nothing but entry files)."""
    for d in root.iterdir():
        if not d.is_dir() or d.name.startswith(".") or d.name in wanted:
            continue
        if (d / MANIFEST).exists() or all(f.name in ENTRY_FILES or f.name.startswith(".")
                                          for f in d.iterdir()):
            shutil.rmtree(d)
            report.warnings.append(f"pruned stale entry {d.name}")
