"""Config -> datasets for the trainers: generate (synthetic), read, preprocess, split, clip."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from rppg_distill.data.splits import split_records

from .config import DataConfig


def _records(cfg: DataConfig, reader: str, log=print):
    """Records of ``cfg.source``; for ``synthetic`` the generator's ``reader`` layout under
    ``cfg.root``, generated first when that layout is missing (a fresh root, or a root that holds
    only another layout: the cross-view set is MCD-rPPG, the cross-modal one EquiPleth)."""
    from rppg_distill.data.readers import read_dataset

    root = Path(cfg.root)
    if cfg.source == "synthetic":
        if not ((root / "synth_manifest.json").exists() and (root / reader).is_dir()):
            from rppg_distill.data.synthetic import generate

            kwargs = dict(cfg.synth_kwargs)
            kwargs["formats"] = tuple(dict.fromkeys([*kwargs.get("formats", ()), reader]))
            log(f"[data] generating the synthetic set ({', '.join(kwargs['formats'])}) into {root}")
            generate(root, n_subjects=cfg.n_subjects, seed=cfg.split_seed, duration_s=cfg.seconds, **kwargs)
        return read_dataset(reader, root / reader, **cfg.reader_kwargs)
    return read_dataset(cfg.source, root, **cfg.reader_kwargs)


def _cache(cfg: DataConfig, records, log=print, *, workers: int = 0, progress: bool = False):
    """The clip cache of ``records`` (preprocessed where missing: ``workers`` processes, a
    progress bar with ``progress``; neither changes the output)."""
    from rppg_distill.data.cache import ClipCache, preprocess
    from rppg_distill.data.cache.preprocess import PreprocessSettings

    cache_dir = Path(cfg.cache_dir or Path(cfg.root) / "cache")
    settings = PreprocessSettings.from_dict({"backend": cfg.face_backend})  # 72x72 crops; trainers resize
    settings.progress, settings.workers = progress, workers
    report = preprocess(records, cache_dir, settings)
    flagged = getattr(report, "flagged", None)
    if flagged:
        log(f"[data] preprocessing flagged {len(flagged)} recording(s): "
            + ", ".join(f"{f.key} ({f.reason})" for f in flagged[:10]))
    return ClipCache(cache_dir)


def split_by_subject(records, cfg: DataConfig) -> tuple[list, list, list]:
    """(train, val, test) records: ``data.splits.split_records`` (subject-disjoint, natural sort,
    seeded) with the config's ``split`` fractions and ``split_seed``."""
    parts = split_records(records, tuple(cfg.split), seed=cfg.split_seed)
    return parts["train"], parts["val"], parts["test"]


def label_transform(cfg: DataConfig) -> str:
    """The label space of the clips (``label_transform``, defaulting to ``transform``)."""
    return cfg.label_transform or cfg.transform


class CrossViewData(NamedTuple):
    """The cross-view trainer's data: training pairs, and per-view clips of the validation and
    test subjects (``{view: SingleViewClips}``; ``val`` is empty when the split gives it no
    subject)."""

    train: Any
    val: dict
    test: dict


def view_clips(cache, records, cfg: DataConfig) -> dict:
    """``{view: SingleViewClips}`` of ``records`` (non-overlapping clips at the model's rate)."""
    from rppg_distill.data.clips import SingleViewClips

    views = {}
    for v in ("frontal", "side_left", "side_right"):
        rs = sorted((r for r in records if r.view == v), key=lambda r: r.key)  # the order `evaluate` uses
        if rs:
            views[v] = SingleViewClips(cache, rs, clip_len=cfg.clip_len, stride=cfg.clip_len,
                                       transform=cfg.transform, label_transform=cfg.label_transform or None,
                                       fs=cfg.fs)
    return views


def crossview_datasets(cfg: DataConfig, log=print, *, workers: int = 0, progress: bool = False) -> CrossViewData:
    """(train MultiViewPairs, {view: validation clips}, {view: test clips}), split by subject.

    Every clip is at ``cfg.fs`` (the model's rate): recordings at another fps are resampled
    (``data.clip_rate``), so one batch has one rate. The validation subjects are held out of
    training: the trainer picks its checkpoint on them (``CrossViewConfig.model_selection``).
    ``workers``, ``progress``: of the preprocessing, where the cache lacks recordings."""
    from rppg_distill.data.clips import MultiViewPairs

    recs = _records(cfg, "mcd_rppg", log)
    cache = _cache(cfg, recs, log, workers=workers, progress=progress)
    train, val, test = split_by_subject(recs, cfg)
    pairs = MultiViewPairs(cache, train, clip_len=cfg.clip_len, stride=cfg.stride, transform=cfg.transform,
                           label_transform=cfg.label_transform or None, fs=cfg.fs)
    if getattr(pairs, "skipped", None):
        log(f"[data] skipped: {pairs.skipped}")
    return CrossViewData(pairs, view_clips(cache, val, cfg), view_clips(cache, test, cfg))


def crossmodal_datasets(cfg: DataConfig, log=print, *, workers: int = 0, progress: bool = False):
    """(train, val, test) VideoRadarPairs split by subject (70/10/20 by default); ``workers``,
    ``progress``: of the preprocessing, where the cache lacks recordings."""
    from rppg_distill.data.clips import VideoRadarPairs

    recs = _records(cfg, "equipleth", log)
    cache = _cache(cfg, recs, log, workers=workers, progress=progress)
    train, val, test = split_by_subject(recs, cfg)
    mk = lambda rs, stride: VideoRadarPairs(cache, rs, clip_len=cfg.clip_len, stride=stride,  # noqa: E731
                                            transform=cfg.transform, label_transform=cfg.label_transform or None)
    val_ds = mk(val, cfg.clip_len) if val else mk(train, cfg.clip_len)
    return mk(train, cfg.stride), val_ds, mk(test, cfg.clip_len)
