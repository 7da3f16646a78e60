"""Per-view evaluation of a video model: the one path the cross-view trainer (test and validation
views) and ``rppg-distill evaluate`` share, so both report the same numbers for the same weights.

Imports torch (through :func:`rppg_distill.evaluate.inference.predict`); not re-exported by
``rppg_distill.evaluate``.
"""

from __future__ import annotations

from rppg_distill.evaluate.inference import predict
from rppg_distill.evaluate.pipeline import evaluate_clips


def evaluate_views(model, view_sets: dict, protocol, *, label_transform: str, fs: float,
                   img_size: int | None = None, device=None, batch_size: int = 8) -> dict:
    """``{view: evaluate_clips(predict(model, clips))}`` for every non-empty clip set.

    Args:
        model: a torch module [B, C, T, H, W] -> [B, T] (or an ``OnnxModel``).
        view_sets: ``{view: clip dataset}`` (items with ``video``, ``bvp``, ``key`` and ``fs``).
        protocol: the ``HRProtocol`` (or its name).
        label_transform: the clips' label space (``to_pulse`` integrates ``diff_normalized``).
        fs: the rate of clips whose items carry no ``fs`` (each clip's own ``fs`` wins).
        img_size: resize frames to this side first (the model's input size).
        batch_size: clips per forward pass (changing it may change the last float bits).

    Returns:
        per view: the ``evaluate_clips`` dict plus ``n_clips``.
    """
    out = {}
    for view, ds in view_sets.items():
        if ds is None or len(ds) == 0:
            continue
        p = predict(model, ds, img_size=img_size, device=device, batch_size=batch_size)
        res = evaluate_clips(p.pred, p.label, p.rates(fs), protocol, label_transform=label_transform,
                             keys=p.keys)
        res["n_clips"] = res["n"]
        out[view] = res
    return out


def side_views(per_view: dict) -> list[str]:
    """The views of ``per_view`` that are not the frontal (teacher) view."""
    return [v for v in per_view if v != "frontal"]


def selection_scores(per_view: dict) -> dict:
    """Model-selection scores from a per-view result: ``mae_<view>`` for each view, ``side_mae``
    (mean of the side views' MAEs, as the tables' "side" column; absent without side views) and
    ``mean_mae`` (mean over all views)."""
    import numpy as np

    scores = {f"mae_{v}": float(r["mae"]) for v, r in per_view.items()}
    sides = side_views(per_view)
    if sides:
        scores["side_mae"] = float(np.mean([per_view[v]["mae"] for v in sides]))
    if per_view:
        scores["mean_mae"] = float(np.mean([r["mae"] for r in per_view.values()]))
    return scores
