"""Cross-view PSD distillation (paper 1, docs/METHODS.md §2): the frontal view teaches the side views.

Schemes (``scheme:`` in the config):

==============  ==========================================================================
cam2-only       frontal clips only, MSE
side-only       side clips only, MSE
pooled-aug      A+: frontal and side clips pooled, with augmentation, MSE on each
symmetric       B : MSE_t + MSE_s + lam * KL(p_t || p_s), gradients into both views
asymmetric      B': the same with stop-gradient on the teacher (frontal) PSD   <- the method
==============  ==========================================================================

One shared EfficientPhys-C serves both views; a training pair (frontal, side) of the same subject,
state and time window is run as one batch ``cat([x_t, x_s])`` (one forward, so DDP sees one graph).
The objective is :class:`rppg_distill.losses.CrossViewLoss` (its KL term is the fused core op
``rppg_distill.spectral.psd_kl``).

Model selection: the validation subjects are held out of training; at the end of every epoch the
model is evaluated on their frontal and side clips (:meth:`CrossViewTask.validate`) and the epoch
with the lowest ``model_selection`` score (default: the mean of the side views' HR MAEs, the
method's target; the paper only says that lambda was set on validation performance) is kept as
``checkpoints/best.pt``. Those weights are evaluated on the test views; ``eval.json`` records the
selection (epoch, step, score).

All clips carry their rate (``fs``); the data layer resamples every recording to ``data.fs`` (the
model's rate), and a training batch at another rate is refused.

After training, :func:`evaluate_views` runs ``evaluate.views.evaluate_views`` (``predict`` +
``evaluate_clips`` per camera, each clip at its own rate; the same path as
``rppg-distill evaluate``: HR by the ``crossview`` protocol, per-video errors, PSD peak
concentration, SNR);
:func:`run_crossview` runs the configured seeds; :func:`summarize` builds the Table-1-style
``evaluate.per_view_table`` and the paper's Wilcoxon test (``evaluate.wilcoxon_paired``) of B' vs
A+ on side-view per-video peak concentration (and MAE).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rppg_distill.evaluate import get_protocol, per_view_table, wilcoxon_paired
from rppg_distill.evaluate.inference import resize_video
from rppg_distill.evaluate.views import evaluate_views as _evaluate_views
from rppg_distill.evaluate.views import selection_scores
from rppg_distill.losses import CrossViewLoss, mse

from .config import CrossViewConfig
from .distributed import write_json_on_main
from .loop import FitResult, Task, build_optimizer, fit, load_checkpoint

VIEWS = ("frontal", "side_left", "side_right")
SINGLE_VIEW = {"cam2-only": "teacher", "side-only": "student"}


# ----------------------------------------------------------------------------- data
class _OneView(torch.utils.data.Dataset):
    """Single-view items from a pair dataset; frontal clips are deduplicated across side views."""

    def __init__(self, pairs, which: str):
        self.pairs, self.which = pairs, which
        self.index = list(range(len(pairs)))
        if which == "teacher" and hasattr(pairs, "pair_keys"):
            seen, keep = set(), []
            for i, k in enumerate(pairs.pair_keys()):
                if k not in seen:
                    seen.add(k)
                    keep.append(i)
            self.index = keep

    def __len__(self):
        return len(self.index)

    def __getitem__(self, i):
        it = self.pairs[self.index[i]]
        out = {"video": it[f"{self.which}_video"], "bvp": it["bvp"]}
        if "fs" in it:
            out["fs"] = it["fs"]
        return out


def build_data(cfg: CrossViewConfig):
    """``CrossViewData(train pairs, {view: validation clips}, {view: test clips})`` from the data
    layer (cache + MultiViewPairs + SingleViewClips)."""
    from .data import crossview_datasets

    return crossview_datasets(cfg.data)


def unpack_data(data) -> tuple[Any, dict, dict]:
    """(train, val, test) from ``build_data``'s triple or a ``(train, test)`` pair (no validation
    clips: the last weights are evaluated)."""
    if len(data) == 2:
        return data[0], {}, data[1]
    train, val, test = data
    return train, val or {}, test


SELECTION_SCORE = {"val_side_mae": "side_mae", "val_mean_mae": "mean_mae"}


# ----------------------------------------------------------------------------- task
class CrossViewTask(Task):
    def __init__(self, cfg: CrossViewConfig, device: torch.device, train_pairs, val_sets: dict | None = None):
        from rppg_distill.models import input_size_kwargs

        from .init_from import build_student

        self.cfg, self.device, self.pairs = cfg, device, train_pairs
        self.val_sets = {v: d for v, d in (val_sets or {}).items() if d is not None and len(d)}
        self.monitor = SELECTION_SCORE.get(cfg.model_selection, "side_mae")
        self.monitor_mode = "min"
        kw = {**input_size_kwargs(cfg.model.name, cfg.data.img_size), **cfg.model.kwargs}
        self.model = build_student(cfg.model.name, kw, cfg.model.init_from, cfg.data)
        self.augment = cfg.augment or cfg.scheme == "pooled-aug"
        distill = cfg.scheme in ("symmetric", "asymmetric") and cfg.lam > 0
        self.loss = CrossViewLoss(cfg.data.fs, lam=cfg.lam, band=cfg.band,
                                  mode=cfg.scheme if distill else "none", n_fft=cfg.n_fft or None)

    def train_dataset(self):
        if self.cfg.scheme in SINGLE_VIEW:
            return _OneView(self.pairs, SINGLE_VIEW[self.cfg.scheme])
        return self.pairs

    def configure_optimizers(self, total_steps):
        return build_optimizer(self.model.parameters(), self.cfg.optim, total_steps)

    def validate(self, model, epoch):
        """HR MAE per validation view and the selection scores (``side_mae``, ``mean_mae``)."""
        if self.cfg.model_selection == "last" or not self.val_sets:
            return {}
        return selection_scores(evaluate_views(model, self.val_sets, self.cfg, self.device))

    def _check_rate(self, batch) -> None:
        """One rate per batch, the model's: the clips' ``fs`` must be ``data.fs``."""
        fs = batch.get("fs") if isinstance(batch, dict) else None
        if fs is None:
            return
        rates = sorted({float(r) for r in torch.as_tensor(fs).reshape(-1).tolist()})
        if any(abs(r - self.cfg.data.fs) > 1e-6 for r in rates):
            raise ValueError(f"a training batch holds clips at {', '.join(f'{r:g}' for r in rates)} fps, "
                             f"the model trains at data.fs={self.cfg.data.fs:g}; build the clips with "
                             f"fs=data.fs (train.data.crossview_datasets resamples every recording)")

    def _prep(self, x):
        x = x.to(self.device, non_blocking=True).float()
        return resize_video(x, self.cfg.data.img_size)

    def _aug(self, x):
        """Per-clip horizontal flip and gain jitter (global torch RNG: resumable)."""
        b = x.shape[0]
        flip = torch.rand(b, device=x.device) < 0.5
        x = torch.where(flip.view(b, 1, 1, 1, 1), x.flip(-1), x)
        gain = 1.0 + 0.2 * (torch.rand(b, 1, 1, 1, 1, device=x.device) - 0.5)
        return x * gain

    def training_step(self, model, batch, step):
        cfg = self.cfg
        self._check_rate(batch)
        y = batch["bvp"].to(self.device).float()
        if cfg.scheme in SINGLE_VIEW:
            x = self._prep(batch["video"])
            if self.augment:
                x = self._aug(x)
            pred = model(x).float().contiguous()
            loss = mse(pred, y)
            return loss, {"mse": loss.detach()}
        xt, xs = self._prep(batch["teacher_video"]), self._prep(batch["student_video"])
        if self.augment:
            xt, xs = self._aug(xt), self._aug(xs)
        out = model(torch.cat([xt, xs], 0)).float()
        yt, ys = out[: xt.shape[0]].contiguous(), out[xt.shape[0]:].contiguous()
        terms = self.loss(yt, ys, y)
        metrics = {"mse_frontal": terms.mse_teacher.detach(), "mse_side": terms.mse_student.detach()}
        if self.loss.mode != "none":
            metrics["kl"] = terms.kl.detach()
        return terms.total, metrics


# ----------------------------------------------------------------------------- evaluation
def label_space(cfg) -> str:
    """The label space of the clips: ``train.data.label_transform`` of ``cfg.data``."""
    from .data import label_transform

    return label_transform(cfg.data)


def hr_protocol(cfg: CrossViewConfig):
    """Paper 1's ``crossview`` HR protocol with the config's band and resolution."""
    return get_protocol("crossview").with_(band=tuple(cfg.eval.band), resolution_bpm=cfg.eval.resolution_bpm)


def evaluate_views(model, test_sets: dict, cfg: CrossViewConfig, device=None) -> dict:
    """Per view: ``evaluate_clips`` of ``predict``'s output (HR metrics over clips, per-clip HR,
    per-video MAE and peak concentration, SNR) under :func:`hr_protocol`, each clip at its own
    rate (``data.fs`` for clips that do not say): ``evaluate.views.evaluate_views``."""
    return _evaluate_views(model, test_sets, hr_protocol(cfg), label_transform=label_space(cfg),
                           fs=cfg.data.fs, img_size=cfg.data.img_size, device=device)


def select_weights(model, res: FitResult, cfg: CrossViewConfig, n_val_views: int) -> dict:
    """Load the selected weights (``best.pt``) into ``model``; returns the selection record:
    ``rule``, ``used`` ("best" or "last"), and for "best" the ``metric``, ``value``, ``epoch``,
    ``step`` and ``checkpoint``; for "last" the ``reason``."""
    rule = cfg.model_selection
    if rule == "last":
        return {"rule": rule, "used": "last", "reason": "model_selection: last"}
    if not n_val_views:
        return {"rule": rule, "used": "last", "reason": "no validation clips"}
    if res.best_checkpoint is None:
        return {"rule": rule, "used": "last",
                "reason": "no validation score (no epoch finished, or no side views to score)"}
    ckpt = load_checkpoint(res.best_checkpoint, map_location=res.device)
    model.load_state_dict(ckpt["modules"]["model"])
    best = ckpt.get("best") or {}
    return {"rule": rule, "used": "best", "metric": best.get("metric"), "value": best.get("value"),
            "epoch": best.get("epoch"), "step": best.get("step"), "checkpoint": str(res.best_checkpoint)}


# ----------------------------------------------------------------------------- runs
def train_one(cfg: CrossViewConfig, seed: int, train_pairs, test_sets: dict, out_dir: Path, *,
              val_sets: dict | None = None, resume: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """Train one seed, pick its weights on the validation views (``model_selection``) and
    evaluate them per test view; returns the ``eval.json`` record (``checkpoint``: the weights
    evaluated; ``last_checkpoint``: where ``--resume`` continues; ``selection``)."""
    loop = dataclasses.replace(cfg.loop, seed=seed, out_dir=str(out_dir))
    run_cfg = dataclasses.replace(cfg, loop=loop)
    res: FitResult = fit(lambda device: CrossViewTask(run_cfg, device, train_pairs, val_sets), run_cfg,
                         resume=resume, log=log)
    selection = select_weights(res.task.model, res, run_cfg, len(res.task.val_sets))
    views = evaluate_views(res.task.model, test_sets, run_cfg, res.device)
    last = str(res.checkpoint) if res.checkpoint else None
    result = {"scheme": cfg.scheme, "seed": seed, "lam": cfg.lam, "steps": res.step,
              "seconds": res.seconds, "train_metrics": res.metrics, "views": views,
              "selection": selection,
              "checkpoint": selection.get("checkpoint", last), "last_checkpoint": last}
    write_json_on_main(Path(out_dir) / "eval.json", result)
    return result


def run_crossview(cfg: CrossViewConfig, *, data=None, resume: bool = False,
                  log: Callable[[str], None] = print) -> list[dict]:
    """Run every seed of ``cfg`` (and the λ sweep when ``run_lambda_sweep``); returns per-run results.

    ``data``: ``build_data``'s (train, val, test), or (train, test) without validation clips."""
    train_pairs, val_sets, test_sets = unpack_data(data if data is not None else build_data(cfg))
    root = Path(cfg.loop.out_dir)
    results = []
    lams = cfg.lambda_sweep if (cfg.run_lambda_sweep and cfg.scheme in ("symmetric", "asymmetric")) else [cfg.lam]
    for lam in lams:
        c = dataclasses.replace(cfg, lam=float(lam))
        for seed in cfg.seeds:
            sub = root / (f"lam{lam:g}" if len(lams) > 1 else "") / f"seed{seed}"
            log(f"[crossview] scheme={cfg.scheme} lam={lam:g} seed={seed} -> {sub}")
            results.append(train_one(c, seed, train_pairs, test_sets, sub, val_sets=val_sets,
                                     resume=resume, log=log))
    write_json_on_main(root / "results.json", results)
    return results


