"""`rppg-distill demo`: the SDK's main job on the built-in synthetic data, with a report.

Stages (each with a progress bar and its time on the console, in ``stage_times.json`` and the report):

1. generate the seeded synthetic multi-view (MCD-rPPG layout) + radar (EquiPleth layout) set;
2. preprocess it into the clip cache (face detection, 72x72 crops; trainers resize);
3. train the cross-view schemes over the seeds and evaluate each per camera: by default cam2-only,
   A+ (pooled views + augmentation) and B' (asymmetric PSD distillation); ``--full`` adds
   side-only and B (symmetric). Table 1 with the chance level of the test HRs, the seed spread
   and the paired Wilcoxon test of B' vs A+ on side-view PSD peak concentration;
4. RPM-Distill: the radar-shift robustness sweep, gated vs ungated student;
5. export the B' student (seed 0) to ONNX with its deployment contract and an int8 copy;
6. run the exported student through the streaming runtime on a held-out generator video;
7. ``report.md`` + ``report.png``: what a reader needs without the code.

Runs are independent (each seeds itself), so they go to ``--workers`` processes with one torch
thread each (``train.run_pool``). Demo settings (documented, not the papers'): the
``configs/*-synthetic.yaml`` files. The papers' settings stay in the non-synthetic configs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = "demo"
HELP = "end-to-end demo on the built-in synthetic data (Table 1, paired test, RPM shift sweep, report)"

SCHEMES = ("cam2-only", "pooled-aug", "asymmetric")
FULL_SCHEMES = ("cam2-only", "side-only", "pooled-aug", "symmetric", "asymmetric")
DEMO_SHIFT_PROBS = (0.0, 0.5, 1.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="rppg-distill-demo", help="report folder (default: ./rppg-distill-demo)")
    parser.add_argument("--full", action="store_true",
                        help="all five cross-view schemes and the full RPM shift sweep (0, 0.2, ..., 1; 3 seeds)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cross-view scheme (default 3)")
    parser.add_argument("--steps", type=int, default=None,
                        help="optimizer steps per cross-view run (default: the config's loop.max_steps)")
    parser.add_argument("--schemes", default=None,
                        help=f"comma list of cross-view schemes (default {','.join(SCHEMES)}; "
                             f"--full: {','.join(FULL_SCHEMES)})")
    parser.add_argument("--subjects", type=int, default=None, help="synthetic subjects (default: the config's)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per recording (default: the config's)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                        help="training processes, one torch thread each (default: min(2, CPUs))")
    parser.add_argument("--rpm-epochs", type=int, default=None, help="RPM-Distill student epochs (default: config)")
    parser.add_argument("--shift-probs", default=None,
                        help="radar-shift probabilities of the RPM sweep (default 0,0.5,1; --full 0,0.2,...,1)")
    parser.add_argument("--rpm-seeds", type=int, default=None, help="seeds per RPM sweep point (default 1; --full 3)")
    parser.add_argument("--no-crossmodal", action="store_true", help="skip RPM-Distill")
    parser.add_argument("--no-export", action="store_true", help="skip ONNX export and the runtime check")
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 model")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the cross-view configs (e.g. data.img_size=16); repeatable")
    parser.add_argument("--set-rpm", dest="rpm_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the RPM-Distill config; repeatable")


class _Stages:
    def __init__(self, out: Path):
        self.out, self.times, self.t0 = out, {}, time.time()
        self._last = self.t0

    def done(self, name: str) -> None:
        now = time.time()
        self.times[name] = now - self._last
        self._last = now
        print(f"[demo] {name}: {self.times[name]:.1f} s", flush=True)
        self.save()

    def save(self) -> None:
        d = dict(self.times)
        d["total"] = time.time() - self.t0
        (self.out / "stage_times.json").write_text(json.dumps(d, indent=1))


def _config_dir() -> Path:
    """The shipped configs: inside the installed package (a wheel install), else the source
    checkout's top-level configs/ (an editable install)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "configs", package.parents[1] / "configs"):
        if (candidate / "crossview-asymmetric-synthetic.yaml").is_file():
            return candidate
    raise FileNotFoundError(f"the bundled configs are missing (looked in {package / 'configs'} and "
                            f"{package.parents[1] / 'configs'}); reinstall rppg-distill")


