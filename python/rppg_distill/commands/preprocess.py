"""`rppg-distill preprocess`: crop faces of a dataset into the uint8 clip cache."""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

NAME = "preprocess"
HELP = "detect and crop faces of a dataset into the clip cache (resumable, parallel)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True,
                        help="reader name in rppg_distill.data.readers (e.g. mcd_rppg, ubfc_rppg)")
    parser.add_argument("--root", required=True, help="dataset folder")
    parser.add_argument("--out", required=True, help="cache folder")
    parser.add_argument("--config", help="YAML/JSON with preprocess settings (and 'reader': {...})")
    parser.add_argument("--backend", choices=["haar", "mediapipe"], help="face backend")
    parser.add_argument("--model-path", help="face model file (mediapipe backend)")
    parser.add_argument("--size", type=int, help="crop side in pixels (default 72)")
    parser.add_argument("--detect-every", type=int, help="run the detector every N frames")
    parser.add_argument("--smoothing", choices=["median", "kalman", "none"])
    parser.add_argument("--coef", type=float, help="box enlargement (default 1.5)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="worker processes (0: in this process)")
    parser.add_argument("--prune", action="store_true", help="delete entries not in the dataset")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when any recording is flagged or skipped")
    parser.add_argument("--no-progress", action="store_true")


def _reader_reason(detail: str) -> str:
    d = detail.lower()
    if "0 bytes" in d or "empty" in d:
        return "empty"
    if "fps" in d:
        return "bad_fps"
    if "label" in d:
        return "label_mismatch"
    return "unreadable"


def _add_reader_skips(report, skipped: list, root: str) -> None:
    """Recordings the reader could not read go into the report like the worker's flagged ones."""
    from rppg_distill.data.cache.report import FlaggedRecording

    for name, detail in skipped:
        report.flagged.append(FlaggedRecording(str(name), str(root), _reader_reason(detail), detail))
    report.flagged.sort(key=lambda f: f.key)


def _load_config(path: str | None) -> dict:
    if not path:
        return {}
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text) or {}
    return json.loads(text)


def run(args: argparse.Namespace) -> int:
    from rppg_distill.data.cache import PreprocessSettings, preprocess

    cfg = _load_config(args.config)
    reader_cfg = cfg.pop("reader", {}) or {}
    settings = cfg.pop("preprocess", cfg)
    for opt, key in (("size", "size"), ("detect_every", "detect_every"),
                     ("smoothing", "smoothing"), ("coef", "coef"), ("backend", "backend")):
        if getattr(args, opt) is not None:
            settings[key] = getattr(args, opt)
    if args.model_path:
        settings.setdefault("backend_cfg", {})["model_path"] = args.model_path
    settings["workers"] = args.workers
    settings["progress"] = not args.no_progress
    s = PreprocessSettings.from_dict(settings)
    from rppg_distill.data.readers import get_reader

    try:
        read = get_reader(args.dataset)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    skipped: list = []  # (name, reason) of recordings the reader could not read
    reader_cfg.setdefault("on_error", "skip")
    if reader_cfg["on_error"] == "skip":
        reader_cfg["skipped"] = skipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # each skip is reported below, with the others
        records = read(args.root, **reader_cfg)
    if not records:
        print(f"error: the {args.dataset} reader found no readable recordings in {args.root}"
              + "".join(f"\n  SKIPPED: {name}: {why}" for name, why in skipped))
        return 2
    report = preprocess(records, args.out, s, prune=args.prune)
    if skipped:
        _add_reader_skips(report, skipped, args.root)
        report.save(Path(args.out))
    print(report.summary())
    print(f"report: {Path(args.out) / 'report.json'}")
    return 1 if (args.strict and report.flagged) else 0