def _groups(results: list[dict]) -> dict[str, list[dict]]:
    """Runs per table row: the scheme, or ``scheme@λ`` when a scheme ran several λ (never pooled)."""
    lams_per_scheme: dict[str, set] = {}
    for r in results:
        lams_per_scheme.setdefault(r["scheme"], set()).add(r["lam"])
    groups: dict[str, list[dict]] = {}
    for r in results:
        name = r["scheme"] + (f"@{r['lam']:g}" if len(lams_per_scheme[r["scheme"]]) > 1 else "")
        groups.setdefault(name, []).append(r)
    return groups


def _per_video_side(runs: list[dict], field: str) -> dict[str, float]:
    """{side view/video: the per-video ``field`` averaged over the runs (seeds)}."""
    acc: dict[str, list[float]] = {}
    for r in runs:
        for v, d in r["views"].items():
            if v != "frontal":
                for k, e in d[field].items():
                    acc.setdefault(f"{v}/{k}", []).append(e)
    return {k: float(np.mean(v)) for k, v in acc.items()}


def _wilcoxon(new: dict, base: dict, higher_is_better: bool) -> dict:
    keys = sorted(set(new) & set(base))
    try:
        res = wilcoxon_paired([new[k] for k in keys], [base[k] for k in keys],
                              higher_is_better=higher_is_better)
    except ValueError as err:
        return {"n": len(keys), "error": str(err)}
    return res.as_dict()


