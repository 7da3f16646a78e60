"""RPM-Distill's radar-shift robustness experiment (paper 2, Table 5; docs/METHODS.md §3).

For a share p of the training pairs the radar window starts ``radar_shift_seconds`` (1 s = 30
steps) after the video clip's, taken from the recording (:class:`~.crossmodal.ShiftedRadar`);
the student is trained with the learned gate ("gated") and without it ("ungated" = the paper's
"w/o gate", ``policy.use_gate: false``, the policy's weights kept) for every p and seed, and tested
on aligned test clips under the ``rpm_distill`` HR protocol (:func:`~.crossmodal.evaluate_student`).

Layout under ``out_dir`` (resumable: a finished run whose config.yaml equals the run's config is
reused, a teacher whose teacher.json matches is loaded)::

    teacher/seed{s}/teacher.pt, .json     the radar teacher pretrained for seed s (shared by all p)
    {gated,ungated}/p{p}/seed{s}/         one student run: eval.json, metrics.jsonl, curves.png
    shift_sweep.json                      per variant and p: mean/std/n over seeds of MAE, RMSE, STD, r
    shift_sweep.png                       MAE vs p, gated vs ungated, error bars = std over seeds
    shift_sweep_curves.png                training loss per run (one panel per p)

``shift_sweep(cfg, probs, seeds)`` is the function the CLI (``rppg-distill train CONFIG
--shift-sweep 0,0.2,...``) and the demo call.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rppg_distill.data.atomic import atomic_save, atomic_write_text
from rppg_distill.evaluate.tables import mean_std

from .config import CrossModalConfig, to_dict
from .distributed import write_json_on_main

PAPER_PROBS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
VARIANTS = {"gated": True, "ungated": False}          # name -> policy.use_gate
METRICS = ("mae", "rmse", "std", "pearson")


def parse_floats(text: str) -> list[float]:
    """"0,0.2,1" -> [0.0, 0.2, 1.0] (ValueError naming the bad item)."""
    out = []
    for item in str(text).split(","):
        if item.strip():
            try:
                out.append(float(item))
            except ValueError:
                raise ValueError(f"not a number: {item.strip()!r} in {text!r}") from None
    return out


def _teacher(cfg: CrossModalConfig, seed: int, train, root: Path, log) -> dict:
    """The radar teacher of ``seed``: loaded from ``teacher.pt`` when its ``teacher.json`` (seed,
    teacher and data settings) matches, else pretrained and saved."""
    from .crossmodal import pretrain_teacher

    path = root / "teacher" / f"seed{seed}" / "teacher.pt"
    key = json.loads(json.dumps({"seed": seed, "teacher": to_dict(cfg.teacher), "data": to_dict(cfg.data)}))
    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == key:
        log(f"[shift-sweep] teacher seed {seed}: reusing {path}")
        return torch.load(path, map_location="cpu", weights_only=True)
    t0 = time.perf_counter()
    c = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, seed=seed))
    state = pretrain_teacher(c, train, path.parent, log=lambda s: None)
    atomic_save(path, lambda p: torch.save(state, p))
    atomic_write_text(stamp, json.dumps(key))
    log(f"[shift-sweep] teacher seed {seed}: pretrained in {time.perf_counter() - t0:.0f} s")
    return state


def _teacher_job(cfg: CrossModalConfig, seed: int, root: str) -> None:
    """``_teacher`` in a ``run_pool`` worker (it writes ``teacher/seed{seed}/teacher.pt``)."""
    from .data import crossmodal_datasets
    from .run_pool import worker_datasets

    train = worker_datasets(cfg.data, crossmodal_datasets)[0]
    _teacher(cfg, seed, train, Path(root), log=lambda s: None)


def _student_job(cfg: CrossModalConfig, seed: int, run_dir: str, teacher_path: str) -> dict:
    """One student run in a ``run_pool`` worker: the datasets from the clip cache, the teacher
    from its file (``weights_only``)."""
    from .crossmodal import train_student
    from .data import crossmodal_datasets
    from .run_pool import worker_datasets

    train, val, test = worker_datasets(cfg.data, crossmodal_datasets)
    teacher = torch.load(teacher_path, map_location="cpu", weights_only=True)
    return train_student(cfg, seed, train, val, test, teacher, Path(run_dir), log=lambda s: None)


def _reusable(run_dir: Path, run_cfg: CrossModalConfig) -> dict | None:
    """The run's eval.json if it finished with exactly this config (the loop's config.yaml)."""
    import yaml

    ev, saved = run_dir / "eval.json", run_dir / "config.yaml"
    if not (ev.exists() and saved.exists()):
        return None
    same = yaml.safe_load(saved.read_text()) == json.loads(json.dumps(to_dict(run_cfg)))
    r = json.loads(ev.read_text())
    return r if same and r.get("test") else None


def _chance(hr_true) -> float:
    """Chance-level MAE of the test HRs (``evaluate.chance_level``)."""
    from rppg_distill.evaluate.chance import chance_level

    return float(chance_level(np.asarray(hr_true, dtype=np.float64))["chance_mae"])


def summarize(runs: list[dict], probs: Sequence[float]) -> dict:
    """{variant: {p: {metric: {"mean", "std", "n"}}}} over the seeds of each (variant, p)."""
    out: dict = {}
    for name in VARIANTS:
        rows = [r for r in runs if r["variant"] == name]
        if not rows:
            continue
        out[name] = {}
        for p in probs:
            sel = [r for r in rows if abs(r["p"] - p) < 1e-9]
            out[name][f"{p:g}"] = {m: dict(zip(("mean", "std", "n"), mean_std([r["test"].get(m) for r in sel])))
                                   for m in METRICS}
    return out


def shift_sweep(cfg: CrossModalConfig, probs: Sequence[float] = PAPER_PROBS, seeds: Sequence[int] | None = None,
                *, variants: Sequence[str] = tuple(VARIANTS), data=None, out_dir: str | Path | None = None,
                plots: bool = True, workers: int = 1, log: Callable[[str], None] = print) -> dict:
    """Train and test the student for every (variant, p, seed); the teacher once per seed.

    Args:
        cfg: a crossmodal config (its ``radar_shift_prob``/``policy.use_gate``/``seeds`` are set
            per run; everything else is used as is).
        probs: shift probabilities (the paper's 0, 0.2, ..., 1.0), run in this order (all seeds
            of one before the next); the result lists them sorted.
        seeds: default ``cfg.seeds``.
        variants: "gated" and/or "ungated".
        data: (train, val, test) datasets; default built from ``cfg.data``.
        out_dir: default ``cfg.loop.out_dir``.
        workers: student runs in this many processes (``train.run_pool``; each builds the
            datasets from ``cfg.data``'s clip cache and reads its teacher from ``teacher.pt``).

    Returns:
        {"probs", "seeds", "variants", "shift_samples", "summary" (see :func:`summarize`),
        "runs": [{"variant", "p", "seed", "test", "radar_shift", "gate_mean", "dir", "reused"}],
        "chance_mae" (``evaluate.chance_level`` of the test HRs), "seconds"}.
    """
    from .crossmodal import build_data, train_student

    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise ValueError(f"unknown shift-sweep variant(s) {bad}; known: {list(VARIANTS)}")
    probs = [float(p) for p in probs]
    if not probs or any(not 0 <= p <= 1 for p in probs):
        raise ValueError(f"shift probabilities must be in [0, 1], got {probs}")
    seeds = [int(s) for s in (cfg.seeds if seeds is None else seeds)]
    if not seeds:
        raise ValueError("the shift sweep needs at least one seed")
    if cfg.mode == "sup_only":
        raise ValueError("the shift sweep compares distillation variants; mode sup_only has none")
    train, val, test = data if data is not None else build_data(cfg)
    root = Path(out_dir or cfg.loop.out_dir)
    t0 = time.perf_counter()
    if workers > 1 and len(seeds) > 1:   # pretrain (or find) the teachers side by side, then load them below
        from .run_pool import run_jobs

        run_jobs([functools.partial(_teacher_job, cfg, seed, str(root)) for seed in seeds], workers=workers,
                 desc="teachers", names=[f"teacher seed {seed}" for seed in seeds], log=log)
    teachers = {seed: _teacher(cfg, seed, train, root, log) for seed in seeds}
    plan = []
    for p in probs:                  # every seed of a p before the next p: a stopped sweep has whole rows
        for seed in seeds:
            for name in variants:
                run_dir = root / name / f"p{p:g}" / f"seed{seed}"
                c = dataclasses.replace(cfg, radar_shift_prob=p, seeds=[seed],
                                        policy=dataclasses.replace(cfg.policy, use_gate=VARIANTS[name]),
                                        loop=dataclasses.replace(cfg.loop, seed=seed, out_dir=str(run_dir)))
                plan.append((name, p, seed, run_dir, c, _reusable(run_dir, c)))
    todo = [i for i, row in enumerate(plan) if row[5] is None]
    log(f"[shift-sweep] {len(plan)} runs ({len(plan) - len(todo)} reused), {workers} process(es)")
    if workers > 1 and len(todo) > 1:
        from .run_pool import run_jobs

        jobs = [functools.partial(_student_job, plan[i][4], plan[i][2], str(plan[i][3]),
                                  str(root / "teacher" / f"seed{plan[i][2]}" / "teacher.pt")) for i in todo]
        names = [f"{plan[i][0]} p={plan[i][1]:g} seed {plan[i][2]}" for i in todo]
        done = dict(zip(todo, run_jobs(jobs, workers=workers, desc="shift sweep", names=names, log=log)))
    else:
        done = {}
        for k, i in enumerate(todo):
            name, p, seed, run_dir, c, _ = plan[i]
            t1 = time.perf_counter()
            done[i] = train_student(c, seed, train, val, test, teachers[seed], run_dir, log=lambda s: None)
            log(f"[shift-sweep] run {k + 1}/{len(todo)}: {name} p={p:g} seed {seed}: test MAE "
                f"{done[i]['test'].get('mae', float('nan')):.2f} bpm ({time.perf_counter() - t1:.0f} s)")
    runs = []
    for i, (name, p, seed, run_dir, _, reused) in enumerate(plan):
        r = reused if reused is not None else done[i]
        runs.append({"variant": name, "p": p, "seed": seed,
                     "test": {m: r["test"].get(m) for m in (*METRICS, "n")},
                     "radar_shift": r.get("radar_shift"), "gate_mean": r.get("gate_mean"),
                     "steps": r.get("steps"), "dir": str(run_dir), "reused": reused is not None,
                     "hr_true": r["test"].get("hr_true")})
    hr_true = next((r["hr_true"] for r in runs if r.get("hr_true")), None)
    chance = _chance(hr_true) if hr_true else None
    for r in runs:
        r.pop("hr_true", None)
    probs = sorted(probs)
    result = {"probs": probs, "seeds": seeds, "variants": list(variants),
              "shift_samples": int(round(cfg.radar_shift_seconds * cfg.data.fs)),
              "summary": summarize(runs, probs), "runs": runs, "chance_mae": chance,
              "seconds": time.perf_counter() - t0}
    write_json_on_main(root / "shift_sweep.json", result)
    if plots:
        plot_shift_sweep(result, root / "shift_sweep.png")
        plot_shift_curves(result, root / "shift_sweep_curves.png")
    return result


def format_shift_table(result: dict) -> str:
    """Plain-text table: one row per p, MAE mean ± std (n) for each variant."""
    names = [v for v in result["variants"] if v in result["summary"]]
    lines = ["shift p  " + "  ".join(f"{n + ' MAE (bpm)':>22s}" for n in names)]
    for p in result["probs"]:
        cells = []
        for n in names:
            s = result["summary"][n][f"{p:g}"]["mae"]
            cells.append(f"{s['mean']:>10.2f} ± {s['std']:5.2f} (n={s['n']})")
        lines.append(f"{p:7.1f}  " + "  ".join(f"{c:>22s}" for c in cells))
    if result.get("chance_mae") is not None:
        lines.append(f"chance level MAE of the test HRs: {result['chance_mae']:.2f} bpm")
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_shift_sweep(result: dict, path: str | Path) -> Path:
    """MAE vs shift probability, gated vs ungated, error bars = std over seeds."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, name in enumerate(v for v in result["variants"] if v in result["summary"]):
        s = result["summary"][name]
        ps = result["probs"]
        mean = [s[f"{p:g}"]["mae"]["mean"] for p in ps]
        std = [s[f"{p:g}"]["mae"]["std"] for p in ps]
        n = max(s[f"{p:g}"]["mae"]["n"] for p in ps)
        ax.errorbar(np.asarray(ps) + (i - 0.5) * 0.01, mean, yerr=std, marker="o", capsize=3,
                    label=f"{name if name == 'gated' else 'w/o gate'} (n={n} seeds)")
    if result.get("chance_mae") is not None:
        ax.axhline(result["chance_mae"], ls="--", c="grey", lw=1, label="chance level")
    ax.set_xlabel(f"radar shift probability (shift {result['shift_samples']} samples)")
    ax.set_ylabel("test MAE (bpm)")
    ax.set_title("RPM-Distill: robustness to radar/video misalignment")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_shift_curves(result: dict, path: str | Path, metric: str = "loss") -> Path:
    """Training ``metric`` vs step of every run (from its metrics.jsonl), one panel per p."""
    plt = _plt()
    probs = result["probs"]
    cols = min(3, len(probs))
    rows = -(-len(probs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False, sharey=True)
    colors = {"gated": "tab:blue", "ungated": "tab:orange"}
    styles = ["-", "--", ":", "-."]
    for ax, p in zip(axes.flat, probs):
        for r in result["runs"]:
            if abs(r["p"] - p) > 1e-9:
                continue
            log = Path(r["dir"]) / "metrics.jsonl"
            if not log.exists():
                continue
            pts = [(row["step"], row[metric]) for row in map(json.loads, log.read_text().splitlines())
                   if row.get("split", "train") == "train" and metric in row]
            if pts:
                xs, ys = zip(*pts)
                ax.plot(xs, ys, c=colors.get(r["variant"]), ls=styles[result["seeds"].index(r["seed"]) % 4],
                        lw=1, label=f"{r['variant']} s{r['seed']}")
        ax.set_title(f"p = {p:g}")
        ax.set_xlabel("step")
    axes.flat[0].set_ylabel(f"train {metric}")
    axes.flat[0].legend(fontsize=6, ncol=2)
    for ax in list(axes.flat)[len(probs):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