def _crossview_check(summary: dict) -> dict:
    """Each scheme against cam2-only: side and frontal MAE differences (mean over seeds)."""
    t = summary["table"]
    out: dict = {}
    if "cam2-only" in t:
        base = t["cam2-only"]
        for name, r in t.items():
            if name == "cam2-only" or "side" not in r:
                continue
            out[name] = {
                "side_mae_delta": r["side"][0] - base["side"][0],
                "frontal_mae_delta": r["frontal"][0] - base["frontal"][0] if "frontal" in r else None,
                "lowers_side": bool(r["side"][0] < base["side"][0]),
                "frontal_within_0.5": bool("frontal" in r and r["frontal"][0] <= base["frontal"][0] + 0.5),
            }
    return out


def export_student(checkpoint: Path, cfg, out_path: Path, calib=None) -> dict:
    """Export the trained student with the contract its checkpoint's config gives
    (``deploy.export.export_checkpoint``: the same path as ``rppg-distill export``)."""
    from rppg_distill.deploy.export import export_checkpoint

    rep = export_checkpoint(checkpoint, out_path, batch="dynamic", parity_clips=calib)
    return {"path": str(rep.path), "exporter": rep.exporter, "opset": rep.opset,
            "parity": rep.parity, "contract": rep.contract.to_dict()}


def runtime_hr_mae(model_path: Path, video: Path, truth_bvp, fs: float, band, window_s: float = 10.0) -> dict:
    """Stream ``video`` through the runtime Monitor; HR MAE vs the generator's pulse, 10 s windows.

    At every model update with a valid HR at time t, the truth is the spectral peak (same band,
    0.1 bpm grid) of the generator's PPG over [t - window_s, t]."""
    import numpy as np

    from rppg_distill.data.video_io import iter_video
    from rppg_distill.deploy.runtime.monitor import Monitor, MonitorConfig
    from rppg_distill.signal import hr_fft

    t0 = time.time()
    mon = Monitor(str(model_path), MonitorConfig(hr_window_s=window_s))
    truth = np.asarray(truth_bvp, np.float64)
    n_win = int(round(window_s * fs))
    rows = []
    frames = 0
    for frame, t in iter_video(video):
        frames += 1
        r = mon.push(frame, t)
        if not (r.updated and r.valid):
            continue
        end = int(round(t * fs)) + 1
        if end < n_win or end > len(truth):
            continue
        hr_true = float(np.atleast_1d(hr_fft(truth[end - n_win:end], fs, band=band, resolution_bpm=0.1))[0])
        rows.append({"t": float(t), "hr": float(r.hr_bpm), "truth": hr_true, "confident": bool(r.confident)})
    err = np.array([abs(x["hr"] - x["truth"]) for x in rows]) if rows else np.array([np.nan])
    secs = time.time() - t0
    return {"model": str(model_path), "video": str(video), "n_windows": len(rows),
            "mae_bpm": float(np.mean(err)), "rmse_bpm": float(np.sqrt(np.mean(err ** 2))),
            "frames": frames, "seconds": secs, "fps": frames / max(secs, 1e-9), "estimates": rows}


@dataclass
class _Demo:
    """What the stages share: the arguments, the output folder, the configs and the report."""

    args: argparse.Namespace
    out: Path
    stages: _Stages
    common: list[str]            # --set overrides every config of the demo gets
    base: Any                    # the cross-view config (CrossViewConfig)
    report: dict = field(default_factory=dict)
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])

    @property
    def data_root(self) -> Path:
        return self.out / "data"


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    demo = _setup(args)
    _generate(demo)
    cv_data, cm, cm_data = _preprocess(demo)
    results = _train_crossview(demo)
    if cm is not None:
        _train_rpm_distill(demo, cm, cm_data)
    if not args.no_export:
        _export_and_run(demo, results)
    _write_reports(demo)
    return 0