def summarize(results: list[dict]) -> dict:
    """Table-1 rows per scheme (and λ): per view and side-pooled HR MAE and peak concentration as
    (mean, std over seeds) from ``evaluate.per_view_table``; the paper's Wilcoxon test of B' vs A+
    on side-view per-video peak concentration (``wilcoxon_bprime_vs_aplus_side``, higher is better)
    and the same test on per-video MAE (``..._side_mae``), with the paired per-video peak
    concentrations it compares (``per_video_side_peak_concentration``: {scheme: {view/video: mean
    over seeds}})."""
    groups = _groups(results)
    records = [{"row": name, "view": v, "seed": r["seed"], "mae": d["mae"], "conc": d["peak_concentration"]}
               for name, rs in groups.items() for r in rs for v, d in r["views"].items()]
    mae, conc = (per_view_table(records, row="row", value=value) for value in ("mae", "conc"))
    table = {}
    for name, rs in groups.items():
        row: dict = {}
        for v in mae.cols:
            if mae.stats(name, v)[2]:
                row[v] = mae.stats(name, v)[:2]
                row[v + "_peak_conc"] = conc.stats(name, v)[:2]
        row["seeds"] = len(rs)
        table[name] = row
    out: dict = {"table": table}
    if "asymmetric" in groups and "pooled-aug" in groups:
        b, a = groups["asymmetric"], groups["pooled-aug"]
        conc_b, conc_a = (_per_video_side(g, "per_video_peak_concentration") for g in (b, a))
        out["per_video_side_peak_concentration"] = {"asymmetric": conc_b, "pooled-aug": conc_a}
        out["wilcoxon_bprime_vs_aplus_side"] = _wilcoxon(conc_b, conc_a, True)
        out["wilcoxon_bprime_vs_aplus_side_mae"] = _wilcoxon(_per_video_side(b, "per_video_mae"),
                                                             _per_video_side(a, "per_video_mae"), False)
    return out


