"""Torch face: custom ops (torch.library, for torch.compile / torch.export) and eager autograd.

Each op is registered with ``torch.library.custom_op`` + ``register_fake`` + ``register_autograd``;
its backward is a custom op too. Eager calls skip the dispatcher and use an equivalent
``torch.autograd.Function`` on the same kernels (about half the fixed per-call cost).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from rppg_distill.spectral._dispatch import _core, run
from rppg_distill.spectral._grid import (check_mode, check_reduction, check_window, grid_range, grid_spec,
                                         _frequencies)

_EAGER_TYPES = (torch.Tensor, torch.nn.Parameter)


def _eager(x: Tensor) -> bool:
    return type(x) in _EAGER_TYPES and not torch.compiler.is_compiling()


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


def _fake_k(T, spec) -> int:
    return grid_range(int(T), *spec)[1]


# ---------------------------------------------------------------- band_psd
@torch.library.custom_op("rppg_distill::band_psd", mutates_args=())
def band_psd_op(x: Tensor, fs: float, lo: float, hi: float, n_fft: int, step_hz: float, window: str,
                periodic: bool, demean: bool, normalize: bool, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """x [B, T] -> (out [B, K], re [B, K], im [B, K])."""
    return run("band_psd_forward", [x], (), x.shape[1], (fs, lo, hi, n_fft, step_hz),
               (window, periodic, demean, normalize, eps))


@band_psd_op.register_fake
def _(x, fs, lo, hi, n_fft, step_hz, window, periodic, demean, normalize, eps):
    K = _fake_k(x.shape[1], (fs, lo, hi, n_fft, step_hz))
    return tuple(x.new_empty(x.shape[0], K) for _ in range(3))


@torch.library.custom_op("rppg_distill::band_psd_backward", mutates_args=())
def band_psd_backward_op(grad_out: Tensor, out: Tensor, re: Tensor, im: Tensor, T: int, fs: float,
                         lo: float, hi: float, n_fft: int, step_hz: float, window: str,
                         periodic: bool, demean: bool, normalize: bool, eps: float) -> Tensor:
    """grad_out [B, K] -> grad_x [B, T]."""
    return run("band_psd_backward", [grad_out, out, re, im], (T,), T, (fs, lo, hi, n_fft, step_hz),
               (window, periodic, demean, normalize, eps))


@band_psd_backward_op.register_fake
def _(grad_out, out, re, im, T, *args):
    return re.new_empty(re.shape[0], T)


def _band_psd_setup(ctx, inputs, output):
    ctx.save_for_backward(output[0], output[1], output[2])
    ctx.T = inputs[0].shape[1]
    ctx.params = inputs[1:]


def _band_psd_bwd(ctx, g_out, g_re, g_im):
    out, re, im = ctx.saved_tensors
    gx = band_psd_backward_op(g_out.contiguous(), out, re, im, ctx.T, *ctx.params)
    return (gx,) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::band_psd", _band_psd_bwd, setup_context=_band_psd_setup)


class _BandPSD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, spec, tail):
        out, re, im = run("band_psd_forward", [x], (), x.shape[1], spec, tail)
        ctx.save_for_backward(out, re, im)
        ctx.T, ctx.spec, ctx.tail = x.shape[1], spec, tail
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_out):
        out, re, im = ctx.saved_tensors
        gx = run("band_psd_backward", [g_out.contiguous(), out, re, im], (ctx.T,), ctx.T, ctx.spec, ctx.tail)
        return gx, None, None


class _BandPSDFast(torch.autograd.Function):
    """Eager CPU band_psd with the options resolved once (see band_psd); saved state stays numpy."""

    @staticmethod
    def forward(ctx, x, freqs, spec, tail):
        out, re, im = _core.band_psd_forward(x.numpy(), freqs, spec[0], *tail)
        ctx.st = (out, re, im, x.shape[1], freqs, spec, tail)
        return torch.from_numpy(out)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        out, re, im, T, freqs, spec, tail = ctx.st
        gx = _core.band_psd_backward(g.numpy(), out, re, im, T, freqs, spec[0], *tail)
        return torch.from_numpy(gx), None, None, None


# Option tuples -> (spec, freqs, tail) for the eager fast paths of band_psd / rpm_components.
_OPT_CACHE: dict = {}


def _cached_opts(key, make):
    try:
        entry = _OPT_CACHE.get(key)
    except TypeError:  # unhashable option: general path
        return None
    if entry is None:
        try:
            entry = make()
        except (TypeError, ValueError):
            return None
        if len(_OPT_CACHE) >= 1024:
            _OPT_CACHE.clear()
        _OPT_CACHE[key] = entry
    return entry


def band_psd(x, fs, band, n_fft, step_hz, window, periodic, demean, normalize, eps):
    if type(x) in _EAGER_TYPES and x.is_cpu and x.dim() == 2 and not _is_compiling():
        T = x.shape[1]

        def make():
            spec = grid_spec(T, fs, band, n_fft, step_hz)
            tail = (check_window(window), bool(periodic), bool(demean), bool(normalize), float(eps))
            return spec, _frequencies(T, *spec), tail

        entry = _cached_opts(("band_psd", T, fs, band, n_fft, step_hz, window, periodic, demean, normalize,
                              eps), make)
        if entry is not None:
            spec, freqs, tail = entry
            try:
                if _grad_enabled() and x.requires_grad:
                    return _BandPSDFast.apply(x, freqs, spec, tail)
                return torch.from_numpy(_core.band_psd_forward(x.detach().numpy(), freqs, spec[0], *tail)[0])
            except (TypeError, ValueError, RuntimeError):
                pass  # the general path raises the documented error
    _check(x, "x", allow_1d=True)
    squeeze = x.dim() == 1
    if squeeze:
        x = x.unsqueeze(0)
    spec = grid_spec(x.shape[1], fs, band, n_fft, step_hz)
    tail = (check_window(window), bool(periodic), bool(demean), bool(normalize), float(eps))
    if _eager(x):
        out = _BandPSD.apply(x, spec, tail)
    else:
        out = band_psd_op(x, *spec, *tail)[0]
    return out[0] if squeeze else out


# ---------------------------------------------------------------- psd_kl
@torch.library.custom_op("rppg_distill::psd_kl", mutates_args=())
def psd_kl_op(student: Tensor, teacher: Tensor, fs: float, lo: float, hi: float, n_fft: int,
              step_hz: float, window: str, periodic: bool, demean: bool, eps: float,
              symmetric: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> (loss [B], ps, pt, re_s, im_s, re_t, im_t [B, K])."""
    return run("psd_kl_forward", [student, teacher], (), student.shape[1],
               (fs, lo, hi, n_fft, step_hz), (window, periodic, demean, eps))