def _schemes(args: argparse.Namespace) -> list[str]:
    if args.schemes:
        return [s.strip() for s in args.schemes.split(",") if s.strip()]
    return list(FULL_SCHEMES if args.full else SCHEMES)


def _setup(args: argparse.Namespace) -> _Demo:
    """Output folder, the overrides shared by every config, and the cross-view base config."""
    from rppg_distill.train.config import load_config

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    common = [f"data.root={out / 'data'}", "loop.progress=false", "loop.num_threads=1"]
    if args.subjects:
        common.append(f"data.n_subjects={args.subjects}")
    if args.seconds:
        common.append(f"data.seconds={args.seconds}")
    cv_over = common + [f"seeds={list(range(args.seeds))}"] + list(args.overrides)
    if args.steps is not None:
        cv_over.append(f"loop.max_steps={args.steps}")
    base = load_config(_config_dir() / "crossview-asymmetric-synthetic.yaml", cv_over)
    report = {"settings": {"seeds": args.seeds, "workers": args.workers, "full": bool(args.full),
                           "schemes": _schemes(args), "crossview_config": dataclasses.asdict(base)}}
    return _Demo(args, out, _Stages(out), common, base, report)


def _generate(demo: _Demo) -> None:
    """Stage 1: both layouts in one pass (MCD-rPPG multi-view video, EquiPleth video + radar)."""
    if not (demo.data_root / "synth_manifest.json").exists():
        from rppg_distill.data.synthetic import generate

        d = demo.base.data
        fmts = ("mcd_rppg",) if demo.args.no_crossmodal else ("mcd_rppg", "equipleth")
        print(f"[demo] generating {d.n_subjects} subjects x {d.seconds:g} s into {demo.data_root}", flush=True)
        generate(demo.data_root, n_subjects=d.n_subjects, seed=d.split_seed, duration_s=d.seconds,
                 formats=fmts, progress=True, **d.synth_kwargs)
    demo.stages.done("generate")


def _preprocess(demo: _Demo):
    """Stage 2: face crops into the clip cache; (cross-view data, RPM config or None, RPM data)."""
    from rppg_distill.train.config import load_config
    from rppg_distill.train.data import crossmodal_datasets, crossview_datasets

    data = crossview_datasets(demo.base.data, workers=demo.args.workers, progress=True)
    cm = cm_data = None
    if not demo.args.no_crossmodal:
        rpm_over = demo.common + list(demo.args.rpm_overrides) + [f"loop.out_dir={demo.out / 'runs' / 'rpm-distill'}"]
        if demo.args.rpm_epochs is not None:
            rpm_over.append(f"loop.epochs={demo.args.rpm_epochs}")
        cm = load_config(_config_dir() / "crossmodal-rpm-distill-synthetic.yaml", rpm_over)
        cm_data = crossmodal_datasets(cm.data, workers=demo.args.workers, progress=True)
    demo.stages.done("preprocess")
    return data, cm, cm_data


