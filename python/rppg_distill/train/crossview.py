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
The KL term is the fused core op ``rppg_distill.spectral.psd_kl``.

After training, :func:`evaluate_views` gives per-camera HR MAE (FFT peak in the band), per-video
errors, and PSD peak concentration; :func:`run_crossview` runs the configured seeds and writes the
Table-1-style summary; :func:`summarize` adds the Wilcoxon test of B' vs A+ on side views.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import common
from .config import CrossViewConfig
from .distributed import write_json_on_main
from .loop import FitResult, Task, build_optimizer, fit

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
        return {"video": it[f"{self.which}_video"], "bvp": it["bvp"]}


def build_data(cfg: CrossViewConfig) -> tuple[Any, dict[str, Any]]:
    """(train pairs, {view: test clips}) from the data layer (cache + MultiViewPairs)."""
    from .data import crossview_datasets

    return crossview_datasets(cfg.data)


# ----------------------------------------------------------------------------- task
class CrossViewTask(Task):
    def __init__(self, cfg: CrossViewConfig, device: torch.device, train_pairs):
        from .init_from import build_student

        self.cfg, self.device, self.pairs = cfg, device, train_pairs
        kw = dict(cfg.model.kwargs)
        if cfg.model.name.startswith("efficientphys"):
            kw.setdefault("img_size", cfg.data.img_size)
        self.model = build_student(cfg.model.name, kw, cfg.model.init_from, cfg.data)
        self.augment = cfg.augment or cfg.scheme == "pooled-aug"

    def train_dataset(self):
        if self.cfg.scheme in SINGLE_VIEW:
            return _OneView(self.pairs, SINGLE_VIEW[self.cfg.scheme])
        return self.pairs

    def configure_optimizers(self, total_steps):
        return build_optimizer(self.model.parameters(), self.cfg.optim, total_steps)

    def _prep(self, x):
        x = x.to(self.device, non_blocking=True).float()
        return common.resize_video(x, self.cfg.data.img_size)

    def _aug(self, x):
        """Per-clip horizontal flip and gain jitter (global torch RNG: resumable)."""
        b = x.shape[0]
        flip = torch.rand(b, device=x.device) < 0.5
        x = torch.where(flip.view(b, 1, 1, 1, 1), x.flip(-1), x)
        gain = 1.0 + 0.2 * (torch.rand(b, 1, 1, 1, 1, device=x.device) - 0.5)
        return x * gain

    def training_step(self, model, batch, step):
        cfg = self.cfg
        y = batch["bvp"].to(self.device).float()
        if cfg.scheme in SINGLE_VIEW:
            x = self._prep(batch["video"])
            if self.augment:
                x = self._aug(x)
            pred = model(x).float().contiguous()
            loss = F.mse_loss(pred, y)
            return loss, {"mse": loss.detach()}
        xt, xs = self._prep(batch["teacher_video"]), self._prep(batch["student_video"])
        if self.augment:
            xt, xs = self._aug(xt), self._aug(xs)
        out = model(torch.cat([xt, xs], 0)).float()
        yt, ys = out[: xt.shape[0]].contiguous(), out[xt.shape[0]:].contiguous()
        l_t, l_s = F.mse_loss(yt, y), F.mse_loss(ys, y)
        loss = l_t + l_s
        metrics = {"mse_frontal": l_t.detach(), "mse_side": l_s.detach()}
        if cfg.scheme in ("symmetric", "asymmetric") and cfg.lam > 0:
            kl = common.psd_kl(ys, yt, cfg.data.fs, cfg.band, mode=cfg.scheme, n_fft=cfg.n_fft or None)
            loss = loss + cfg.lam * kl
            metrics["kl"] = kl.detach()
        return loss, metrics


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def predict(model, dataset, device, img_size: int, batch_size: int = 8):
    """(pred [N, T], bvp [N, T], keys) for a clip dataset of {"video", "bvp", "key"?} items."""
    model.eval()
    preds, labels, keys = [], [], []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for b in loader:
        x = common.resize_video(b["video"].to(device).float(), img_size)
        preds.append(model(x).float().cpu())
        labels.append(b["bvp"].float())
        k = b.get("key")
        keys += list(k) if k is not None else [str(len(keys) + i) for i in range(x.shape[0])]
    return torch.cat(preds).numpy(), torch.cat(labels).numpy(), keys


def evaluate_views(model, test_sets: dict, cfg: CrossViewConfig, device) -> dict:
    """Per view: MAE/RMSE of HR (FFT peak in eval.band), per-video abs errors, peak concentration.

    Predictions and labels in the ``diff_normalized`` label space are integrated and detrended
    first (:func:`common.to_pulse`): the FFT peak of a derivative is often a harmonic."""
    out = {}
    for view, ds in test_sets.items():
        if ds is None or len(ds) == 0:
            continue
        pred, bvp, keys = predict(model, ds, device, cfg.data.img_size)
        pred, det = common.to_pulse(pred, cfg.data.label_transform or cfg.data.transform)
        bvp, _ = common.to_pulse(bvp, cfg.data.label_transform or cfg.data.transform)
        hr_p = common.hr_bpm(pred, cfg.data.fs, cfg.eval.band, cfg.eval.resolution_bpm, detrend=det)
        hr_t = common.hr_bpm(bvp, cfg.data.fs, cfg.eval.band, cfg.eval.resolution_bpm, detrend=det)
        err = np.abs(hr_p - hr_t)
        per_video: dict[str, list[float]] = {}
        for k, e in zip(keys, err):
            vid = str(k).rsplit("#", 1)[0]
            per_video.setdefault(vid, []).append(float(e))
        out[view] = {"mae": float(err.mean()), "rmse": float(np.sqrt((err ** 2).mean())),
                     "n_clips": int(len(err)),
                     "peak_concentration": float(common.peak_concentration(pred, cfg.data.fs, cfg.eval.band,
                                                                            detrend=det).mean()),
                     "hr_pred": [float(h) for h in hr_p], "hr_true": [float(h) for h in hr_t],
                     "per_video_mae": {k: float(np.mean(v)) for k, v in per_video.items()}}
    return out


