"""Torch face: one registered op per spectral op, and one eager fast path on the CPU.

Each op is ``torch.library.custom_op`` + ``register_fake`` + ``register_autograd`` (its backward is
a custom op too); it serves CUDA tensors, torch.compile, torch.export and tensor subclasses. Its
arguments are the tensors and the nine options of a :class:`~rppg_distill.spectral._plan.Plan`
(``plan.args``). Plain CPU tensors in eager mode skip the dispatcher: a small autograd.Function
calls the plan's core methods on numpy views of the tensors (about half the fixed per-call cost).
Both paths run the same kernels through the same plan.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

import rppg_distill
from rppg_distill.spectral._grid import check_mode, check_reduction
from rppg_distill.spectral._plan import Plan, get_plan, plan_of

_EAGER_TYPES = (torch.Tensor, torch.nn.Parameter)
_is_compiling = torch.compiler.is_compiling
_grad_enabled = torch.is_grad_enabled
_from_numpy = torch.from_numpy
_functorch_active = torch._C._are_functorch_transforms_active


def _once(backward):
    """once_differentiable where it matters: under create_graph (grad mode on in the backward) the
    outputs refuse a second differentiation; a plain backward (grad mode off) skips its no_grad
    block and checks, which cost about a tenth of a small call."""
    strict = torch.autograd.function.once_differentiable(backward)

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        return strict(ctx, *grads) if _grad_enabled() else backward(ctx, *grads)

    return wrapper


def _apply(fn_class):
    """fn_class.apply without torch.autograd.Function.apply's Python bookkeeping (about a third of
    its cost); that bookkeeping serves functorch transforms, which the eager path never sees."""
    return super(torch.autograd.Function, fn_class).apply


def _eager(x) -> bool:
    """A plain CPU tensor outside torch.compile and functorch transforms: the eager fast path applies."""
    return type(x) in _EAGER_TYPES and x.is_cpu and not (_is_compiling() or _functorch_active())


def _np(x) -> np.ndarray:
    return x.detach().numpy() if x.requires_grad else x.numpy()


@functools.lru_cache(maxsize=1)
def cuda_module():
    """rppg_distill.spectral._cuda, or a RuntimeError saying why CUDA tensors cannot be used."""
    if not rppg_distill.has_cuda():
        raise RuntimeError("got a CUDA tensor, but the rppg_distill core was built without CUDA "
                           "(rppg_distill.has_cuda() is False); move the tensor to the CPU or "
                           "rebuild with nvcc available")
    try:
        from rppg_distill.spectral import _cuda
    except ImportError as err:
        raise RuntimeError(f"CUDA spectral kernels are not available: {err}") from err
    return _cuda


def _on_device(plan: Plan, name: str, tensors, *flags):
    """Method `name` of the plan's face for the tensors' device; tensor(s) out (None passes through).

    CPU: ``plan.core.<name>`` on numpy views (zero copy), results via torch.from_numpy.
    CUDA: ``_cuda.<name>(plan, *tensors, *flags)`` (outputs allocated by torch on the device).
    """
    dev = tensors[0].device
    if dev.type == "cpu":
        out = getattr(plan.core, name)(*[a.detach().numpy() for a in tensors], *flags)
        if isinstance(out, np.ndarray):
            return _from_numpy(out)
        return tuple(None if o is None else _from_numpy(o) for o in out)
    if dev.type == "cuda":
        return getattr(cuda_module(), name)(plan, *tensors, *flags)
    raise RuntimeError(f"unsupported device {dev}: rppg_distill spectral ops run on cpu or cuda")


def _check(x, name: str, allow_1d: bool = False) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch tensor like the other input, got {type(x).__name__}")
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if x.dim() != 2 and not (allow_1d and x.dim() == 1):
        shape = "[B, T] or [T]" if allow_1d else "[B, T]"
        raise ValueError(f"{name} must be {shape}, got shape {tuple(x.shape)}")
    if not x.is_contiguous():
        raise ValueError(f"{name} must be contiguous (call .contiguous())")


def _check_pair(s, t) -> None:
    _check(s, "student")
    _check(t, "teacher")
    if s.shape != t.shape:
        raise ValueError(f"student and teacher shapes differ: {tuple(s.shape)} vs {tuple(t.shape)}")
    if s.dtype != t.dtype:
        raise TypeError(f"student and teacher dtypes differ: {s.dtype} vs {t.dtype}")
    if s.device != t.device:
        raise ValueError(f"student and teacher devices differ: {s.device} vs {t.device}")


def _check_batch(B: int) -> None:
    if B == 0:
        raise ValueError("student and teacher have an empty batch (B = 0): need at least one row")


def _eager_pair(s, t) -> bool:
    """Plain 2-D CPU tensors outside torch.compile and functorch transforms (see _eager)."""
    return type(t) in _EAGER_TYPES and t.is_cpu and _eager(s) and s.dim() == 2


def _fake_plan(T, args) -> Plan:
    return plan_of(int(T), *args)


# ---------------------------------------------------------------- band_psd
@torch.library.custom_op("rppg_distill::band_psd", mutates_args=())
def band_psd_op(x: Tensor, fs: float, lo: float, hi: float, n_fft: int, step_hz: float, window: str,
                periodic: bool, demean: bool, eps: float, normalize: bool) -> tuple[Tensor, Tensor, Tensor]:
    """x [B, T] -> (out [B, K], re [B, K], im [B, K])."""
    plan = plan_of(x.shape[1], fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    return _on_device(plan, "band_psd_forward", (x,), normalize)


@band_psd_op.register_fake
def _(x, *args):
    K = _fake_plan(x.shape[1], args[:9]).K
    return tuple(x.new_empty(x.shape[0], K) for _ in range(3))


@torch.library.custom_op("rppg_distill::band_psd_backward", mutates_args=())
def band_psd_backward_op(grad_out: Tensor, out: Tensor, re: Tensor, im: Tensor, T: int, fs: float, lo: float,
                         hi: float, n_fft: int, step_hz: float, window: str, periodic: bool, demean: bool,
                         eps: float, normalize: bool) -> Tensor:
    """grad_out [B, K] -> grad_x [B, T]."""
    plan = plan_of(T, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    return _on_device(plan, "band_psd_backward", (grad_out, out, re, im), normalize)


@band_psd_backward_op.register_fake
def _(grad_out, out, re, im, T, *args):
    return re.new_empty(re.shape[0], T)


def _band_psd_setup(ctx, inputs, output):
    ctx.save_for_backward(*output)
    ctx.T, ctx.params = inputs[0].shape[1], inputs[1:]


def _band_psd_bwd(ctx, g_out, g_re, g_im):
    gx = band_psd_backward_op(g_out.contiguous(), *ctx.saved_tensors, ctx.T, *ctx.params)
    return (gx,) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::band_psd", _band_psd_bwd, setup_context=_band_psd_setup)


class _BandPSDEager(torch.autograd.Function):
    """Eager CPU band_psd through plan.core; re/im stay numpy, the output is saved as a tensor."""

    @staticmethod
    def forward(ctx, x, plan, normalize):
        out, re, im = plan.core.band_psd_forward(x.numpy(), normalize)
        out = _from_numpy(out)
        ctx.save_for_backward(out)  # in-place changes of the returned tensor are caught
        ctx.st = (plan, re, im, normalize)
        return out

    @staticmethod
    @_once
    def backward(ctx, g):
        plan, re, im, normalize = ctx.st
        (out,) = ctx.saved_tensors
        return _from_numpy(plan.core.band_psd_backward(g.numpy(), out.numpy(), re, im, normalize)), None, None


_band_psd_eager = _apply(_BandPSDEager)


def band_psd(x, fs, band, n_fft, step_hz, window, periodic, demean, normalize, eps):
    if not isinstance(x, Tensor) or x.dim() not in (1, 2):
        _check(x, "x", allow_1d=True)
    squeeze = x.dim() == 1
    x2 = x.unsqueeze(0) if squeeze else x
    plan = get_plan(x2.shape[1], fs, band, n_fft, step_hz, window, periodic, demean, eps)
    normalize = bool(normalize)
    if _eager(x):
        if _grad_enabled() and x.requires_grad:
            out = _band_psd_eager(x2, plan, normalize)
        else:
            out = _from_numpy(plan.core.band_psd_forward(_np(x2), normalize)[0])
    else:
        _check(x2, "x")
        out = band_psd_op(x2, *plan.args, normalize)[0]
    return out[0] if squeeze else out


# ---------------------------------------------------------------- psd_kl
@torch.library.custom_op("rppg_distill::psd_kl", mutates_args=())
def psd_kl_op(student: Tensor, teacher: Tensor, fs: float, lo: float, hi: float, n_fft: int, step_hz: float,
              window: str, periodic: bool, demean: bool, eps: float,
              symmetric: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> (loss [B], ps, pt, re_s, im_s, re_t, im_t [B, K])."""
    plan = plan_of(student.shape[1], fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    return _on_device(plan, "psd_kl_forward", (student, teacher))


@psd_kl_op.register_fake
def _(student, teacher, *args):
    B, K = student.shape[0], _fake_plan(student.shape[1], args[:9]).K
    return (student.new_empty(B),) + tuple(student.new_empty(B, K) for _ in range(6))


@torch.library.custom_op("rppg_distill::psd_kl_backward", mutates_args=())
def psd_kl_backward_op(grad_loss: Tensor, ps: Tensor, pt: Tensor, re_s: Tensor, im_s: Tensor, re_t: Tensor,
                       im_t: Tensor, T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float,
                       window: str, periodic: bool, demean: bool, eps: float,
                       symmetric: bool) -> tuple[Tensor, Tensor]:
    """-> (grad_student [B, T], grad_teacher [B, T]; zeros when not symmetric)."""
    plan = plan_of(T, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    gs, gt = _on_device(plan, "psd_kl_backward", (grad_loss, ps, pt, re_s, im_s, re_t, im_t), symmetric)
    return gs, (gt if gt is not None else torch.zeros_like(gs))


@psd_kl_backward_op.register_fake
def _(grad_loss, ps, pt, re_s, im_s, re_t, im_t, T, *args):
    return ps.new_empty(ps.shape[0], T), ps.new_empty(ps.shape[0], T)


def _psd_kl_setup(ctx, inputs, output):
    ctx.save_for_backward(*output[1:])
    ctx.T, ctx.params = inputs[0].shape[1], inputs[2:]


def _psd_kl_bwd(ctx, g_loss, *unused):
    gs, gt = psd_kl_backward_op(g_loss.contiguous(), *ctx.saved_tensors, ctx.T, *ctx.params)
    symmetric = ctx.params[-1]
    return (gs, gt if symmetric else None) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::psd_kl", _psd_kl_bwd, setup_context=_psd_kl_setup)


class _PSDKLEager(torch.autograd.Function):
    """Eager CPU psd_kl: one core call computes the loss (reduced in the core when scale != 0) and
    its gradients; the saved state is the gradients themselves, the backward multiplies."""

    @staticmethod
    def forward(ctx, student, teacher, plan, need_s, need_t, scale):
        loss, gs, gt = plan.core.psd_kl_fused(student.numpy(), teacher.numpy(), need_s, need_t, scale)
        ctx.st = (gs, gt, scale)  # kept: a retained graph may run the backward again
        return _from_numpy(loss)

    @staticmethod
    @_once
    def backward(ctx, g):
        gs, gt, scale = ctx.st
        if not scale:
            g = g.unsqueeze(1)
        return (None if gs is None else _from_numpy(gs) * g, None if gt is None else _from_numpy(gt) * g,
                None, None, None, None)


_psd_kl_eager = _apply(_PSDKLEager)
_SCALE = {"mean": None, "sum": 1.0, "none": 0.0}  # None: 1 / B


def psd_kl(student, teacher, fs, band, mode, n_fft, step_hz, window, periodic, demean, eps, reduction):
    symmetric = check_mode(mode)
    scale = _SCALE[check_reduction(reduction)]
    if _eager_pair(student, teacher):
        B = student.shape[0]
        _check_batch(B)
        plan = get_plan(student.shape[1], fs, band, n_fft, step_hz, window, periodic, demean, eps)
        if scale is None:
            scale = 1.0 / B
        grad = _grad_enabled()
        need_s = grad and student.requires_grad
        need_t = grad and symmetric and teacher.requires_grad
        if need_s or need_t:  # core errors (dtype, shape, contiguity, NaN) name the input
            if teacher.requires_grad and not symmetric:
                teacher = teacher.detach()
            return _psd_kl_eager(student, teacher, plan, need_s, need_t, scale)
        return _from_numpy(plan.core.psd_kl_fused(_np(student), _np(teacher), False, False, scale)[0])
    _check_pair(student, teacher)
    _check_batch(student.shape[0])
    plan = get_plan(student.shape[1], fs, band, n_fft, step_hz, window, periodic, demean, eps)
    loss = psd_kl_op(student, teacher if symmetric else teacher.detach(), *plan.args, symmetric)[0]
    if scale is None:
        return loss.mean()
    return loss.sum() if scale else loss


# ---------------------------------------------------------------- rpm_components
@torch.library.custom_op("rppg_distill::rpm_components", mutates_args=())
def rpm_components_op(student: Tensor, teacher: Tensor, fs: float, lo: float, hi: float, n_fft: int,
                      step_hz: float, window: str, periodic: bool, demean: bool, eps: float
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> (components [B, 3], centroid_t [B], ratio [B], re_s, im_s, re_t, im_t [B, K])."""
    plan = plan_of(student.shape[1], fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    return _on_device(plan, "rpm_components_forward", (student, teacher))


@rpm_components_op.register_fake
def _(student, teacher, *args):
    B, K = student.shape[0], _fake_plan(student.shape[1], args[:9]).K
    return (student.new_empty(B, 3), student.new_empty(B), student.new_empty(B)) + tuple(
        student.new_empty(B, K) for _ in range(4))


@torch.library.custom_op("rppg_distill::rpm_components_backward", mutates_args=())
def rpm_components_backward_op(grad_comps: Tensor, re_s: Tensor, im_s: Tensor, re_t: Tensor, im_t: Tensor,
                               T: int, fs: float, lo: float, hi: float, n_fft: int, step_hz: float, window: str,
                               periodic: bool, demean: bool, eps: float) -> Tensor:
    """grad_comps [B, 3] -> grad_student [B, T]."""
    plan = plan_of(T, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps)
    return _on_device(plan, "rpm_components_backward", (grad_comps, re_s, im_s, re_t, im_t))


@rpm_components_backward_op.register_fake
def _(grad_comps, re_s, im_s, re_t, im_t, T, *args):
    return re_s.new_empty(re_s.shape[0], T)


def _rpm_setup(ctx, inputs, output):
    ctx.save_for_backward(*output[3:])
    ctx.T, ctx.params = inputs[0].shape[1], inputs[2:]


def _rpm_bwd(ctx, g_comps, *unused):
    gs = rpm_components_backward_op(g_comps.contiguous(), *ctx.saved_tensors, ctx.T, *ctx.params)
    return (gs, None) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::rpm_components", _rpm_bwd, setup_context=_rpm_setup)


class _RPMEager(torch.autograd.Function):
    """Eager CPU rpm_components through plan.core; the saved DFT parts stay numpy."""

    @staticmethod
    def forward(ctx, student, teacher, plan):
        comps, cen, ratio, *saved = plan.core.rpm_components_forward(student.numpy(), teacher.numpy())
        ctx.st = (plan, saved)
        cen, ratio = _from_numpy(cen), _from_numpy(ratio)
        ctx.mark_non_differentiable(cen, ratio)
        return _from_numpy(comps), cen, ratio

    @staticmethod
    @_once
    def backward(ctx, g_comps, g_cen, g_ratio):
        plan, saved = ctx.st
        return _from_numpy(plan.core.rpm_components_backward(g_comps.numpy(), *saved)), None, None


_rpm_eager = _apply(_RPMEager)


def rpm_components(student, teacher, fs, band, n_fft):
    if _eager_pair(student, teacher):
        _check_batch(student.shape[0])
        plan = get_plan(student.shape[1], fs, band, n_fft, None, "hann", True, True)
        if teacher.requires_grad:
            teacher = teacher.detach()
        if _grad_enabled() and student.requires_grad:
            return _rpm_eager(student, teacher, plan)
        comps, cen, ratio = plan.core.rpm_components_forward(_np(student), teacher.numpy())[:3]
        return _from_numpy(comps), _from_numpy(cen), _from_numpy(ratio)
    _check_pair(student, teacher)
    _check_batch(student.shape[0])
    plan = get_plan(student.shape[1], fs, band, n_fft, None, "hann", True, True)
    comps, cen, ratio = rpm_components_op(student, teacher.detach(), *plan.args)[:3]
    return comps, cen.detach(), ratio.detach()


# ---------------------------------------------------------------- peak_frequency
def peak_frequency(x, fs, band, step_hz, window, demean):
    """Forward only (no gradient): [B, T] or [T] tensor -> float64 [B] tensor or float.
    NaN for a row without power (all equal after ``demean``, or all zero), as the numpy face."""
    _check(x, "x", allow_1d=True)
    x2 = x.detach().reshape(1, -1) if x.dim() == 1 else x.detach()
    plan = get_plan(x2.shape[1], fs, band, None, step_hz, window, True, demean)
    out = _on_device(plan, "peak_frequency_forward", (x2,))
    flat = (x2.amax(dim=1) == x2.amin(dim=1)) if demean else ~x2.ne(0).any(dim=1)
    if bool(flat.any()):
        out = torch.where(flat.to(out.device), torch.full_like(out, float("nan")), out)
    return float(out[0]) if x.dim() == 1 else out