@psd_kl_op.register_fake
def _(student, teacher, fs, lo, hi, n_fft, step_hz, window, periodic, demean, eps, symmetric):
    B, K = student.shape[0], _fake_k(student.shape[1], (fs, lo, hi, n_fft, step_hz))
    return (student.new_empty(B),) + tuple(student.new_empty(B, K) for _ in range(6))


@torch.library.custom_op("rppg_distill::psd_kl_backward", mutates_args=())
def psd_kl_backward_op(grad_loss: Tensor, ps: Tensor, pt: Tensor, re_s: Tensor, im_s: Tensor,
                       re_t: Tensor, im_t: Tensor, T: int, fs: float, lo: float, hi: float, n_fft: int,
                       step_hz: float, window: str, periodic: bool, demean: bool, eps: float,
                       symmetric: bool) -> tuple[Tensor, Tensor]:
    """-> (grad_student [B, T], grad_teacher [B, T]; zeros when not symmetric)."""
    gs, gt = run("psd_kl_backward", [grad_loss, ps, pt, re_s, im_s, re_t, im_t], (T,), T,
                 (fs, lo, hi, n_fft, step_hz), (window, periodic, demean, eps, symmetric))
    return gs, (gt if gt is not None else torch.zeros_like(gs))


@psd_kl_backward_op.register_fake
def _(grad_loss, ps, *args):
    T = args[5]
    return ps.new_empty(ps.shape[0], T), ps.new_empty(ps.shape[0], T)


def _psd_kl_setup(ctx, inputs, output):
    ctx.save_for_backward(*output[1:])
    ctx.T = inputs[0].shape[1]
    ctx.params = inputs[2:]


