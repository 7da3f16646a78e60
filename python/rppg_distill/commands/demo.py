"""`rppg-distill demo`: synthetic multi-view + radar set -> cache -> cam2-only and B' (3 seeds) ->
per-view Table 1, and a short RPM-Distill student; writes a report folder and stage times."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

NAME = "demo"
HELP = "end-to-end demo on the built-in synthetic data (train cam2-only vs B', RPM-Distill, report)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="rppg-distill-demo", help="report folder (default: ./rppg-distill-demo)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--no-crossmodal", action="store_true")


def run(args: argparse.Namespace) -> int:
    from rppg_distill.train import crossview, crossmodal
    from rppg_distill.train.config import load_config, save_config
    from rppg_distill.train.data import crossmodal_datasets, crossview_datasets

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg_dir = Path(__file__).resolve().parents[3] / "configs"
    times: dict[str, float] = {}
    t0 = time.time()

    def stage(name):
        times[name] = time.time() - t0 - sum(times.values())
        print(f"[demo] {name}: {times[name]:.1f} s")

    base = load_config(cfg_dir / "crossview-asymmetric-synthetic.yaml",
                       [f"data.root={out / 'data'}", f"loop.epochs={args.epochs}", "loop.progress=false",
                        f"seeds={list(range(args.seeds))}"])
    data = crossview_datasets(base.data)
    stage("generate + preprocess")
    results = []
    for scheme in ("cam2-only", "asymmetric"):
        c = dataclasses.replace(base, scheme=scheme,
                                loop=dataclasses.replace(base.loop, out_dir=str(out / "runs" / scheme)))
        save_config(c, out / "runs" / scheme / "config.yaml")
        results += crossview.run_crossview(c, data=data)
        stage(f"train {scheme}")
    summary = crossview.summarize(results)
    table = crossview.format_table(summary)
    print(table)
    (out / "table1.txt").write_text(table + "\n")
    (out / "crossview_summary.json").write_text(json.dumps(summary, indent=1))
    if not args.no_crossmodal:
        cm = load_config(cfg_dir / "crossmodal-rpm-distill-synthetic.yaml",
                         [f"data.root={out / 'data'}", "loop.epochs=1", "loop.progress=false",
                          f"loop.out_dir={out / 'runs' / 'rpm-distill'}"])
        res = crossmodal.run_crossmodal(cm, data=crossmodal_datasets(cm.data))
        (out / "rpm_distill.json").write_text(json.dumps(res, indent=1))
        print("[demo] RPM-Distill student:", json.dumps(res[0]["test"]))
        stage("train RPM-Distill")
    try:
        from rppg_distill import deploy  # noqa: F401
        from rppg_distill.deploy.export import export_onnx  # type: ignore[attr-defined]
    except Exception as err:  # the deployment room is optional here
        print(f"[demo] ONNX export skipped ({err})")
    else:
        ck = results[-1]["checkpoint"]
        try:
            export_onnx(ck, out / "student.onnx")
            stage("export ONNX")
        except Exception as err:
            print(f"[demo] ONNX export failed: {err}")
    (out / "stage_times.json").write_text(json.dumps(times, indent=1))
    print(f"[demo] total {time.time() - t0:.1f} s; report in {out}")
    return 0
