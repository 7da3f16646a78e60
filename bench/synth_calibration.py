"""Calibration table of the synthetic generator's views: POS and cam2-only, frontal vs side, chance.

The targets (issue 10 §1; MCD-rPPG paper ratios) in the demo setting
(``configs/crossview-cam2-only-synthetic.yaml``: 6 subjects x 2 states x 20 s, 192 px, 72x72
cached crops, 24x24 model input, T = 90 clips):

* POS (classical, no training): frontal MAE < 5 bpm, side-average MAE 2-4x frontal (paper 2.9x);
* cam2-only (EfficientPhys-C trained on the frontal view only): frontal and side well below
  chance level, side/frontal 1.5-3x (paper 1.8x).

What it does, per generator seed: generate the demo set into ``OUT/data-seed<S>`` (reused when it
exists), build the clip cache (``train.data.crossview_datasets``, the trainers' path) and run POS
on every cached recording through ``evaluate.evaluate_classical`` (the ``rppg-distill
evaluate-classical`` path, HR windows of ``--window`` s). With ``--train-seeds N`` it trains
cam2-only on the first generator seed's set over N seeds (``train.crossview.run_crossview``) and
reads chance level from the test clips' true HRs (``evaluate.chance_level``). Writes
``OUT/calibration_<tag>.json`` and ``.md``.

    python bench/synth_calibration.py --tag before --gen-seeds 0,1              # POS only
    python bench/synth_calibration.py --tag after --gen-seeds 0,1 --train-seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, loadavg, metadata, write_json

SIDES = ("side_left", "side_right")


def log(msg: str) -> None:
    print(f"[calib {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_cfg(config: Path, root: Path, out_dir: Path, seeds: list[int], overrides=()):
    from rppg_distill.train.config import load_config

    return load_config(config, [f"data.root={root}", "loop.progress=false", "loop.num_threads=1",
                                f"loop.out_dir={out_dir}", f"seeds={seeds}", *overrides])


def ensure_data(cfg, gen_seed: int, fresh: bool):
    """Generate the demo set with ``gen_seed`` (unless present) and build the cache: the trainers'
    (train pairs, {view: test clips}) and the cache itself."""
    import shutil

    from rppg_distill.data.cache import ClipCache
    from rppg_distill.data.synthetic import generate
    from rppg_distill.train.data import crossview_datasets

    root = Path(cfg.data.root)
    if fresh and root.exists():
        shutil.rmtree(root)
    if not (root / "synth_manifest.json").exists():
        log(f"generating seed {gen_seed}: {cfg.data.n_subjects} subjects x {cfg.data.seconds:g} s -> {root}")
        t0 = time.perf_counter()
        kwargs = dict(cfg.data.synth_kwargs)
        kwargs["formats"] = ("mcd_rppg",)
        generate(root, n_subjects=cfg.data.n_subjects, seed=gen_seed, duration_s=cfg.data.seconds, **kwargs)
        log(f"generated in {time.perf_counter() - t0:.0f} s")
    manifest = json.loads((root / "synth_manifest.json").read_text())
    if manifest["config"]["seed"] != gen_seed:
        raise SystemExit(f"error: {root} holds generator seed {manifest['config']['seed']}, not {gen_seed}; "
                         "pass --fresh or another --out")
    t0 = time.perf_counter()
    data = crossview_datasets(cfg.data, log=log)
    log(f"cache ready in {time.perf_counter() - t0:.0f} s")
    return data, ClipCache(Path(cfg.data.cache_dir or root / "cache")), manifest


def pos_per_view(cache, window_s: float, method: str) -> dict:
    """{view: hr_metrics of POS over every cached recording's HR windows} + the windows' true HRs."""
    from rppg_distill.evaluate import evaluate_classical, summarize

    entries = [cache[k] for k in cache.keys("usable")]
    rows, skipped = evaluate_classical(entries, (method,), window_s=window_s, on_error="skip")
    out = {v: {k: m[k] for k in ("n", "mae", "rmse", "pearson")} for v, m in summarize(rows, by="view").items()}
    out["side_avg_mae"] = float(np.mean([out[v]["mae"] for v in SIDES if v in out]))
    out["hr_true"] = [r["hr_gt"] for r in rows if r["view"] == "frontal"]
    out["skipped"] = skipped
    return out


def cam2_only(cfg, data) -> dict:
    """Train cam2-only over ``cfg.seeds``; per seed frontal / per side view / side-average MAE."""
    from rppg_distill.train.crossview import run_crossview

    cfg = dataclasses.replace(cfg, scheme="cam2-only")
    runs = run_crossview(cfg, data=data, log=log)
    per_seed = []
    for r in runs:
        v = r["views"]
        row = {"seed": r["seed"], **{name: v[name]["mae"] for name in v}}
        row["side_avg"] = float(np.mean([v[s]["mae"] for s in SIDES if s in v]))
        per_seed.append(row)
    hr_true = {name: d["hr_true"] for name, d in runs[0]["views"].items()}
    return {"per_seed": per_seed, "hr_true": hr_true}


def mean_std(x) -> tuple[float, float]:
    a = np.asarray(x, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def build_table(res: dict) -> tuple[dict, str]:
    """Summary dict and the Markdown calibration table."""
    from rppg_distill.evaluate import chance_level

    s: dict = {"pos": {}, "cam2_only": None}
    lines = [f"# Synthetic view calibration ({res['tag']})", "",
             f"{res['meta']['time_utc']}, commit {res['meta']['commit'][:10]}"
             f"{' (dirty)' if res['meta']['dirty_tree'] else ''}, load average {res['meta']['loadavg_start']} -> "
             f"{res['loadavg_end']}", "",
             f"## POS ({res['window_s']:g} s windows, every recording; MAE bpm)", "",
             "| generator seed | frontal | side_left | side_right | side avg | side/frontal | chance (windows) |",
             "|---|---|---|---|---|---|---|"]
    for seed, p in res["pos"].items():
        ch = chance_level(p["hr_true"])["chance_mae"]
        ratio = p["side_avg_mae"] / max(p["frontal"]["mae"], 1e-9)
        s["pos"][seed] = {"frontal": p["frontal"]["mae"], "side_left": p["side_left"]["mae"],
                          "side_right": p["side_right"]["mae"], "side_avg": p["side_avg_mae"],
                          "ratio": ratio, "chance": ch}
        lines.append(f"| {seed} | {p['frontal']['mae']:.2f} | {p['side_left']['mae']:.2f} | "
                     f"{p['side_right']['mae']:.2f} | {p['side_avg_mae']:.2f} | {ratio:.2f}x | {ch:.2f} |")
    if res.get("cam2_only"):
        c = res["cam2_only"]
        ch = {v: chance_level(h) for v, h in c["hr_true"].items()}
        f = mean_std([r["frontal"] for r in c["per_seed"]])
        sl = mean_std([r["side_left"] for r in c["per_seed"]])
        sr = mean_std([r["side_right"] for r in c["per_seed"]])
        sa = mean_std([r["side_avg"] for r in c["per_seed"]])
        ratios = [r["side_avg"] / max(r["frontal"], 1e-9) for r in c["per_seed"]]
        s["cam2_only"] = {"frontal": f, "side_left": sl, "side_right": sr, "side_avg": sa,
                          "ratio": sa[0] / max(f[0], 1e-9), "ratio_per_seed": ratios,
                          "chance": dict(ch), "seeds": len(c["per_seed"]),
                          "generator_seed": res["train_gen_seed"]}
        cf = ch["frontal"]
        lines += ["", f"## cam2-only (EfficientPhys-C trained on the frontal view; generator seed "
                      f"{res['train_gen_seed']}, {len(c['per_seed'])} training seeds; test clips' MAE bpm, "
                      "mean ± std)", "",
                  "| frontal | side_left | side_right | side avg | side/frontal | chance (constant / shuffled) |",
                  "|---|---|---|---|---|---|",
                  f"| {f[0]:.2f} ± {f[1]:.2f} | {sl[0]:.2f} ± {sl[1]:.2f} | {sr[0]:.2f} ± {sr[1]:.2f} | "
                  f"{sa[0]:.2f} ± {sa[1]:.2f} | {s['cam2_only']['ratio']:.2f}x | "
                  f"**{cf['chance_mae']:.2f}** ({cf['constant_mae']:.2f} / {cf['shuffled_mae']:.2f}, "
                  f"n = {cf['n']}) |", "",
                  "Per seed: " + "; ".join(f"seed {r['seed']}: frontal {r['frontal']:.2f}, side "
                                           f"{r['side_avg']:.2f}" for r in c["per_seed"])]
    return s, "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "synth_calibration"),
                    help="folder for the data sets, runs and the table")
    ap.add_argument("--tag", default="current", help="name of this measurement (before, after, ...)")
    ap.add_argument("--gen-seeds", default="0,1", help="comma list of generator seeds (POS on each)")
    ap.add_argument("--train-seeds", type=int, default=0,
                    help="train cam2-only over this many seeds on the first generator seed's set (0: POS only)")
    ap.add_argument("--config", default=str(ROOT / "configs" / "crossview-cam2-only-synthetic.yaml"))
    ap.add_argument("--window", type=float, default=10.0, help="POS HR window (s)")
    ap.add_argument("--method", default="pos", help="classical method (default pos)")
    ap.add_argument("--fresh", action="store_true", help="regenerate the data sets even when present")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. 'data.synth_kwargs={head_yaw_deg: 30}' (repeatable)")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    gen_seeds = [int(x) for x in args.gen_seeds.split(",") if x.strip()]
    meta = metadata(argv=sys.argv[1:])
    log(f"load average {loadavg()}; generator seeds {gen_seeds}; cam2-only seeds {args.train_seeds}")
    res: dict = {"tag": args.tag, "window_s": args.window, "gen_seeds": gen_seeds, "pos": {}, "meta": meta,
                 "train_gen_seed": gen_seeds[0]}
    for i, gs in enumerate(gen_seeds):
        cfg = load_cfg(Path(args.config), out / f"data-seed{gs}", out / "runs" / f"{args.tag}-gen{gs}",
                       list(range(max(args.train_seeds, 1))), args.overrides)
        data, cache, manifest = ensure_data(cfg, gs, args.fresh)
        res.setdefault("fitzpatrick", {})[gs] = sorted({(r["subject"], r.get("fitzpatrick")) for r in
                                                        manifest["recordings"]})
        t0 = time.perf_counter()
        res["pos"][gs] = pos_per_view(cache, args.window, args.method)
        p = res["pos"][gs]
        log(f"{args.method} seed {gs} ({time.perf_counter() - t0:.0f} s): frontal {p['frontal']['mae']:.2f}, "
            f"side_left {p['side_left']['mae']:.2f}, side_right {p['side_right']['mae']:.2f} bpm")
        if i == 0 and args.train_seeds > 0:
            t0 = time.perf_counter()
            res["cam2_only"] = cam2_only(cfg, data)
            res["train_seconds"] = time.perf_counter() - t0
            for r in res["cam2_only"]["per_seed"]:
                log(f"cam2-only seed {r['seed']}: frontal {r['frontal']:.2f}, side avg {r['side_avg']:.2f} bpm")
    res["loadavg_end"] = loadavg()
    res["summary"], md = build_table(res)
    print(md)
    write_json(out / f"calibration_{args.tag}.json", res)
    (out / f"calibration_{args.tag}.md").write_text(md)
    log(f"wrote {out / f'calibration_{args.tag}.json'} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
