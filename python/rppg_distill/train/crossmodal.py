"""RPM-Distill (paper 2, docs/METHODS.md §3): a frozen radar teacher teaches a video-only student.

Stages:
1. Radar-teacher pretraining (``RFConvDecoder``, radar [B, 10, T] -> pulse) on labelled pairs with
   L_sup (the authors did not publish this recipe; we train it on the same supervised loss).
2. Student training with the label-optional objective L = m_i L_sup + lam L_distill
   (``rppg_distill.losses.RPMDistillLoss``: modes sup_only / distill_only / sup_plus_distill, the
   per-sample label mask, the component/weight/gate ablations), where the three spectral components
   come from the fused core op, weighed per sample by the spectral policy network.
3. Every ``policy.meta_every`` student steps, the bilevel meta-step (:meth:`RPMTask.meta_step`):
   a virtual SGD step theta' = theta - eta grad_theta L_train(theta, phi) built with
   ``create_graph=True``, the labelled validation loss of ``functional_call(student, theta')`` in
   eval mode, and an Adam step on phi. The real student step then runs with the policy under
   no_grad.

Ablations (config): ``components`` without peak/off/shape; ``policy.use_weights: false`` (equal
alpha); ``policy.use_gate: false`` (g = 1); ``policy.enabled: false`` (no policy); ``policy.bilevel:
false`` (the policy is trained jointly on L_train by the main optimizer). Robustness:
``radar_shift_prob`` p of the training pairs get their radar window started ``radar_shift_seconds``
after the video clip's (:class:`ShiftedRadar`; the sweep over p is ``train/shift_sweep.py``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from rppg_distill.evaluate import evaluate_clips, get_protocol
from rppg_distill.evaluate.inference import predict, resize_video

from .config import CrossModalConfig, OptimConfig
from .distributed import write_json_on_main
from .loop import Task, build_optimizer, fit, load_checkpoint, unwrap


# ----------------------------------------------------------------------------- data wrappers
class ShiftedRadar(torch.utils.data.Dataset):
    """Training pairs of which a seeded fraction ``prob`` has its radar window start ``shift``
    samples after the video clip's (the paper's 30 steps = 1 s, METHODS.md §3), read from the
    recording itself by ``base.item(i, radar_offset=shift)``; and labels dropped outside
    ``label_fraction`` (has_label = False).

    A pair drawn for the shift whose recording has fewer than ``shift`` radar samples after the
    clip's window (``base.radar_room(i)``) stays aligned: it is counted in ``no_room`` and
    reported by :meth:`summary`, never wrapped around. The video and its label are never moved.
    """

    def __init__(self, base, prob: float, shift: int, label_fraction: float = 1.0, seed: int = 0):
        self.base = base
        self.shift = int(shift)
        g = torch.Generator().manual_seed(10_007 + seed)
        n = len(base)
        drawn = (torch.rand(n, generator=g) < prob).tolist() if prob > 0 else [False] * n
        keep = torch.rand(n, generator=g) < label_fraction
        self.labelled = keep.tolist() if label_fraction < 1 else [True] * n
        self.prob = float(prob)
        self.drawn = drawn if self.shift else [False] * n
        if any(self.drawn) and not (hasattr(base, "item") and hasattr(base, "radar_room")):
            raise TypeError(f"{type(base).__name__} cannot shift the radar window: it needs "
                            f"item(i, radar_offset) and radar_room(i) (VideoRadarPairs has them)")
        room = [d and base.radar_room(i) >= self.shift for i, d in enumerate(self.drawn)]
        self.shifted = room
        self.no_room = [i for i, (d, r) in enumerate(zip(self.drawn, room)) if d and not r]

    def summary(self) -> dict:
        """{"n", "prob", "shift", "drawn", "shifted", "no_room", "shifted_fraction"}."""
        n = len(self.shifted)
        k = sum(self.shifted)
        return {"n": n, "prob": self.prob, "shift": self.shift, "drawn": sum(self.drawn), "shifted": k,
                "no_room": len(self.no_room), "shifted_fraction": k / n if n else 0.0}

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        it = dict(self.base.item(i, self.shift) if self.shifted[i] else self.base[i])
        it["has_label"] = bool(it.get("has_label", True)) and self.labelled[i]
        return it


def build_data(cfg: CrossModalConfig):
    """(train, val, test) VideoRadarPairs datasets from the data layer."""
    from .data import crossmodal_datasets

    return crossmodal_datasets(cfg.data)


def _loss_fn(cfg: CrossModalConfig):
    from rppg_distill.losses import RPMDistillLoss

    p = cfg.policy
    return RPMDistillLoss(cfg.data.fs, cfg.band, cfg.lam, cfg.mode,
                          use_peak="peak" in cfg.components, use_off="off" in cfg.components,
                          use_shape="shape" in cfg.components,
                          equal_weights=(not p.enabled) or (not p.use_weights),
                          use_gate=p.enabled and p.use_gate)


# ----------------------------------------------------------------------------- teacher
class TeacherTask(Task):
    def __init__(self, cfg: CrossModalConfig, device, train):
        from rppg_distill.models import build_model

        self.cfg, self.device, self.train = cfg, device, train
        self.model = build_model("rf_conv_decoder")
        self.loss = _loss_fn(dataclasses.replace(cfg, mode="sup_only"))

    def train_dataset(self):
        return self.train

    def configure_optimizers(self, total_steps):
        t = self.cfg.teacher
        return build_optimizer(self.model.parameters(), OptimConfig(
            name="adamw", lr=t.lr, weight_decay=t.weight_decay, scheduler="onecycle", grad_clip=1.0), total_steps)

    def training_step(self, model, batch, step):
        radar = batch["radar"].to(self.device).float()
        y = batch["bvp"].to(self.device).float()
        pred = model(radar).float().contiguous()
        sup, _ = self.loss.supervised(pred, y, batch["has_label"].to(self.device))
        return sup, {"sup": sup.detach()}


# ----------------------------------------------------------------------------- student
class RPMTask(Task):
    """The student trained with RPM-Distill; ``teacher`` frozen, ``policy`` meta-learned."""

    def __init__(self, cfg: CrossModalConfig, device, train, val, teacher_state: dict | None):
        from rppg_distill.models import build_model, input_size_kwargs

        from .init_from import build_student

        self.cfg, self.device, self.train, self.val = cfg, device, train, val
        kw = {**input_size_kwargs(cfg.model.name, cfg.data.img_size), **cfg.model.kwargs}
        self.model = build_student(cfg.model.name, kw, cfg.model.init_from, cfg.data)
        self.teacher = build_model("rf_conv_decoder")
        if teacher_state is not None:
            self.teacher.load_state_dict(teacher_state)
        self.teacher.eval().requires_grad_(False)
        self._teacher_out: dict[bytes, torch.Tensor] = {}
        self.policy = build_model("spectral_policy", rank=cfg.policy.rank)
        # One loss for the real step and the bilevel virtual step: the fused core op. The virtual
        # step differentiates L_train with create_graph=True; the fused op's backward is a kernel
        # (not itself differentiable), so RPMDistillLoss linearizes the components there
        # (``linearize_components``, on by default): same values and first-order gradients, and the
        # student gradient keeps its dependence on the policy's weights and gate.
        self.loss = _loss_fn(cfg)
        assert self.loss.linearize_components
        self.use_policy = cfg.policy.enabled and cfg.mode != "sup_only"
        self.bilevel = self.use_policy and cfg.policy.bilevel
        self.policy_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.policy.lr)
        self._policy_ddp = None
        self.meta_count = 0
        self.policy_log: list[dict] = []

    # -- loop protocol --------------------------------------------------------------------
    def modules(self):
        return {"model": self.model, "teacher": self.teacher, "policy": self.policy}

    def train_dataset(self):
        return self.train

    def configure_optimizers(self, total_steps):
        params = list(self.model.parameters())
        if self.use_policy and not self.bilevel:      # "w/o bilevel": policy trained on L_train
            params += list(self.policy.parameters())
        self._opt, sched = build_optimizer(params, self.cfg.optim, total_steps)
        return self._opt, sched

    def extra_state(self):
        return {"policy_opt": self.policy_opt.state_dict(), "meta_count": self.meta_count}

    def load_extra_state(self, state):
        if "policy_opt" in state:
            self.policy_opt.load_state_dict(state["policy_opt"])
            self.meta_count = int(state.get("meta_count", 0))

    # -- pieces ---------------------------------------------------------------------------
    def _video(self, v):
        return resize_video(v.to(self.device).float(), self.cfg.data.img_size)

    def _teacher(self, radar):
        """Frozen teacher's pulse [B, T] for radar [B, 10, T]. The teacher is fixed (eval mode, no
        gradient), so each distinct radar window is run once and its output kept (keyed by the
        window's bytes): epochs after the first, and the bilevel step, reuse it."""
        import hashlib

        x = radar.detach().float().cpu().contiguous()
        keys = [hashlib.blake2b(r.numpy().tobytes(), digest_size=16).digest() for r in x]
        todo = [i for i, k in enumerate(keys) if k not in self._teacher_out]
        if todo:
            with torch.no_grad():
                out = self.teacher(x[todo].to(self.device)).float()
            for j, i in enumerate(todo):
                self._teacher_out[keys[i]] = out[j].detach()
        return torch.stack([self._teacher_out[k] for k in keys]).to(self.device).contiguous()

    def _policy_net(self):
        """The policy as training calls it: DDP-wrapped when distributed (in every ablation that
        trains it: the bilevel meta-step and "w/o bilevel"), so its gradients are averaged over
        ranks and the replicas stay equal. Wrapped on first use, after the loop moved it to the
        device; ``self.policy`` stays the bare module (checkpoints, optimizer)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self.policy
        if self._policy_ddp is None:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            # a switched-off head (w/o weights, w/o gate) gets no gradient
            self._policy_ddp = DDP(self.policy, device_ids=ids, find_unused_parameters=True)
        return self._policy_ddp

    def _policy(self, s, t, grad: bool):
        if not self.use_policy:
            return None, None
        from rppg_distill.losses import policy_input

        rel = policy_input(s, t, self.cfg.data.fs, self.cfg.band)
        with torch.set_grad_enabled(grad):
            alpha, gate = self._policy_net()(rel)
        return alpha, gate

    def objective(self, s, t, batch, alpha, gate, loss=None):
        y = batch["bvp"].to(self.device).float()
        mask = batch["has_label"].to(self.device)
        return (loss or self.loss)(s, t, y, mask, alpha, gate)

    def meta_step(self, batch, val_batch) -> dict:
        """One bilevel update of the policy; returns diagnostics (val loss, policy grad norm)."""
        student = unwrap(self.model)
        params = dict(student.named_parameters())
        buffers = {k: v.clone() for k, v in student.named_buffers()}   # the virtual step must not
        x = self._video(batch["video"])                                # touch the real BN stats
        t = self._teacher(batch["radar"])
        self.policy.train()
        s = functional_call(student, (params, buffers), (x,)).float().contiguous()
        alpha, gate = self._policy(s, t, grad=True)
        l_train = self.objective(s, t, batch, alpha, gate).total
        names = [k for k, v in params.items() if v.requires_grad]
        grads = torch.autograd.grad(l_train, [params[k] for k in names], create_graph=True,
                                    allow_unused=True)
        eta = self.lr
        virt = dict(params)
        for k, g in zip(names, grads):
            if g is not None:
                virt[k] = params[k] - eta * g
        was_training = student.training
        student.eval()
        xv = self._video(val_batch["video"])
        sv = functional_call(student, (virt, buffers), (xv,)).float().contiguous()
        student.train(was_training)
        yv = val_batch["bvp"].to(self.device).float()
        l_val, _ = self.loss.supervised(sv, yv, None)
        self.policy_opt.zero_grad(set_to_none=True)
        # only the policy's .grad is written (the student's stays untouched); under DDP the
        # policy wrapper averages it over ranks during this backward
        torch.autograd.backward(l_val, inputs=list(self.policy.parameters()))
        gnorm = torch.sqrt(sum(((p.grad ** 2).sum() for p in self.policy.parameters()
                                if p.grad is not None), torch.zeros(())))
        self.policy_opt.step()
        self.meta_count += 1
        return {"meta_val_loss": float(l_val.detach()), "meta_policy_grad_norm": float(gnorm)}

    def _val_batch(self):
        idx = [(self.meta_count * self.cfg.loop.batch_size + j) % len(self.val)
               for j in range(self.cfg.loop.batch_size)]
        return torch.utils.data.default_collate([self.val[i] for i in idx])

    lr: float = 0.0

    def training_step(self, model, batch, step):
        metrics: dict[str, Any] = {}
        self.lr = self.cfg.optim.lr if not hasattr(self, "_opt") else self._opt.param_groups[0]["lr"]
        if self.bilevel and self.val is not None and len(self.val) and step % self.cfg.policy.meta_every == 0:
            metrics.update(self.meta_step(batch, self._val_batch()))
        x = self._video(batch["video"])
        t = self._teacher(batch["radar"])
        s = model(x).float().contiguous()
        alpha, gate = self._policy(s, t, grad=self.use_policy and not self.bilevel)
        terms = self.objective(s, t, batch, alpha, gate)
        metrics.update({"sup": terms.sup.detach(), "distill": terms.distill.detach()})
        if self.cfg.log_policy and terms.gate is not None:
            comps = terms.components.detach().cpu() if terms.components is not None else None
            for i in range(s.shape[0]):
                self.policy_log.append({
                    "step": step, "key": str(batch.get("key", [""] * s.shape[0])[i]),
                    "gate": float(terms.gate.detach().reshape(-1)[i]),
                    "alpha": [float(a) for a in terms.alpha.detach()[i]],
                    "components": [float(c) for c in comps[i]] if comps is not None else None})
        if terms.gate is not None:
            metrics["gate_mean"] = terms.gate.detach().mean()
        return terms.total, metrics


# ----------------------------------------------------------------------------- evaluation
def hr_protocol(cfg: CrossModalConfig):
    """Paper 2's ``rpm_distill`` HR protocol (Butterworth order 6 + periodogram, docs/METHODS.md §3) with
    the config's band and resolution."""
    return get_protocol("rpm_distill").with_(band=tuple(cfg.eval.band), resolution_bpm=cfg.eval.resolution_bpm)


def evaluate_student(model, test, cfg: CrossModalConfig, device=None) -> dict:
    """HR metrics over test clips (MAE, RMSE, STD of the error, Pearson r, ...; docs/METHODS.md §3):
    ``evaluate_clips`` of ``predict``'s output under :func:`hr_protocol`."""
    p = predict(model, test, img_size=cfg.data.img_size, device=device)
    return evaluate_clips(p.pred, p.label, cfg.data.fs, hr_protocol(cfg),
                          label_transform=cfg.data.label_transform or cfg.data.transform, keys=p.keys)


def plot_policy(log: list[dict], path: Path) -> Path | None:
    if not log:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = np.array([r["gate"] for r in log])
    a = np.array([r["alpha"] for r in log])
    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    ax[0].hist(g, bins=30, range=(0, 1))
    ax[0].set_title("gate g per sample")
    for j, name in enumerate(("peak", "off", "shape")):
        ax[1].hist(a[:, j], bins=30, range=(0, 1), alpha=0.5, label=name)
    ax[1].set_title("alpha per sample")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- runs
def pretrain_teacher(cfg: CrossModalConfig, train, out_dir: Path, *, log=print) -> dict:
    if cfg.teacher.checkpoint:
        return load_checkpoint(cfg.teacher.checkpoint)["modules"]["model"]
    loop = dataclasses.replace(cfg.loop, epochs=cfg.teacher.epochs, batch_size=cfg.teacher.batch_size,
                               out_dir=str(out_dir), max_steps=0)
    teacher_cfg = dataclasses.replace(cfg, loop=loop, optim=dataclasses.replace(cfg.optim, grad_clip=1.0))
    res = fit(lambda device: TeacherTask(cfg, device, train), teacher_cfg, log=log)
    return {k: v.detach().cpu() for k, v in res.task.model.state_dict().items()}


def train_student(cfg: CrossModalConfig, seed: int, train, val, test, teacher_state, out_dir: Path, *,
                  resume: bool = False, log: Callable[[str], None] = print) -> dict:
    out_dir = Path(out_dir)
    loop = dataclasses.replace(cfg.loop, seed=seed, out_dir=str(out_dir))
    run_cfg = dataclasses.replace(cfg, loop=loop)
    shift = int(round(cfg.radar_shift_seconds * cfg.data.fs))
    train_w = ShiftedRadar(train, cfg.radar_shift_prob, shift, cfg.label_fraction, seed)
    shift_info = train_w.summary()
    if cfg.radar_shift_prob > 0:
        log(f"[crossmodal] radar shift p={cfg.radar_shift_prob:g} by {shift} samples: {shift_info['shifted']} of "
            f"{shift_info['n']} training pairs shifted; {shift_info['no_room']} drawn but without {shift} radar "
            f"samples after the clip (kept aligned)")
    res = fit(lambda device: RPMTask(run_cfg, device, train_w, val, teacher_state), run_cfg,
              resume=resume, log=log)
    task: RPMTask = res.task
    metrics = evaluate_student(task.model, test, run_cfg, res.device) if test is not None and len(test) else {}
    result = {"mode": cfg.mode, "seed": seed, "radar_shift_prob": cfg.radar_shift_prob, "radar_shift": shift_info,
              "policy": dataclasses.asdict(cfg.policy), "components": cfg.components,
              "steps": res.step, "seconds": res.seconds, "test": metrics,
              "checkpoint": str(res.checkpoint) if res.checkpoint else None}
    if task.policy_log and res.is_main:
        with open(out_dir / "policy_log.jsonl", "w") as fh:
            for r in task.policy_log:
                fh.write(json.dumps(r) + "\n")
        plot_policy(task.policy_log, out_dir / "policy_distributions.png")
        g = np.array([r["gate"] for r in task.policy_log])
        result["gate_mean"], result["gate_std"] = float(g.mean()), float(g.std())
    write_json_on_main(out_dir / "eval.json", result)
    return result


def run_crossmodal(cfg: CrossModalConfig, *, data=None, resume: bool = False, teacher_state=None,
                   log: Callable[[str], None] = print) -> list[dict]:
    train, val, test = data if data is not None else build_data(cfg)
    root = Path(cfg.loop.out_dir)
    if teacher_state is None and cfg.mode != "sup_only":
        log("[crossmodal] pretraining the radar teacher")
        teacher_state = pretrain_teacher(cfg, train, root / "teacher", log=log)
    results = []
    for seed in cfg.seeds:
        results.append(train_student(cfg, seed, train, val, test, teacher_state, root / f"seed{seed}",
                                     resume=resume, log=log))
    write_json_on_main(root / "results.json", results)
    return results


def shift_robustness(cfg: CrossModalConfig, probs=None, *, seeds=None, data=None, log=print) -> dict:
    """The radar-shift sweep (gated vs ungated over probabilities and seeds):
    :func:`rppg_distill.train.shift_sweep.shift_sweep`."""
    from .shift_sweep import PAPER_PROBS, shift_sweep

    return shift_sweep(cfg, PAPER_PROBS if probs is None else probs, seeds, data=data, log=log)