def _psd_kl_bwd(ctx, g_loss, *unused):
    saved = ctx.saved_tensors
    gs, gt = psd_kl_backward_op(g_loss.contiguous(), *saved, ctx.T, *ctx.params)
    symmetric = ctx.params[-1]
    return (gs, gt if symmetric else None) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::psd_kl", _psd_kl_bwd, setup_context=_psd_kl_setup)


class _PSDKL(torch.autograd.Function):
    """Eager path. `scale` folds the reduction in (1/B for mean, 1 for sum, 0 for none) so a
    scalar loss costs one autograd node; on the CPU the saved intermediates stay numpy arrays."""

    @staticmethod
    def forward(ctx, student, teacher, spec, tail, symmetric, scale):
        T = student.shape[1]
        ctx.T, ctx.spec, ctx.tail, ctx.symmetric, ctx.scale = T, spec, tail, symmetric, scale
        if student.device.type == "cpu":
            # Fused path: the forward returns d loss_b / d(DFT) per row, the backward is one GEMM.
            need_s, need_t = ctx.needs_input_grad[0], symmetric and ctx.needs_input_grad[1]
            freqs = _frequencies(T, *spec)
            loss, hs, ht = _core.psd_kl_fused_forward(student.numpy(), teacher.numpy(), freqs, spec[0],
                                                      *tail, need_s, need_t)
            ctx.np_saved = (hs, ht, freqs)
            if scale:
                return torch.from_numpy(np.asarray(loss.sum(dtype=np.float64) * scale, dtype=loss.dtype))
            return torch.from_numpy(loss)
        else:
            loss, *saved = run("psd_kl_forward", [student, teacher], (), T, spec, tail)
            ctx.save_for_backward(*saved)
            ctx.np_saved = None
        if scale:
            return (loss.double().sum() * scale).to(loss.dtype)
        return loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_loss):
        if ctx.np_saved is not None:
            hs, ht, freqs = ctx.np_saved
            g = float(g_loss) * ctx.scale if ctx.scale else g_loss.contiguous().numpy()
            window, periodic, demean = ctx.tail[:3]
            gs = gt = None
            if hs is not None:
                gs = torch.from_numpy(_core.psd_kl_fused_backward(hs, g, ctx.T, freqs, ctx.spec[0], window,
                                                                  periodic, demean))
            if ht is not None:
                gt = torch.from_numpy(_core.psd_kl_fused_backward(ht, g, ctx.T, freqs, ctx.spec[0], window,
                                                                  periodic, demean))
            return gs, gt, None, None, None, None
        tail = ctx.tail + (ctx.symmetric,)
        saved = ctx.saved_tensors
        g = (g_loss * ctx.scale).expand(saved[0].shape[0]).contiguous() if ctx.scale else g_loss.contiguous()
        gs, gt = run("psd_kl_backward", [g, *saved], (ctx.T,), ctx.T, ctx.spec, tail)
        return gs, gt, None, None, None, None


class _PSDKLFast(torch.autograd.Function):
    """Eager CPU path through a cached core Spec (see psd_kl): one core call computes the loss and
    its gradient (the backward is only a multiply by the incoming gradient), the reduction is done
    in the core, and the saved state is the gradient itself."""

    @staticmethod
    def forward(ctx, student, teacher, h, need_s, need_t, scale):
        loss, gs, gt = _core.psd_kl_fused_forward_grad_h(h, student.numpy(), teacher.numpy(), need_s, need_t,
                                                         scale)
        ctx.st = (gs, gt, scale)
        return torch.from_numpy(loss)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        gs, gt, scale = ctx.st  # kept: a retained graph may run the backward again
        if not scale:
            g = g.unsqueeze(1)
        if gs is not None:
            gs = torch.from_numpy(gs) * g
        if gt is not None:
            gt = torch.from_numpy(gt) * g
        return gs, gt, None, None, None, None


# Fast-path cache: options tuple -> (core Spec, symmetric, reduction code 0 none / 1 sum / 2 mean).
_KL_FAST: dict = {}
_RED = {"none": 0, "sum": 1, "mean": 2}
_is_compiling = torch.compiler.is_compiling
_grad_enabled = torch.is_grad_enabled


