"""`rppg-distill evaluate MODEL --dataset CACHE`: a trained video model on a clip cache, per view.

MODEL is a trainer checkpoint (``checkpoints/best.pt`` / ``last.pt``) or an exported ONNX (its
preprocessing contract says the clip length, crop, transforms and frame rate). The clips come from
a ``rppg-distill preprocess`` cache (``--split``: the checkpoint's test subjects when the cache is
its training cache, else every recording; ``--views`` filters). Prediction and metrics are the
trainers' own path (``evaluate.views.evaluate_views``: ``predict`` + ``evaluate_clips``), so for
the same checkpoint and clips the numbers equal the trainer's ``eval.json``.

Prints a per-view table (clips, HR MAE, RMSE, MAPE, Pearson r, SNR, PSD peak concentration) and
writes ``evaluate.json`` and one Bland-Altman PNG per view into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "evaluate"
HELP = "evaluate a trained checkpoint or exported ONNX on a clip cache: per-view HR table, JSON, Bland-Altman plots"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="trainer checkpoint (.pt) or exported model (.onnx)")
    parser.add_argument("--dataset", required=True, help="clip-cache folder (`rppg-distill preprocess` output)")
    parser.add_argument("--protocol", choices=["crossview", "rpm_distill"], default=None,
                        help="HR protocol (default: the checkpoint trainer's: crossview for cross-view, "
                             "rpm_distill for RPM-Distill checkpoints; crossview for an ONNX); band and "
                             "resolution come from the model's config / contract")
    parser.add_argument("--views", nargs="+", default=None, metavar="VIEW",
                        help="views to evaluate (frontal side_left side_right, or comma-separated; "
                             "default: every view in the cache)")
    parser.add_argument("--split", choices=["auto", "test", "all"], default="auto",
                        help="auto (default): the checkpoint's test subjects when the cache is its "
                             "training cache, else every recording; test: the checkpoint's split rule "
                             "applied to this cache; all: every recording")
    parser.add_argument("--out", default=None,
                        help="output folder (default: <model folder>/<model name>_eval)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per forward pass (default 8, as the trainers)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (checkpoints)")
    parser.add_argument("--providers", default="cpu", help="onnxruntime providers for an ONNX: cpu, cuda, auto")
    parser.add_argument("--no-plots", action="store_true", help="skip the Bland-Altman PNGs")


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _views(arg) -> list[str] | None:
    if not arg:
        return None
    return [v.strip() for item in arg for v in item.split(",") if v.strip()]


def evaluate_model(model_path, cache_dir, *, protocol: str | None = None, views=None, split: str = "auto",
                   batch_size: int = 8, device: str = "auto", providers="cpu") -> dict:
    """The evaluation record (what ``evaluate.json`` holds, without plots)."""
    from rppg_distill.evaluate.cache_views import cache_view_sets
    from rppg_distill.evaluate.model_file import load_model_file
    from rppg_distill.evaluate.views import evaluate_views

    if batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {batch_size}")
    mf = load_model_file(model_path, device=_device(device), providers=providers)
    sets, info = cache_view_sets(cache_dir, mf, split=split, views=views)
    proto = mf.protocol(protocol)
    per_view = evaluate_views(mf.model, sets, proto, label_transform=mf.label_transform, fs=mf.fs,
                              img_size=mf.img_size, device=None if mf.kind == "onnx" else _device(device),
                              batch_size=mf.batch_size or batch_size)
    return {"model": str(mf.path), "kind": mf.kind, "trainer": mf.trainer, "step": mf.step,
            "protocol": proto.as_dict(), "dataset": str(Path(cache_dir)), **info,
            "clips": {"clip_len": mf.clip_len, "img_size": mf.img_size, "transform": mf.transform,
                      "label_transform": mf.label_transform, "fs": mf.fs},
            "views": per_view}


def run(args: argparse.Namespace) -> int:
    from rppg_distill.data.atomic import atomic_write_text
    from rppg_distill.evaluate.tables import view_metrics_table

    record = evaluate_model(args.model, args.dataset, protocol=args.protocol, views=_views(args.views),
                            split=args.split, batch_size=args.batch_size, device=args.device,
                            providers=args.providers)
    model = Path(args.model)
    out = Path(args.out) if args.out else model.with_name(model.stem + "_eval")
    if not args.no_plots:
        from rppg_distill.evaluate.plots import bland_altman

        for view, r in record["views"].items():
            r["bland_altman"] = bland_altman(r["hr_pred"], r["hr_true"], out / f"bland_altman_{view}.png",
                                             title=f"{model.name}: {view} ({r['n']} clips)")
    path = atomic_write_text(out / "evaluate.json", json.dumps(record, indent=1))
    proto = record["protocol"]
    print(f"{record['model']} ({record['kind']}) on {record['dataset']}: {record['split']} split "
          f"({record['split_reason']}), {len(record['subjects'])} subject(s); protocol "
          f"{proto['name']} {proto['band'][0]:g}-{proto['band'][1]:g} Hz; clips of "
          f"{record['clips']['clip_len']} frames at {record['clips']['fs']:g} fps")
    print(view_metrics_table(record["views"]))
    for view, why in record["skipped"].items():
        print(f"  {view}: not evaluated ({why})")
    print(f"wrote {path}" + ("" if args.no_plots else f" and {len(record['views'])} Bland-Altman plot(s)"))
    return 0
