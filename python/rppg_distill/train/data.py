"""Config -> datasets for the trainers: generate (synthetic), read, preprocess, split, clip."""

from __future__ import annotations

from pathlib import Path

import torch

from .config import DataConfig


def _records(cfg: DataConfig, reader: str, log=print):
    from rppg_distill.data.readers import read_dataset

    root = Path(cfg.root)
    if cfg.source == "synthetic":
        if not (root / "synth_manifest.json").exists():
            from rppg_distill.data.synthetic import generate

            log(f"[data] generating the synthetic set into {root}")
            generate(root, n_subjects=cfg.n_subjects, seed=cfg.split_seed, duration_s=cfg.seconds,
                     **cfg.synth_kwargs)
        return read_dataset(reader, root / reader, **cfg.reader_kwargs)
    return read_dataset(cfg.source, root, **cfg.reader_kwargs)


def _cache(cfg: DataConfig, records, log=print):
    from rppg_distill.data.cache import ClipCache, preprocess
    from rppg_distill.data.cache.preprocess import PreprocessSettings

    cache_dir = Path(cfg.cache_dir or Path(cfg.root) / "cache")
    settings = PreprocessSettings.from_dict({"backend": cfg.face_backend})  # 72x72 crops; trainers resize
    settings.progress = False
    report = preprocess(records, cache_dir, settings)
    flagged = getattr(report, "flagged", None)
    if flagged:
        log(f"[data] preprocessing flagged {len(flagged)} recording(s): "
            + ", ".join(f"{f.key} ({f.reason})" for f in flagged[:10]))
    return ClipCache(cache_dir)


def split_subjects(records, split, seed):
    subjects = sorted({r.subject for r in records})
    g = torch.Generator().manual_seed(int(seed))
    order = [subjects[i] for i in torch.randperm(len(subjects), generator=g).tolist()]
    n = len(order)
    n_test = max(1, round(split[2] * n))
    n_val = max(1, round(split[1] * n)) if n - n_test > 2 else 0
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    pick = lambda ss: [r for r in records if r.subject in set(ss)]  # noqa: E731
    return pick(train), pick(val), pick(test)


def label_transform(cfg: DataConfig) -> str:
    """The label space of the clips (``label_transform``, defaulting to ``transform``)."""
    return cfg.label_transform or cfg.transform


def crossview_datasets(cfg: DataConfig, log=print):
    """(train MultiViewPairs, {view: SingleViewClips of the test subjects})."""
    from rppg_distill.data.clips import MultiViewPairs, SingleViewClips

    recs = _records(cfg, "mcd_rppg", log)
    cache = _cache(cfg, recs, log)
    train, val, test = split_subjects(recs, cfg.split, cfg.split_seed)
    train = train + val   # the cross-view trainer has no model selection
    lt = cfg.label_transform or None
    pairs = MultiViewPairs(cache, train, clip_len=cfg.clip_len, stride=cfg.stride, transform=cfg.transform,
                           label_transform=lt)
    if getattr(pairs, "skipped", None):
        log(f"[data] skipped: {pairs.skipped}")
    views = {}
    for v in ("frontal", "side_left", "side_right"):
        rs = [r for r in test if r.view == v]
        if rs:
            views[v] = SingleViewClips(cache, rs, clip_len=cfg.clip_len, stride=cfg.clip_len,
                                       transform=cfg.transform, label_transform=lt)
    return pairs, views


def crossmodal_datasets(cfg: DataConfig, log=print):
    """(train, val, test) VideoRadarPairs split by subject (70/10/20 by default)."""
    from rppg_distill.data.clips import VideoRadarPairs

    recs = _records(cfg, "equipleth", log)
    cache = _cache(cfg, recs, log)
    train, val, test = split_subjects(recs, cfg.split, cfg.split_seed)
    mk = lambda rs, stride: VideoRadarPairs(cache, rs, clip_len=cfg.clip_len, stride=stride,  # noqa: E731
                                            transform=cfg.transform, label_transform=cfg.label_transform or None)
    val_ds = mk(val, cfg.clip_len) if val else mk(train, cfg.clip_len)
    return mk(train, cfg.stride), val_ds, mk(test, cfg.clip_len)