def _kl_fast_entry(T, fs, band, mode, n_fft, step_hz, window, periodic, demean, eps, reduction):
    symmetric = check_mode(mode)
    check_reduction(reduction)
    spec = grid_spec(T, fs, band, n_fft, step_hz)
    h = _core.Spec(T, _frequencies(T, *spec), spec[0], check_window(window), bool(periodic), bool(demean),
                   float(eps))
    return h, symmetric, _RED[reduction]


def psd_kl(student, teacher, fs, band, mode, n_fft, step_hz, window, periodic, demean, eps, reduction):
    # Fast path: eager CPU tensors, options seen before. Any bad input makes the core raise, and the
    # general path below then re-checks and raises the documented error.
    if (type(student) in _EAGER_TYPES and type(teacher) in _EAGER_TYPES and student.is_cpu and teacher.is_cpu
            and student.dim() == 2 and not _is_compiling()):
        key = (student.shape[1], fs, band, mode, n_fft, step_hz, window, periodic, demean, eps, reduction)
        try:
            entry = _KL_FAST.get(key)
        except TypeError:  # unhashable option (a list band): general path
            entry = key = None
        if entry is None and key is not None:
            try:
                entry = _kl_fast_entry(*key)
            except (TypeError, ValueError):
                entry = None
            else:
                if len(_KL_FAST) >= 1024:
                    _KL_FAST.clear()
                _KL_FAST[key] = entry
        if entry is not None:
            h, symmetric, red = entry
            scale = 0.0 if red == 0 else (1.0 if red == 1 else 1.0 / student.shape[0])
            grad = _grad_enabled()
            need_s = grad and student.requires_grad
            need_t = grad and symmetric and teacher.requires_grad
            try:
                if need_s or need_t:
                    if not symmetric and teacher.requires_grad:
                        teacher = teacher.detach()
                    return _PSDKLFast.apply(student, teacher, h, need_s, need_t, scale)
                return torch.from_numpy(_core.psd_kl_fused_forward_h(h, student.detach().numpy(),
                                                                     teacher.detach().numpy(),
                                                                     False, False, scale)[0])
            except (TypeError, ValueError, RuntimeError):
                pass  # the general path raises the documented error
    _check_pair(student, teacher)
    symmetric = check_mode(mode)
    check_reduction(reduction)
    spec = grid_spec(student.shape[1], fs, band, n_fft, step_hz)
    tail = (check_window(window), bool(periodic), bool(demean), float(eps))
    if _eager(student) and _eager(teacher):
        if not symmetric:
            teacher = teacher.detach()
        scale = {"mean": 1.0 / student.shape[0], "sum": 1.0, "none": 0.0}[reduction]
        return _PSDKL.apply(student, teacher, spec, tail, symmetric, scale)
    loss = psd_kl_op(student, teacher, *spec, *tail, symmetric)[0]
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


# ---------------------------------------------------------------- rpm_components
_RPM_TAIL = ("hann", True, True)


