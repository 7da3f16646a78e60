"""`rppg-distill evaluate-classical`: run classical rPPG methods on a dataset, print a per-view table.

Two ways in:
- ``--dataset DIR --format mcd_rppg`` reads the dataset with ``data.readers.get_reader(format)``
  (aliases such as ``mcd`` work), crops faces into the clip cache (``--cache``, default a
  temporary folder) and evaluates;
- ``--dataset CACHE_DIR`` without ``--format`` evaluates an existing clip cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

NAME = "evaluate-classical"
HELP = "run classical methods (POS, CHROM, ...) on a dataset and print a per-view HR table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True,
                        help="dataset folder (with --format) or an existing clip-cache folder")
    parser.add_argument("--method", default="pos",
                        help="comma-separated methods: pos, chrom, pbv, green, ica, lgi, or 'all'")
    parser.add_argument("--format", dest="fmt",
                        help="dataset reader (mcd_rppg, ubfc_rppg, pure, equipleth, ...); omit "
                             "when --dataset is a clip cache")
    parser.add_argument("--cache", help="clip-cache folder to build/reuse (default: a temporary one)")
    parser.add_argument("--protocol", default="crossview", choices=["crossview", "rpm_distill"],
                        help="HR protocol (crossview: FFT peak 0.5-3 Hz; rpm_distill: Butterworth "
                             "6 + periodogram 0.75-3 Hz)")
    parser.add_argument("--window", type=float, default=20.0, help="HR window in seconds (0: whole video)")
    parser.add_argument("--stride", type=float, default=None, help="window stride in seconds")
    parser.add_argument("--skin-mask", action="store_true", help="average YCrCb skin pixels only")
    parser.add_argument("--metric", default="mae",
                        choices=["mae", "rmse", "mape", "pearson", "std", "snr_db", "concentration"])
    parser.add_argument("--table-format", default="text", choices=["text", "markdown", "csv"])
    parser.add_argument("--backend", default="haar", help="face backend when building the cache")
    parser.add_argument("--workers", type=int, default=0, help="preprocessing worker processes")
    parser.add_argument("--json", dest="json_out", help="write window rows and summaries to this JSON")


def _entries_from_dataset(args) -> tuple[list, list[str]]:
    from rppg_distill.data.cache import ClipCache, preprocess
    from rppg_distill.data.readers import get_reader

    try:
        read = get_reader(args.fmt)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    records = read(args.dataset)
    if not records:
        raise SystemExit(f"error: the {args.fmt} reader found no recordings in {args.dataset}")
    cache_dir = args.cache
    report = preprocess(records, cache_dir, {"backend": args.backend, "workers": args.workers,
                                             "progress": False})
    notes = [f"  {f.key}: {f.reason} ({f.detail})" for f in report.flagged]
    cache = ClipCache(cache_dir)
    return [cache[k] for k in cache.keys("usable")], notes


def run(args: argparse.Namespace) -> int:
    from rppg_distill.classical import METHODS

    methods = sorted(METHODS) if args.method == "all" else [m.strip().lower()
                                                             for m in args.method.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        print(f"error: unknown method(s) {unknown}; known: {sorted(METHODS)}", file=sys.stderr)
        return 2
    if not Path(args.dataset).is_dir():
        print(f"error: dataset folder not found: {args.dataset}", file=sys.stderr)
        return 2
    if args.fmt and not args.cache:  # temporary cache, removed after the run
        with tempfile.TemporaryDirectory(prefix="rppg_classical_cache_") as tmp:
            args.cache = tmp
            try:
                return _evaluate(args, methods, *_entries_from_dataset(args))
            finally:
                args.cache = None
    if args.fmt:
        entries, notes = _entries_from_dataset(args)
    else:
        from rppg_distill.data.cache import ClipCache

        cache = ClipCache(args.dataset)
        entries, notes = [cache[k] for k in cache.keys("usable")], []
        if not entries:
            print(f"error: {args.dataset} holds no usable cache entries; pass --format to read a "
                  "dataset", file=sys.stderr)
            return 2
    return _evaluate(args, methods, entries, notes)


def _evaluate(args, methods, entries, notes) -> int:
    from rppg_distill.evaluate import classical_table, evaluate_classical, summarize

    rows, skipped = evaluate_classical(entries, methods, protocol=args.protocol,
                                       window_s=args.window or None, stride_s=args.stride,
                                       skin_mask="ycrcb" if args.skin_mask else None, on_error="skip")
    if not rows:
        print("error: no labelled clip could be evaluated", file=sys.stderr)
        for key, why in skipped:
            print(f"  skipped {key}: {why}", file=sys.stderr)
        return 1
    n_rec = len({r["key"] for r in rows})
    print(f"{', '.join(methods)} on {n_rec} recordings, {len(rows) // len(methods)} windows "
          f"({args.protocol} protocol, {args.window or 'whole-video'} s windows), HR {args.metric}:")
    print(classical_table(rows, value=args.metric).render(args.table_format), end="")
    for key, why in skipped:
        print(f"skipped {key}: {why}")
    if notes:
        print("preprocessing flagged:\n" + "\n".join(notes))
    if args.json_out:
        summ = {f"{m}/{v}": s for (m, v), s in summarize(rows, by=("method", "view")).items()}
        Path(args.json_out).write_text(json.dumps({"rows": rows, "summary": summ,
                                                   "skipped": skipped}, indent=1))
    return 0
