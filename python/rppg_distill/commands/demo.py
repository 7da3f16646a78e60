"""`rppg-distill demo`: the SDK's main job on the built-in synthetic data.

Stages (each timed; the times go to the console, ``stage_times.json`` and ``report.md``):

1. generate the seeded synthetic multi-view (MCD-rPPG layout) + radar (EquiPleth layout) set;
2. preprocess it into the clip cache (face detection, 72x72 crops; trainers resize);
3. train the cross-view schemes (default cam2-only, B' = asymmetric and B = symmetric) over the
   configured seeds and evaluate per camera -> Table-1-style table (``table1.txt``);
4. briefly train an RPM-Distill student (radar teacher pretraining + student with the policy);
5. export the B' student (seed 0) to ONNX with its deployment contract
   (``rppg_distill.deploy.export.export_onnx``) and an int8 copy (``deploy.precision``);
6. run the exported student through the streaming runtime (``deploy.runtime.Monitor``) on a
   generator-written test video of a held-out subject and report HR MAE against the generator's
   truth over 10 s windows (fp32 and int8).

Demo settings (documented, not the papers'): ``configs/*-synthetic.yaml`` -- 24x24 input,
T = 90-frame clips, EfficientPhys-C widths 8/16/32, 4 cross-view epochs (240 steps per seed),
RPM-Distill student 5 epochs at T = 128, one torch thread (``--threads``; on a shared 2-core CPU one
thread is 3-8x faster per step than two for these small models). The papers' settings stay in the
non-synthetic configs. Measured: about 9 minutes on 2 shared cores (docs/RESULTS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NAME = "demo"
HELP = "end-to-end demo on the built-in synthetic data (train cam2-only vs B', RPM-Distill, report)"

SCHEMES = ("cam2-only", "asymmetric", "symmetric")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="rppg-distill-demo", help="report folder (default: ./rppg-distill-demo)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cross-view scheme (default 3)")
    parser.add_argument("--epochs", type=int, default=None, help="cross-view epochs (default: the config's)")
    parser.add_argument("--schemes", default=",".join(SCHEMES),
                        help="comma list of cross-view schemes (default cam2-only,asymmetric,symmetric)")
    parser.add_argument("--subjects", type=int, default=None, help="synthetic subjects (default: the config's)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per recording (default: the config's)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: fastest for these small models on a shared 2-core CPU)")
    parser.add_argument("--rpm-epochs", type=int, default=None, help="RPM-Distill student epochs (default: config)")
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
    """The must-show comparison: B' side MAE vs cam2-only, frontal within +0.5 bpm."""
    t = summary["table"]
    out: dict = {}
    if "cam2-only" in t:
        base = t["cam2-only"]
        for name in ("asymmetric", "symmetric"):
            if name in t:
                r = t[name]
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

    @property
    def data_root(self) -> Path:
        return self.out / "data"


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(max(1, args.threads))
    demo = _setup(args)
    _generate(demo)
    cv_data, cm, cm_data = _preprocess(demo)
    results, table = _train_crossview(demo, cv_data)
    if cm is not None:
        _train_rpm_distill(demo, cm, cm_data)
    if not args.no_export:
        _export_and_run(demo, results)
    _write_reports(demo, table)
    return 0


def _setup(args: argparse.Namespace) -> _Demo:
    """Output folder, the overrides shared by every config, and the cross-view base config."""
    from rppg_distill.train.config import load_config

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    common = [f"data.root={out / 'data'}", "loop.progress=false", f"loop.num_threads={max(1, args.threads)}"]
    if args.subjects:
        common.append(f"data.n_subjects={args.subjects}")
    if args.seconds:
        common.append(f"data.seconds={args.seconds}")
    cv_over = common + [f"seeds={list(range(args.seeds))}"] + list(args.overrides)
    if args.epochs is not None:
        cv_over.append(f"loop.epochs={args.epochs}")
    base = load_config(_config_dir() / "crossview-asymmetric-synthetic.yaml", cv_over)
    report = {"settings": {"seeds": args.seeds, "threads": args.threads,
                           "crossview_config": dataclasses.asdict(base)}}
    return _Demo(args, out, _Stages(out), common, base, report)


def _generate(demo: _Demo) -> None:
    """Stage 1: both layouts in one pass (MCD-rPPG multi-view video, EquiPleth video + radar)."""
    if not (demo.data_root / "synth_manifest.json").exists():
        from rppg_distill.data.synthetic import generate

        d = demo.base.data
        fmts = ("mcd_rppg",) if demo.args.no_crossmodal else ("mcd_rppg", "equipleth")
        print(f"[demo] generating {d.n_subjects} subjects x {d.seconds:g} s into {demo.data_root}", flush=True)
        generate(demo.data_root, n_subjects=d.n_subjects, seed=d.split_seed, duration_s=d.seconds,
                 formats=fmts, **d.synth_kwargs)
    demo.stages.done("generate")