@torch.library.custom_op("rppg_distill::rpm_components", mutates_args=())
def rpm_components_op(student: Tensor, teacher: Tensor, fs: float, lo: float, hi: float, n_fft: int
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> (components [B, 3], centroid_t [B], ratio [B], re_s, im_s, re_t, im_t [B, K])."""
    return run("rpm_components_forward", [student, teacher], (), student.shape[1],
               (fs, lo, hi, n_fft, 0.0), _RPM_TAIL)


@rpm_components_op.register_fake
def _(student, teacher, fs, lo, hi, n_fft):
    B, K = student.shape[0], _fake_k(student.shape[1], (fs, lo, hi, n_fft, 0.0))
    return (student.new_empty(B, 3), student.new_empty(B), student.new_empty(B)) + tuple(
        student.new_empty(B, K) for _ in range(4))


@torch.library.custom_op("rppg_distill::rpm_components_backward", mutates_args=())
def rpm_components_backward_op(grad_comps: Tensor, re_s: Tensor, im_s: Tensor, re_t: Tensor,
                               im_t: Tensor, T: int, fs: float, lo: float, hi: float, n_fft: int) -> Tensor:
    """grad_comps [B, 3] -> grad_student [B, T]."""
    return run("rpm_components_backward", [grad_comps, re_s, im_s, re_t, im_t], (T,), T,
               (fs, lo, hi, n_fft, 0.0), _RPM_TAIL)


@rpm_components_backward_op.register_fake
def _(grad_comps, re_s, im_s, re_t, im_t, T, fs, lo, hi, n_fft):
    return re_s.new_empty(re_s.shape[0], T)


def _rpm_setup(ctx, inputs, output):
    ctx.save_for_backward(*output[3:])
    ctx.T = inputs[0].shape[1]
    ctx.params = inputs[2:]


def _rpm_bwd(ctx, g_comps, *unused):
    gs = rpm_components_backward_op(g_comps.contiguous(), *ctx.saved_tensors, ctx.T, *ctx.params)
    return (gs, None) + (None,) * len(ctx.params)


torch.library.register_autograd("rppg_distill::rpm_components", _rpm_bwd, setup_context=_rpm_setup)


class _RPM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, student, teacher, spec):
        comps, cen, ratio, *saved = run("rpm_components_forward", [student, teacher], (),
                                        student.shape[1], spec, _RPM_TAIL)
        ctx.save_for_backward(*saved)
        ctx.T, ctx.spec = student.shape[1], spec
        ctx.mark_non_differentiable(cen, ratio)
        return comps, cen, ratio

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_comps, g_cen, g_ratio):
        gs = run("rpm_components_backward", [g_comps.contiguous(), *ctx.saved_tensors], (ctx.T,),
                 ctx.T, ctx.spec, _RPM_TAIL)
        return gs, None, None


class _RPMFast(torch.autograd.Function):
    """Eager CPU rpm_components with the options resolved once; saved state stays numpy."""

    @staticmethod
    def forward(ctx, student, teacher, freqs, fs):
        comps, cen, ratio, *saved = _core.rpm_components_forward(student.numpy(), teacher.numpy(), freqs, fs,
                                                                 *_RPM_TAIL)
        ctx.st = (saved, student.shape[1], freqs, fs)
        cen, ratio = torch.from_numpy(cen), torch.from_numpy(ratio)
        ctx.mark_non_differentiable(cen, ratio)
        return torch.from_numpy(comps), cen, ratio

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_comps, g_cen, g_ratio):
        saved, T, freqs, fs = ctx.st
        gs = _core.rpm_components_backward(g_comps.numpy(), *saved, T, freqs, fs, *_RPM_TAIL)
        return torch.from_numpy(gs), None, None, None


def rpm_components(student, teacher, fs, band, n_fft):
    if (type(student) in _EAGER_TYPES and type(teacher) in _EAGER_TYPES and student.is_cpu and teacher.is_cpu
            and student.dim() == 2 and not _is_compiling()):
        T = student.shape[1]

        def make():
            spec = grid_spec(T, fs, band, n_fft, None)
            return spec, _frequencies(T, *spec), None

        entry = _cached_opts(("rpm", T, fs, band, n_fft), make)
        if entry is not None:
            spec, freqs, _ = entry
            teacher = teacher.detach()
            try:
                if _grad_enabled() and student.requires_grad:
                    return _RPMFast.apply(student, teacher, freqs, spec[0])
                comps, cen, ratio = _core.rpm_components_forward(student.detach().numpy(), teacher.numpy(), freqs,
                                                                 spec[0], *_RPM_TAIL)[:3]
                return torch.from_numpy(comps), torch.from_numpy(cen), torch.from_numpy(ratio)
            except (TypeError, ValueError, RuntimeError):
                pass  # the general path raises the documented error
    _check_pair(student, teacher)
    spec = grid_spec(student.shape[1], fs, band, n_fft, None)
    teacher = teacher.detach()
    if _eager(student) and _eager(teacher):
        return _RPM.apply(student, teacher, spec)
    comps, cen, ratio = rpm_components_op(student, teacher, *spec[:4])[:3]
    return comps, cen.detach(), ratio.detach()


# ---------------------------------------------------------------- peak_frequency
def peak_frequency(x, fs, band, step_hz, window, demean):
    """Forward only (no gradient): [B, T] or [T] tensor -> float64 [B] tensor or float."""
    _check(x, "x", allow_1d=True)
    x2 = x.detach().reshape(1, -1) if x.dim() == 1 else x.detach()
    spec = grid_spec(x2.shape[1], fs, band, None, step_hz)
    out = run("peak_frequency_forward", [x2], (), x2.shape[1], spec, (check_window(window), True, bool(demean)))
    return float(out[0]) if x.dim() == 1 else out