def _train_crossview(demo: _Demo) -> list[dict]:
    """Stage 3: every cross-view scheme x seed (in ``--workers`` processes); Table 1, chance level,
    the B' vs A+ Wilcoxon test."""
    from rppg_distill.commands.demo_jobs import crossview_run
    from rppg_distill.train import crossview
    from rppg_distill.train.config import save_config
    from rppg_distill.train.run_pool import run_jobs

    schemes = _schemes(demo.args)
    jobs, names = [], []
    for scheme in schemes:
        run_dir = demo.out / "runs" / scheme
        c = dataclasses.replace(demo.base, scheme=scheme,
                                loop=dataclasses.replace(demo.base.loop, out_dir=str(run_dir)))
        save_config(c, run_dir / "config.yaml")
        for seed in c.seeds:
            jobs.append(functools.partial(crossview_run, c, seed, str(run_dir / f"seed{seed}")))
            names.append(f"{scheme} seed {seed}")
    print(f"[demo] cross-view: {len(jobs)} runs ({', '.join(schemes)} x {len(demo.base.seeds)} seeds) "
          f"in {demo.args.workers} process(es)", flush=True)
    results = run_jobs(jobs, workers=demo.args.workers, desc="cross-view runs", names=names)
    summary = crossview.summarize(results)
    summary["check"] = _crossview_check(summary)
    summary["chance"] = chance_per_view(results)
    table = crossview.format_table(summary)
    print(table)
    print(format_chance(summary["chance"]))
    (demo.out / "table1.txt").write_text(table + "\n" + format_chance(summary["chance"]) + "\n")
    (demo.out / "crossview_summary.json").write_text(json.dumps(summary, indent=1))
    (demo.out / "crossview_results.json").write_text(json.dumps(results, indent=1))
    demo.report["crossview"] = summary
    demo.stages.done(f"train+eval cross-view ({len(jobs)} runs)")
    return results


def chance_per_view(results: list[dict]) -> dict:
    """Chance level of the test HRs per view and for the side views pooled
    (``evaluate.chance.chance_level``: the better of a constant and a shuffled-HR predictor).
    Every run evaluates the same test clips, so the first run of each view gives the HRs."""
    from rppg_distill.evaluate.chance import chance_level

    hr: dict[str, list[float]] = {}
    for v, d in results[0]["views"].items():
        hr[v] = list(d["hr_true"])
    out = {v: chance_level(h) for v, h in hr.items()}
    side = [x for v, h in hr.items() if v != "frontal" for x in h]
    if side:
        out["side"] = chance_level(side)
    return out


def format_chance(chance: dict) -> str:
    cells = ", ".join(f"{v} {c['chance_mae']:.2f}" for v, c in chance.items())
    return f"Chance level (HR MAE, bpm, of the better video-blind predictor): {cells}"


def _train_rpm_distill(demo: _Demo, cm, cm_data) -> None:
    """Stage 4: RPM-Distill's radar-shift sweep, gated vs ungated (``train.shift_sweep``; the
    teacher once per seed, the students in ``--workers`` processes)."""
    from rppg_distill.train import shift_sweep as sweep

    args = demo.args
    probs = sweep.parse_floats(args.shift_probs) if args.shift_probs else \
        list(sweep.PAPER_PROBS if args.full else DEMO_SHIFT_PROBS)
    seeds = list(range(args.rpm_seeds if args.rpm_seeds else (3 if args.full else 1)))
    print(f"[demo] RPM-Distill shift sweep: p = {', '.join(f'{p:g}' for p in probs)} x gated/ungated x "
          f"{len(seeds)} seed(s) in {args.workers} process(es)", flush=True)
    res = sweep.shift_sweep(cm, probs, seeds, data=cm_data, workers=args.workers,
                            log=lambda s: print(s, flush=True))
    table = sweep.format_shift_table(res)
    print(table, flush=True)
    (demo.out / "rpm_shift_sweep.txt").write_text(table + "\n")
    demo.report["rpm_sweep"] = {name: {p: [v["mae"]["mean"], v["mae"]["std"], v["mae"]["n"]] for p, v in rows.items()}
                                for name, rows in res["summary"].items()}
    demo.report["rpm_sweep_chance"] = res.get("chance_mae")
    demo.report["rpm_sweep_runs"] = [{k: r[k] for k in ("variant", "p", "seed", "test", "gate_mean", "radar_shift")}
                                     for r in res["runs"]]
    demo.stages.done(f"train+eval RPM-Distill shift sweep ({len(res['runs'])} runs)")


