"""Per-view clip sets from a preprocessed clip cache, shaped for one model (``ModelFile``).

Which recordings: ``split="test"`` takes the test subjects of the checkpoint's own split
(``train.data.split_by_subject``'s rule: ``data.split`` fractions and ``data.split_seed`` over the
subjects in the cache, flagged recordings included, so a cache that holds the training dataset
gives the trainer's test set exactly); ``"all"`` every recording; ``"auto"`` (default) ``test``
when the cache is the checkpoint's training cache (``data.cache_dir``, or ``data.root``/cache),
else ``all``. Clips are non-overlapping windows of the model's length at the model's rate
(``SingleViewClips(fs=...)``: a recording at another fps is resampled), as in the trainers' test
sets.
"""

from __future__ import annotations

from pathlib import Path

from rppg_distill.data.cache.store import ClipCache
from rppg_distill.data.splits import split_records

SPLITS = ("auto", "test", "all")


def training_cache(config: dict) -> Path | None:
    """The cache folder a checkpoint's config trained on (None without a data section)."""
    data = (config or {}).get("data") or {}
    if not data.get("root") and not data.get("cache_dir"):
        return None
    return Path(data.get("cache_dir") or Path(data["root"]) / "cache")


def choose_split(split: str, cache: ClipCache, config: dict) -> tuple[str, str]:
    """(``"test"`` | ``"all"``, why) for the requested ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    home = training_cache(config)
    is_home = home is not None and home.resolve() == cache.root.resolve()
    if split == "test":
        if not config.get("data"):
            raise ValueError("--split test needs the training split, which only a trainer checkpoint "
                             "carries (an ONNX does not); use --split all")
        return "test", "requested"
    if split == "all":
        return "all", "requested"
    if is_home:
        return "test", "the cache is the checkpoint's training cache: its test subjects"
    return "all", "not the checkpoint's training cache: every recording"


def selected_keys(cache: ClipCache, split: str, config: dict) -> list[str]:
    """Usable cache keys of ``split`` (``"test"``: the test subjects of the config's split)."""
    usable = set(cache.keys())
    if split == "all":
        return sorted(usable)
    data = config["data"]
    entries = [cache[k] for k in cache.keys(status=None)]
    parts = split_records(entries, tuple(data.get("split", (0.7, 0.1, 0.2))), seed=int(data.get("split_seed", 0)))
    return [e.key for e in parts.get("test", []) if e.key in usable]


def cache_view_sets(cache_dir, model_file, *, split: str = "auto", views=None) -> tuple[dict, dict]:
    """``({view: SingleViewClips}, info)`` of the cache for ``model_file``.

    Args:
        cache_dir: a ``rppg-distill preprocess`` output folder.
        model_file: a :class:`~rppg_distill.evaluate.model_file.ModelFile`.
        split: "auto" | "test" | "all" (module docstring).
        views: keep these views (None: every view in the cache).

    Returns:
        (sets, info): info has ``split``, ``split_reason``, ``subjects``, ``views_in_cache`` and
        ``skipped`` ({view: why no clips}).

    Raises:
        ValueError: not a cache, an empty cache, none of ``views`` in it, or no clip at all.
    """
    from rppg_distill.data.clips import SingleViewClips

    cache = ClipCache(cache_dir)
    if not cache.keys(status=None):
        raise ValueError(f"{cache.root} holds no preprocessed recordings (run `rppg-distill preprocess`)")
    name, why = choose_split(split, cache, model_file.config)
    keys = selected_keys(cache, name, model_file.config)
    in_cache = sorted({cache[k].view for k in cache.keys()})
    want = list(dict.fromkeys(views)) if views else None
    if want:
        missing = [v for v in want if v not in in_cache]
        if len(missing) == len(want):
            raise ValueError(f"{cache.root} holds the views {in_cache}, none of {want}")
    by_view: dict[str, list[str]] = {}
    for k in keys:
        v = cache[k].view
        if want is None or v in want:
            by_view.setdefault(v, []).append(k)
    if not by_view:
        raise ValueError(f"{cache.root}: no usable recording of {want or in_cache} in the {name} split")
    sets, skipped = {}, {}
    for v, ks in by_view.items():
        try:
            sets[v] = SingleViewClips(cache, ks, clip_len=model_file.clip_len, stride=model_file.clip_len,
                                      transform=model_file.transform, label_transform=model_file.label_transform,
                                      fs=model_file.fs)
        except ValueError as err:
            skipped[v] = str(err)
    if not sets:
        raise ValueError(f"{cache.root}: no clip of {model_file.clip_len} frames in any view: "
                         + "; ".join(f"{v}: {w}" for v, w in skipped.items()))
    if want:
        skipped.update({v: "not in the cache" for v in want if v not in in_cache})
    info = {"split": name, "split_reason": why, "views_in_cache": in_cache, "skipped": skipped,
            "subjects": sorted({cache[k].subject for ks in by_view.values() for k in ks})}
    return sets, info
