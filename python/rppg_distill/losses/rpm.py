"""RPM-Distill objective (docs/METHODS.md §3.2): label-optional supervision + gated spectral distillation.

Per sample i, with the three components ``(L_peak, L_off, L_shape)`` of
:func:`rppg_distill.spectral.rpm_components` (teacher side constant):

    L_distill = mean_i g_i * (a_i1 L_peak,i + a_i2 L_off,i + a_i3 L_shape,i)
    L         = mean_i m_i * L_sup,i + lambda * L_distill

``L_sup = 0.01*NegPearson + 1.0*SNR-loss`` and ``m_i = 1`` where sample i has a label. The
supervised mean runs over the whole batch (unlabelled samples add 0), so a batch with no labels
has a zero supervised term; unlabelled samples' labels are never read.

Modes: ``sup_only`` (no distillation; the teacher may be None), ``distill_only`` (labels
ignored), ``sup_plus_distill``.

Ablation switches: ``use_peak/use_off/use_shape=False`` drop a component (the others keep their
weights, no renormalization); ``equal_weights=True`` uses ``a = 1/3`` each ("w/o weights");
``use_gate=False`` uses ``g = 1`` ("w/o gate"). Passing ``alpha=None`` / ``gate=None`` to
``forward`` (no policy network: "w/o policy") also gives ``a = 1/3`` and ``g = 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .supervised import rpm_supervised_loss

MODES = ("sup_only", "distill_only", "sup_plus_distill")


@dataclass
class RPMTerms:
    """Everything the trainer logs. Per-sample tensors are ``[B]`` (components ``[B, 3]``)."""

    total: torch.Tensor
    sup: torch.Tensor  # scalar: mean_i m_i L_sup,i
    distill: torch.Tensor  # scalar: L_distill (0 in sup_only)
    sup_per_sample: torch.Tensor | None
    distill_per_sample: torch.Tensor | None
    components: torch.Tensor | None  # [B, 3] (peak, off, shape), before weighting
    alpha: torch.Tensor | None  # [B, 3] weights actually used
    gate: torch.Tensor | None  # [B] gate actually used
    teacher_centroid: torch.Tensor | None
    peak_ratio: torch.Tensor | None


def log_spectra(x: torch.Tensor, fs: float, band=(0.75, 3.0), *, psd_fn=None) -> torch.Tensor:
    """Z-scored log band spectrum ``l [B, K]`` as used by RPM-Distill (docs/METHODS.md §1.3).

    Mean removal, periodic Hann, rfft bins with n = T inside the band (inclusive),
    ``l_raw = log(P + 1e-8)``, z-scored over k with the population std (+1e-8).
    ``psd_fn`` defaults to :func:`rppg_distill.spectral.band_psd`.
    """
    if psd_fn is None:
        from rppg_distill.spectral import band_psd as psd_fn
    p = psd_fn(x, fs, band, window="hann", periodic=True, demean=True, normalize=False)
    raw = torch.log(p + 1e-8)
    mu = raw.mean(dim=1, keepdim=True)
    sd = raw.std(dim=1, keepdim=True, unbiased=False)
    return (raw - mu) / (sd + 1e-8)


def policy_input(student: torch.Tensor, teacher: torch.Tensor, fs: float, band=(0.75, 3.0), *,
                 detach: bool = True, psd_fn=None) -> torch.Tensor:
    """The spectral relation map ``[B, 3, K] = stack(l_s, l_t, |l_s - l_t|)`` for the policy.

    ``detach=True`` (default) makes it a constant reading of the spectra: the policy then gets
    gradients only through the weights/gate it outputs, and the student none through this path.
    """
    ls = log_spectra(student.detach() if detach else student, fs, band, psd_fn=psd_fn)
    lt = log_spectra(teacher.detach(), fs, band, psd_fn=psd_fn)
    return torch.stack([ls, lt, (ls - lt).abs()], dim=1)


class RPMDistillLoss(nn.Module):
    """Label-optional RPM-Distill objective.

    Args:
        fs: sampling rate (30 Hz).
        band: band in Hz (45-180 bpm = 0.75-3.0 Hz).
        lam: distillation weight lambda (1.0).
        mode: "sup_only", "distill_only" or "sup_plus_distill".
        use_peak, use_off, use_shape: component switches (ablations "w/o L_peak/off/shape").
        equal_weights: fixed a = 1/3 ("w/o weights").
        use_gate: False gives g = 1 ("w/o gate").
        w_pearson, w_snr: supervised weights (0.01, 1.0).
        components_fn: override of :func:`rppg_distill.spectral.rpm_components` (e.g. the pure
            torch reference); same signature.
        linearize_components: when the student requires grad and alpha or the gate carry a
            graph (the bilevel virtual step), route the component gradients through a
            linearization so ``create_graph=True`` keeps the policy in the student gradient
            (the fused op's backward is not double-differentiable). Same values and first-order
            gradients; costs one fused backward per component. See :meth:`_linearize`.

    forward(student [B, T], teacher [B, T] or None, label [B, T] or None, label_mask [B] or
    None (None = all labelled when a label is given), alpha [B, 3] or None, gate [B, 1]/[B] or
    None) -> :class:`RPMTerms`.
    """

    def __init__(self, fs: float = 30.0, band=(0.75, 3.0), lam: float = 1.0,
                 mode: str = "sup_plus_distill", *, use_peak: bool = True, use_off: bool = True,
                 use_shape: bool = True, equal_weights: bool = False, use_gate: bool = True,
                 w_pearson: float = 0.01, w_snr: float = 1.0, components_fn=None,
                 linearize_components: bool = True):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.fs, self.band, self.lam, self.mode = float(fs), tuple(band), float(lam), mode
        self.use_peak, self.use_off, self.use_shape = use_peak, use_off, use_shape
        self.equal_weights, self.use_gate = equal_weights, use_gate
        self.w_pearson, self.w_snr = w_pearson, w_snr
        self.components_fn = components_fn
        self.linearize_components = linearize_components

    # -- pieces ---------------------------------------------------------------------------
    def supervised(self, student, label, label_mask=None):
        """``(mean_i m_i L_sup,i, per-sample [B] with zeros where unlabelled)``."""
        b = student.shape[0]
        if label is None:
            z = student.new_zeros(())
            return z, student.new_zeros(b)
        if label_mask is None:
            mask = torch.ones(b, dtype=torch.bool, device=student.device)
        else:
            mask = torch.as_tensor(label_mask, device=student.device).reshape(b).bool()
        idx = torch.nonzero(mask).flatten()
        per = student.new_zeros(b)
        if idx.numel() == 0:
            return student.sum() * 0.0, per
        vals = rpm_supervised_loss(student[idx], label[idx].to(student.dtype), self.fs,
                                   self.band, w_pearson=self.w_pearson, w_snr=self.w_snr,
                                   reduction="none")
        per = per.index_add(0, idx, vals)
        return per.sum() / b, per

    def components(self, student, teacher):
        fn = self.components_fn
        if fn is None:
            from rppg_distill.spectral import rpm_components as fn
        return fn(student, teacher.detach(), self.fs, self.band)

    def aggregate(self, comps, alpha=None, gate=None):
        """Per-sample ``g_i * sum_j a_ij * mask_j * L_ij`` -> ``([B], alpha used, gate used)``."""
        b = comps.shape[0]
        keep = comps.new_tensor([float(self.use_peak), float(self.use_off),
                                 float(self.use_shape)])
        if alpha is None or self.equal_weights:
            alpha = comps.new_full((b, 3), 1.0 / 3.0)
        if gate is None or not self.use_gate:
            gate = comps.new_ones(b)
        gate = gate.reshape(b)
        return gate * (alpha * keep * comps).sum(dim=1), alpha, gate

    def _coefficients_need_graph(self, student, alpha, gate) -> bool:
        if not (self.linearize_components and torch.is_grad_enabled() and student.requires_grad):
            return False
        a = alpha is not None and alpha.requires_grad and not self.equal_weights
        g = gate is not None and gate.requires_grad and self.use_gate
        return a or g

    @staticmethod
    def _linearize(comps, student):
        """Same value and same first-order gradients, but d(loss)/d(student) stays
        differentiable with respect to the weights and the gate.

        The fused core op's backward is a kernel, not a differentiable graph, so
        ``autograd.grad(..., create_graph=True)`` (the bilevel virtual step) would lose the
        dependence of the student gradient on the policy outputs. Here
        ``comps_j = stop(comps_j) + <G_j, student - stop(student)>`` with
        ``G_j = d(sum_i comps_ij)/d(student)`` (one fused backward per component; samples are
        independent, so row i of G_j is the gradient of comps_ij). The student gradient then
        reads ``sum_j c_ij G_j[i]`` with the coefficients c = g*alpha kept in the graph, which is
        exactly what the policy's meta-gradient needs (second derivatives of the components
        w.r.t. the student do not enter it).
        """
        delta = student - student.detach()
        cols = []
        for j in range(comps.shape[1]):
            (gj,) = torch.autograd.grad(comps[:, j].sum(), student, retain_graph=True,
                                        allow_unused=True)
            if gj is None:
                gj = torch.zeros_like(student)
            cols.append((gj.detach() * delta).sum(dim=1))
        return comps.detach() + torch.stack(cols, dim=1)

    # -- objective --------------------------------------------------------------------------
    def forward(self, student, teacher=None, label=None, label_mask=None, alpha=None,
                gate=None) -> RPMTerms:
        if student.dim() != 2:
            raise ValueError(f"student must be [B, T], got shape {tuple(student.shape)}")
        zero = student.new_zeros(())
        sup, sup_per = zero, None
        if self.mode in ("sup_only", "sup_plus_distill"):
            sup, sup_per = self.supervised(student, label, label_mask)
        distill, per = zero, None
        comps = alpha_u = gate_u = centroid = ratio = None
        if self.mode in ("distill_only", "sup_plus_distill"):
            if teacher is None:
                raise ValueError(f"mode {self.mode!r} needs the teacher prediction")
            if teacher.shape != student.shape:
                raise ValueError(f"teacher {tuple(teacher.shape)} and student "
                                 f"{tuple(student.shape)} differ")
            comps, centroid, ratio = self.components(student, teacher)
            if self._coefficients_need_graph(student, alpha, gate):
                comps = self._linearize(comps, student)
            per, alpha_u, gate_u = self.aggregate(comps, alpha, gate)
            distill = per.mean()
        total = sup + self.lam * distill
        return RPMTerms(total=total, sup=sup, distill=distill, sup_per_sample=sup_per,
                        distill_per_sample=per, components=comps, alpha=alpha_u, gate=gate_u,
                        teacher_centroid=centroid, peak_ratio=ratio)

    @classmethod
    def from_ablation(cls, name: str, **kwargs) -> RPMDistillLoss:
        """Build the loss for an ablation name of docs/METHODS.md §3.5.

        ``full``, ``wo_peak``, ``wo_off``, ``wo_shape``, ``wo_weights``, ``wo_gate``,
        ``wo_policy`` (equal weights and g = 1), ``wo_bilevel`` (the loss is the full one; the
        trainer changes how the policy is optimized).
        """
        table = {
            "full": {}, "wo_bilevel": {},
            "wo_peak": {"use_peak": False}, "wo_off": {"use_off": False},
            "wo_shape": {"use_shape": False}, "wo_weights": {"equal_weights": True},
            "wo_gate": {"use_gate": False},
            "wo_policy": {"equal_weights": True, "use_gate": False},
        }
        key = name.strip().lower().replace("-", "_").replace("/", "_").replace(" ", "_")
        key = key.replace("w_o_", "wo_")
        if key not in table:
            raise ValueError(f"unknown ablation {name!r}; known: {', '.join(table)}")
        return cls(**{**table[key], **kwargs})


def rpm_distill_loss(student, teacher=None, label=None, label_mask=None, alpha=None, gate=None,
                     **options) -> RPMTerms:
    """Functional form of :class:`RPMDistillLoss` (stateless, so the two are one computation).

    Args:
        student, teacher, label, label_mask, alpha, gate: as ``RPMDistillLoss.forward``.
        **options: ``RPMDistillLoss`` arguments (``fs``, ``band``, ``lam``, ``mode``, switches).
    """
    return RPMDistillLoss(**options)(student, teacher, label, label_mask, alpha, gate)