def _preprocess(demo: _Demo):
    """Stage 2: face crops into the clip cache; (cross-view data, RPM config or None, RPM data)."""
    from rppg_distill.train.config import load_config
    from rppg_distill.train.data import crossmodal_datasets, crossview_datasets

    data = crossview_datasets(demo.base.data)
    cm = cm_data = None
    if not demo.args.no_crossmodal:
        rpm_over = demo.common + list(demo.args.rpm_overrides) + [f"loop.out_dir={demo.out / 'runs' / 'rpm-distill'}"]
        if demo.args.rpm_epochs is not None:
            rpm_over.append(f"loop.epochs={demo.args.rpm_epochs}")
        cm = load_config(_config_dir() / "crossmodal-rpm-distill-synthetic.yaml", rpm_over)
        cm_data = crossmodal_datasets(cm.data)
    demo.stages.done("preprocess")
    return data, cm, cm_data


def _train_crossview(demo: _Demo, data) -> tuple[list[dict], str]:
    """Stage 3: every cross-view scheme over the seeds; (per-run results, Table-1-style text)."""
    from rppg_distill.train import crossview
    from rppg_distill.train.config import save_config

    results = []
    for scheme in [s.strip() for s in demo.args.schemes.split(",") if s.strip()]:
        run_dir = demo.out / "runs" / scheme
        c = dataclasses.replace(demo.base, scheme=scheme,
                                loop=dataclasses.replace(demo.base.loop, out_dir=str(run_dir)))
        save_config(c, run_dir / "config.yaml")
        results += crossview.run_crossview(c, data=data)
        demo.stages.done(f"train+eval {scheme} ({len(c.seeds)} seeds)")
    summary = crossview.summarize(results)
    summary["check"] = _crossview_check(summary)
    table = crossview.format_table(summary)
    print(table)
    for name, chk in summary["check"].items():
        print(f"[demo] {name} vs cam2-only: side MAE {chk['side_mae_delta']:+.2f} bpm, frontal MAE "
              f"{chk['frontal_mae_delta']:+.2f} bpm -> lowers side: {chk['lowers_side']}, frontal within "
              f"+0.5: {chk['frontal_within_0.5']}")
    (demo.out / "table1.txt").write_text(table + "\n")
    (demo.out / "crossview_summary.json").write_text(json.dumps(summary, indent=1))
    (demo.out / "crossview_results.json").write_text(json.dumps(results, indent=1))
    demo.report["crossview"] = summary
    return results, table


def _train_rpm_distill(demo: _Demo, cm, cm_data) -> None:
    """Stage 4: a brief RPM-Distill run (radar teacher pretraining + student with the policy)."""
    from rppg_distill.train import crossmodal

    res = crossmodal.run_crossmodal(cm, data=cm_data)
    (demo.out / "rpm_distill.json").write_text(json.dumps(res, indent=1))
    demo.report["rpm_distill"] = [{k: r[k] for k in ("seed", "mode", "steps", "test") if k in r}
                                  | {"gate_mean": r.get("gate_mean")} for r in res]
    print("[demo] RPM-Distill student (test):", json.dumps(res[0]["test"]), flush=True)
    demo.stages.done("train+eval RPM-Distill")


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


def _write_reports(demo: _Demo, table: str) -> None:
    """report.json and report.md, with the stage times."""
    demo.stages.save()
    demo.report["stage_times"] = json.loads((demo.out / "stage_times.json").read_text())
    (demo.out / "report.json").write_text(json.dumps(demo.report, indent=1, default=str))
    _write_report_md(demo.out, demo.report, table)
    print(f"[demo] total {demo.report['stage_times']['total']:.1f} s; report in {demo.out}", flush=True)


def _write_report_md(out: Path, report: dict, table: str) -> None:
    lines = ["# rppg-distill demo report", "", "## Stage times (s)", ""]
    for k, v in report["stage_times"].items():
        lines.append(f"- {k}: {v:.1f}")
    lines += ["", "## Cross-view (Table-1 style, HR MAE bpm, mean ± std over seeds)", "", "```", table, "```", ""]
    for name, chk in report["crossview"].get("check", {}).items():
        lines.append(f"- {name} vs cam2-only: side {chk['side_mae_delta']:+.2f} bpm, frontal "
                     f"{chk['frontal_mae_delta']:+.2f} bpm")
    if "rpm_distill" in report:
        lines += ["", "## RPM-Distill (brief)", "", "```", json.dumps(report["rpm_distill"], indent=1), "```"]
    if "export" in report:
        lines += ["", "## Export", "", f"- {report['export']['path']} ({report['export']['exporter']})"]
    if "runtime" in report:
        lines += ["", "## Streaming runtime on a synthetic test video (10 s windows)", ""]
        for tag, m in report["runtime"].items():
            lines.append(f"- {tag}: HR MAE {m['mae_bpm']:.2f} bpm over {m['n_windows']} windows, "
                         f"{m['fps']:.0f} frames/s")
    (out / "report.md").write_text("\n".join(lines) + "\n")