# ----------------------------------------------------------------------------- runs
def train_one(cfg: CrossViewConfig, seed: int, train_pairs, test_sets: dict, out_dir: Path, *,
              resume: bool = False, log: Callable[[str], None] = print) -> dict:
    """Train one seed and evaluate it per view; returns {"fit": ..., "views": ...}."""
    loop = dataclasses.replace(cfg.loop, seed=seed, out_dir=str(out_dir))
    run_cfg = dataclasses.replace(cfg, loop=loop)
    res: FitResult = fit(lambda device: CrossViewTask(run_cfg, device, train_pairs), run_cfg,
                         resume=resume, log=log)
    views = evaluate_views(res.task.model, test_sets, run_cfg, res.device)
    result = {"scheme": cfg.scheme, "seed": seed, "lam": cfg.lam, "steps": res.step,
              "seconds": res.seconds, "train_metrics": res.metrics, "views": views,
              "checkpoint": str(res.checkpoint) if res.checkpoint else None}
    write_json_on_main(Path(out_dir) / "eval.json", result)
    return result


def run_crossview(cfg: CrossViewConfig, *, data=None, resume: bool = False,
                  log: Callable[[str], None] = print) -> list[dict]:
    """Run every seed of ``cfg`` (and the λ sweep when ``run_lambda_sweep``); returns per-run results."""
    train_pairs, test_sets = data if data is not None else build_data(cfg)
    root = Path(cfg.loop.out_dir)
    results = []
    lams = cfg.lambda_sweep if (cfg.run_lambda_sweep and cfg.scheme in ("symmetric", "asymmetric")) else [cfg.lam]
    for lam in lams:
        c = dataclasses.replace(cfg, lam=float(lam))
        for seed in cfg.seeds:
            sub = root / (f"lam{lam:g}" if len(lams) > 1 else "") / f"seed{seed}"
            log(f"[crossview] scheme={cfg.scheme} lam={lam:g} seed={seed} -> {sub}")
            results.append(train_one(c, seed, train_pairs, test_sets, sub, resume=resume, log=log))
    write_json_on_main(root / "results.json", results)
    return results


def side_mae(views: dict) -> float:
    s = [views[v]["mae"] for v in views if v != "frontal"]
    return float(np.mean(s)) if s else float("nan")


def summarize(results: list[dict]) -> dict:
    """Per scheme (and λ): MAE mean±std over seeds per view and for the side views pooled, peak
    concentration; Wilcoxon B' vs A+ on per-video side errors (averaged over seeds)."""
    lams_per_scheme: dict[str, set] = {}
    for r in results:
        lams_per_scheme.setdefault(r["scheme"], set()).add(r["lam"])
    groups: dict[str, list[dict]] = {}
    for r in results:
        name = r["scheme"]
        if len(lams_per_scheme[name]) > 1:  # a λ sweep: one row per λ, never pooled
            name += f"@{r['lam']:g}"
        groups.setdefault(name, []).append(r)
    table = {}
    for name, rs in groups.items():
        row = {}
        views = sorted({v for r in rs for v in r["views"]}, key=lambda v: VIEWS.index(v) if v in VIEWS else 9)
        for v in views:
            row[v] = common.mean_std([r["views"][v]["mae"] for r in rs if v in r["views"]])
            row[v + "_peak_conc"] = common.mean_std([r["views"][v]["peak_concentration"] for r in rs if v in r["views"]])
        row["side"] = common.mean_std([side_mae(r["views"]) for r in rs])
        row["seeds"] = len(rs)
        table[name] = row
    out = {"table": table}

    def per_video_side(rs):
        acc: dict[str, list[float]] = {}
        for r in rs:
            for v, d in r["views"].items():
                if v == "frontal":
                    continue
                for k, e in d["per_video_mae"].items():
                    acc.setdefault(f"{v}/{k}", []).append(e)
        return {k: float(np.mean(v)) for k, v in acc.items()}

    if "asymmetric" in groups and "pooled-aug" in groups:
        b, a = per_video_side(groups["asymmetric"]), per_video_side(groups["pooled-aug"])
        keys = sorted(set(a) & set(b))
        out["wilcoxon_bprime_vs_aplus_side"] = common.wilcoxon([b[k] for k in keys], [a[k] for k in keys])
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
    w = summary.get("wilcoxon_bprime_vs_aplus_side")
    if w:
        lines.append(f"Wilcoxon B' vs A+ (side videos): p={w['p']:.3g}, r={w['r']:.2f}, n={w['n']}, "
                     f"improved={100 * w['improved']:.0f}%")
    return "\n".join(lines)