def _export_and_run(demo: _Demo, results: list[dict]) -> None:
    """Stages 5-6: export the B' student (else any trained one) and stream a test video through it."""
    pick = [r for r in results if r["scheme"] == "asymmetric" and r["checkpoint"]] or \
           [r for r in results if r["checkpoint"]]
    if not pick:
        return
    models = _export_stage(demo, pick[0])
    _runtime_stage(demo, models)


def _export_stage(demo: _Demo, src: dict) -> dict[str, Path]:
    """Stage 5: ONNX with its contract, and an int8 copy calibrated on cached clips."""
    base, out = demo.base, demo.out
    cfg = dataclasses.replace(base, scheme=src["scheme"])
    onnx_path = out / "student.onnx"
    exp = export_student(Path(src["checkpoint"]), cfg, onnx_path)
    exp["scheme"], exp["seed"] = src["scheme"], src["seed"]
    demo.report["export"] = exp
    print(f"[demo] exported {src['scheme']} seed {src['seed']} -> {onnx_path} ({exp['exporter']}, "
          f"parity {json.dumps(exp['parity'])})", flush=True)
    models = {"fp32": onnx_path}
    if not demo.args.no_int8:
        try:
            from rppg_distill.deploy.contract import Contract
            from rppg_distill.deploy.precision import clips_from_cache, to_int8

            contract = Contract.from_dict(exp["contract"])
            cache_dir = Path(base.data.cache_dir or Path(base.data.root) / "cache")
            calib = clips_from_cache(cache_dir, contract, max_clips=32, stride=contract.frames)
            models["int8"] = to_int8(onnx_path, out / "student.int8.onnx", calib)
        except Exception as err:  # report, do not lose the rest of the demo
            print(f"[demo] int8 export failed: {type(err).__name__}: {err}", flush=True)
            demo.report["int8_error"] = f"{type(err).__name__}: {err}"
    demo.stages.done("export ONNX (+int8)")
    return models


def _runtime_stage(demo: _Demo, models: dict[str, Path]) -> None:
    """Stage 6: each exported model through the streaming runtime on a held-out frontal video."""
    from rppg_distill.data.readers import read_dataset
    from rppg_distill.train.data import split_by_subject

    base = demo.base
    recs = read_dataset("mcd_rppg", demo.data_root / "mcd_rppg")
    _, _, test = split_by_subject(recs, base.data)
    vids = [r for r in test if r.view == "frontal" and r.bvp is not None]
    if vids:
        rec = vids[0]
        rt = {}
        for tag, path in models.items():
            m = runtime_hr_mae(Path(path), Path(rec.video), rec.bvp, float(rec.fps or base.data.fs),
                               tuple(base.eval.band))
            rt[tag] = {k: v for k, v in m.items() if k != "estimates"}
            (demo.out / f"runtime_{tag}.json").write_text(json.dumps(m, indent=1))
            print(f"[demo] runtime {tag} on {rec.video.name} (subject {rec.subject}, {rec.state}): "
                  f"HR MAE {m['mae_bpm']:.2f} bpm over {m['n_windows']} 10 s windows, "
                  f"{m['fps']:.0f} frames/s", flush=True)
        demo.report["runtime"] = rt
    demo.stages.done("runtime HR check")


def _write_reports(demo: _Demo) -> None:
    """report.json, report.md and report.png, with the stage times and the load average."""
    from rppg_distill.commands.demo_report import write_report_md, write_report_png

    demo.stages.save()
    demo.report["stage_times"] = json.loads((demo.out / "stage_times.json").read_text())
    demo.report["load"] = {"start": demo.load_start, "end": os.getloadavg()[0]}
    (demo.out / "report.json").write_text(json.dumps(demo.report, indent=1, default=str))
    write_report_md(demo.out, demo.report)
    try:
        write_report_png(demo.out, demo.report)
    except Exception as err:  # the figure never costs the finished demo its report
        print(f"[demo] warning: report.png not drawn: {type(err).__name__}: {err}", flush=True)
    print(f"[demo] total {demo.report['stage_times']['total']:.1f} s; report in {demo.out / 'report.md'}",
          flush=True)