def format_table(summary: dict, views=VIEWS) -> str:
    """Table-1-style text: per-camera HR MAE (bpm), mean ± std over seeds."""
    head = f"{'scheme':<14}" + "".join(f"{v:>18}" for v in views) + f"{'side (pooled)':>18}{'seeds':>7}"
    lines = [head, "-" * len(head)]
    for name, row in summary["table"].items():
        cells = []
        for v in list(views) + ["side"]:
            m, s = row.get(v, (float("nan"), float("nan")))
            cells.append(f"{m:>10.2f} ± {s:<5.2f}")
        lines.append(f"{name:<14}" + "".join(f"{c:>18}" for c in cells) + f"{row['seeds']:>7}")
    for key, what in (("wilcoxon_bprime_vs_aplus_side", "peak concentration"),
                      ("wilcoxon_bprime_vs_aplus_side_mae", "HR MAE")):
        w = summary.get(key)
        if w and "p" in w:
            lines.append(f"Wilcoxon B' vs A+ ({what}, side videos): p={w['p']:.3g} ({w['method']}), "
                         f"r={w['r']:.2f}, n={w['n']}, improved={100 * w['share_improved']:.0f}%")
        elif w:
            lines.append(f"Wilcoxon B' vs A+ ({what}, side videos): not computed ({w['error']})")
    return "\n".join(lines)
