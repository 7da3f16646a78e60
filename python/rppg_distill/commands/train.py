"""`rppg-distill train CONFIG [--resume [--allow-config-change KEY ...]] [--set key=value ...]
[--lambda-sweep [0.1,0.5,1,2]]`: run a trainer from a YAML config."""

from __future__ import annotations

import argparse
import json
import sys

NAME = "train"
HELP = "train a cross-view (paper 1) or RPM-Distill (paper 2) model from a YAML config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config (see configs/)")
    parser.add_argument("--resume", action="store_true", help="continue from <out_dir>/.../checkpoints/last.pt")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted), e.g. --set loop.epochs=2; repeatable")
    parser.add_argument("--allow-config-change", dest="allow_changes", action="append", default=[],
                        metavar="KEY", help="with --resume: continue with a new value of this config "
                        "key (dotted, or a section); recorded in the run's config_changes.jsonl; repeatable")
    parser.add_argument("--lambda-sweep", nargs="?", const="", default=None, metavar="[L1,L2,...]",
                        help="cross-view (symmetric/asymmetric): train every seed at each PSD weight "
                        "lambda (default: the config's lambda_sweep) and print the table per lambda")
    parser.add_argument("--shift-sweep", nargs="?", const="0,0.2,0.4,0.6,0.8,1.0", default=None, metavar="P,P,...",
                        help="crossmodal: the radar-shift robustness experiment, gated vs w/o gate, for these "
                        "shift probabilities (default 0,0.2,...,1.0); resumable (finished runs are reused)")
    parser.add_argument("--workers", type=int, default=1,
                        help="with --shift-sweep: student runs in this many processes, one torch thread each")
    parser.add_argument("--seeds", default=None, metavar="S,S,...",
                        help="with --shift-sweep: the seeds (default: the config's seeds)")


def run(args: argparse.Namespace) -> int:
    from rppg_distill.train.config import ConfigError, load_config, save_config

    try:
        cfg = load_config(args.config, args.overrides)
        if args.lambda_sweep is not None:
            if not (cfg.trainer == "crossview" and cfg.scheme in ("symmetric", "asymmetric")):
                raise ConfigError(f"--lambda-sweep needs a cross-view config with scheme symmetric or "
                                  f"asymmetric, got trainer {cfg.trainer}"
                                  + (f", scheme {cfg.scheme}" if cfg.trainer == "crossview" else ""))
            cfg = load_config(args.config, args.overrides + _lambda_sweep_overrides(args.lambda_sweep))
    except ConfigError as err:
        print(f"rppg-distill train: config error: {err}", file=sys.stderr)
        return 2
    from pathlib import Path

    if args.allow_changes and not args.resume:
        print("rppg-distill train: --allow-config-change needs --resume", file=sys.stderr)
        return 2
    effective = Path(cfg.loop.out_dir) / "effective_config.yaml"
    if not (args.resume and effective.exists()):  # a refused resume keeps the config it ran with
        save_config(cfg, effective)
    from rppg_distill.train.loop import NonFiniteLossError, Resume, ResumeError

    allow = tuple(k.strip() for item in args.allow_changes for k in item.split(",") if k.strip())
    resume = Resume(allow) if args.resume else False
    try:
        if cfg.trainer == "crossview":
            from rppg_distill.train import crossview

            results = crossview.run_crossview(cfg, resume=resume)
            print(crossview.format_table(crossview.summarize(results)))
        else:
            from rppg_distill.train import crossmodal

            if args.shift_sweep is not None:
                from rppg_distill.train import shift_sweep as sweep

                try:
                    probs = sweep.parse_floats(args.shift_sweep)
                    seeds = [int(s) for s in sweep.parse_floats(args.seeds)] if args.seeds else None
                except ValueError as err:
                    print(f"rppg-distill train: --shift-sweep/--seeds: {err}", file=sys.stderr)
                    return 2
                print(sweep.format_shift_table(sweep.shift_sweep(cfg, probs, seeds, workers=args.workers)))
            else:
                for r in crossmodal.run_crossmodal(cfg, resume=resume):
                    print(json.dumps({"seed": r["seed"], **r["test"]}))
    except NonFiniteLossError as err:
        print(f"rppg-distill train: {err}", file=sys.stderr)
        return 3
    except ResumeError as err:
        print(f"rppg-distill train: {err}", file=sys.stderr)
        return 2
    except ConfigError as err:  # e.g. model.init_from does not fit the config
        print(f"rppg-distill train: config error: {err}", file=sys.stderr)
        return 2
    save_config(cfg, effective)
    return 0


def _lambda_sweep_overrides(value: str | None) -> list[str]:
    """``--lambda-sweep [LIST]`` as config overrides (checked like any other key): turn the
    sweep on, with the given weights ("0.1,0.5,1,2" or "[0.1, 0.5, 1, 2]") when there are some."""
    if value is None:
        return []
    out = ["run_lambda_sweep=true"]
    text = value.strip().strip("[]").strip()
    if text:
        out.append(f"lambda_sweep=[{text}]")
    return out
