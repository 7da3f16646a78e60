"""CUDA face of the spectral core: the CPU plan's methods on torch CUDA tensors.

Same names and arguments as the methods of ``rppg_distill._core.Plan`` (numpy there), with the
:class:`~rppg_distill.spectral._plan.Plan` first and torch CUDA tensors instead of arrays. Outputs
are allocated with ``torch.empty`` on the input's device (torch's caching allocator), inputs are
checked (dtype, rank, contiguity, device, finiteness), and the kernels run asynchronously on the
caller's current stream: ``rppg_distill._core.cuda`` receives raw ``data_ptr()`` ints, the plan's
host frequencies and ``torch.cuda.current_stream(device).cuda_stream``::

    band_psd_forward(plan, x, normalize) -> (out, re, im)
    band_psd_backward(plan, grad_out, out, re, im, normalize) -> grad_x
    psd_kl_forward(plan, student, teacher) -> (loss [B], ps, pt, re_s, im_s, re_t, im_t)
    psd_kl_backward(plan, grad_loss, ps, pt, re_s, im_s, re_t, im_t, symmetric)
        -> (grad_student, grad_teacher or None)
    rpm_components_forward(plan, student, teacher)
        -> (comps [B, 3], teacher_centroid [B], peak_ratio [B], re_s, im_s, re_t, im_t)
    rpm_components_backward(plan, grad_comps, re_s, im_s, re_t, im_t) -> grad_student
    peak_frequency_forward(plan, x) -> float64 [B] (on the device)

Errors: bad inputs raise TypeError / ValueError naming the problem; CUDA errors (launch failures,
out of memory in the basis upload, ...) raise RuntimeError with the CUDA error string; calling
without a usable device raises RuntimeError("no CUDA device ...").

Finiteness: like the CPU core, NaN/inf inputs raise ValueError. On the GPU that check costs one
device-to-host synchronization per call; set ``CHECK_FINITE = False`` (module attribute) to skip it.
"""

from __future__ import annotations

import torch

import rppg_distill

__all__ = [
    "CHECK_FINITE",
    "available",
    "band_psd_backward",
    "band_psd_forward",
    "peak_frequency_forward",
    "psd_kl_backward",
    "psd_kl_forward",
    "rpm_components_backward",
    "rpm_components_forward",
]

CHECK_FINITE = True

_DTYPES = {torch.float32: "float32", torch.float64: "float64"}


def _core_cuda():
    core = rppg_distill.load_core()
    if not hasattr(core, "cuda"):
        raise RuntimeError("no CUDA device: rppg_distill._core was built without CUDA kernels "
                           "(nvcc was not found at build time or RPPG_DISTILL_CUDA=OFF)")
    return core.cuda


def available() -> bool:
    """True when the core has CUDA kernels, torch sees a GPU and the core's runtime sees one too."""
    try:
        return torch.cuda.is_available() and _core_cuda().device_count() > 0
    except (RuntimeError, ImportError):
        return False


def _require_device(t: torch.Tensor, name: str) -> None:
    if t.device.type != "cuda":
        raise ValueError(f"{name} must be a CUDA tensor for the CUDA kernels, got device {t.device}")
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device")


def _check_signal(x, name: str, finite: bool = True) -> tuple[int, int, str]:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    _require_device(x, name)
    if x.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {x.dtype}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D [B, T], got {x.dim()}-D")
    if not x.is_contiguous():
        raise ValueError(f"{name} must be C-contiguous (use .contiguous())")
    B, T = x.shape
    if B < 1:
        raise ValueError(f"{name} has an empty batch (B = 0)")
    if T < 1:
        raise ValueError(f"{name} has no samples (T = 0)")
    if finite and CHECK_FINITE and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return B, T, _DTYPES[x.dtype]


def _check_pair(s, t) -> tuple[int, int, str]:
    B, T, dt = _check_signal(s, "student", finite=False)
    Bt, Tt, dtt = _check_signal(t, "teacher", finite=False)
    if dt != dtt:
        raise TypeError("student and teacher must have the same dtype")
    if (B, T) != (Bt, Tt):
        raise ValueError(f"student and teacher shapes differ: [{B}, {T}] vs [{Bt}, {Tt}]")
    if s.device != t.device:
        raise ValueError(f"student and teacher are on different devices: {s.device} vs {t.device}")
    if CHECK_FINITE:  # one device-to-host synchronization for both
        ok = torch.stack((torch.isfinite(s).all(), torch.isfinite(t).all())).cpu()
        for good, name in zip(ok.tolist(), ("student", "teacher")):
            if not good:
                raise ValueError(f"{name} contains NaN or inf")
    return B, T, dt


def _buffer(a, name: str, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A saved intermediate or incoming gradient as a contiguous tensor of like's dtype/device."""
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(a).__name__}")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name} has shape mismatch: expected {list(shape)}, got {list(a.shape)}")
    return a.to(device=like.device, dtype=like.dtype).contiguous()


def _saved_lead(a, name: str, source: str) -> tuple[torch.Tensor, int, int]:
    """The first saved [B, K] intermediate of a backward: checked, made contiguous, with B and K."""
    if not isinstance(a, torch.Tensor) or a.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor [B, K] from {source}")
    _require_device(a, name)
    if a.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got dtype {a.dtype}")
    B, K = a.shape
    return a.contiguous(), B, K


def _stream(device: torch.device) -> int:
    return torch.cuda.current_stream(device).cuda_stream


def _dev(t: torch.Tensor) -> int:
    return t.device.index if t.device.index is not None else torch.cuda.current_device()


def _empty(like: torch.Tensor, *shape: int, dtype=None) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype or like.dtype, device=like.device)


def _checked_T(plan, T: int, name: str) -> None:
    if T != plan.T:
        raise ValueError(f"{name} has T = {T}, the plan was made for T = {plan.T}")


# ---- band_psd ----
def band_psd_forward(plan, x, normalize=False):
    """x [B, T] CUDA -> (out [B, K], re [B, K], im [B, K]); out = P or P / (sum P + eps)."""
    B, T, dt = _check_signal(x, "x")
    _checked_T(plan, T, "x")
    K = plan.K
    out, re, im = _empty(x, B, K), _empty(x, B, K), _empty(x, B, K)
    _core_cuda().band_psd_forward(x.data_ptr(), B, T, plan.freqs, plan.fs, plan.window, plan.periodic,
                                  plan.demean, bool(normalize), plan.eps, dt, _dev(x), _stream(x.device),
                                  out.data_ptr(), re.data_ptr(), im.data_ptr())
    return out, re, im


def band_psd_backward(plan, grad_out, out, re, im, normalize=False):
    """grad_out [B, K] -> grad_x [B, T]."""
    re, B, K = _saved_lead(re, "re", "band_psd_forward")
    im = _buffer(im, "im", re, (B, K))
    out = _buffer(out, "out", re, (B, K))
    g = _buffer(grad_out, "grad_out", re, (B, K))
    gx = _empty(re, B, plan.T)
    work = _empty(re, B, 2 * K)
    _core_cuda().band_psd_backward(g.data_ptr(), out.data_ptr(), re.data_ptr(), im.data_ptr(), B, plan.T,
                                   plan.freqs, plan.fs, plan.window, plan.periodic, plan.demean,
                                   bool(normalize), plan.eps, _DTYPES[re.dtype], _dev(re), _stream(re.device),
                                   gx.data_ptr(), work.data_ptr())
    return gx


# ---- psd_kl ----
def psd_kl_forward(plan, student, teacher):
    """-> (loss [B], ps, pt, re_s, im_s, re_t, im_t [B, K]); loss = KL(p_t || p_s) per sample."""
    B, T, dt = _check_pair(student, teacher)
    _checked_T(plan, T, "student")
    K = plan.K
    loss = _empty(student, B)
    bufs = [_empty(student, B, K) for _ in range(6)]  # ps, pt, re_s, im_s, re_t, im_t
    _core_cuda().psd_kl_forward(student.data_ptr(), teacher.data_ptr(), B, T, plan.freqs, plan.fs, plan.window,
                                plan.periodic, plan.demean, plan.eps, dt, _dev(student),
                                _stream(student.device), loss.data_ptr(), 0, *[b.data_ptr() for b in bufs])
    return (loss, *bufs)


def psd_kl_backward(plan, grad_loss, ps, pt, re_s, im_s, re_t, im_t, symmetric=False):
    """grad_loss [B] -> (grad_student [B, T], grad_teacher [B, T] if symmetric else None)."""
    ps, B, K = _saved_lead(ps, "ps", "psd_kl_forward")
    saved = [_buffer(a, n, ps, (B, K)) for a, n in
             ((pt, "pt"), (re_s, "re_s"), (im_s, "im_s"), (re_t, "re_t"), (im_t, "im_t"))]
    gl = _buffer(grad_loss, "grad_loss", ps, (B,))
    T = plan.T
    gs, ws = _empty(ps, B, T), _empty(ps, B, 2 * K)
    gt = wt = None
    if symmetric:
        gt, wt = _empty(ps, B, T), _empty(ps, B, 2 * K)
    _core_cuda().psd_kl_backward(gl.data_ptr(), False, 1.0, ps.data_ptr(), *[a.data_ptr() for a in saved], B, T,
                                 plan.freqs, plan.fs, plan.window, plan.periodic, plan.demean, plan.eps,
                                 _DTYPES[ps.dtype], _dev(ps), _stream(ps.device), gs.data_ptr(),
                                 gt.data_ptr() if gt is not None else 0, ws.data_ptr(),
                                 wt.data_ptr() if wt is not None else 0)
    return gs, gt


# ---- rpm_components ----
def rpm_components_forward(plan, student, teacher):
    """-> (comps [B, 3], teacher_centroid [B], peak_ratio [B], re_s, im_s, re_t, im_t [B, K])."""
    B, T, dt = _check_pair(student, teacher)
    _checked_T(plan, T, "student")
    K = plan.K
    comps, cen, ratio = _empty(student, B, 3), _empty(student, B), _empty(student, B)
    bufs = [_empty(student, B, K) for _ in range(4)]
    _core_cuda().rpm_components_forward(student.data_ptr(), teacher.data_ptr(), B, T, plan.freqs, plan.fs,
                                        plan.window, plan.periodic, plan.demean, dt, _dev(student),
                                        _stream(student.device), comps.data_ptr(), cen.data_ptr(),
                                        ratio.data_ptr(), *[b.data_ptr() for b in bufs])
    return (comps, cen, ratio, *bufs)


def rpm_components_backward(plan, grad_comps, re_s, im_s, re_t, im_t):
    """grad_comps [B, 3] -> grad_student [B, T] (the teacher is constant)."""
    re_s, B, K = _saved_lead(re_s, "re_s", "rpm_components_forward")
    saved = [_buffer(a, n, re_s, (B, K)) for a, n in ((im_s, "im_s"), (re_t, "re_t"), (im_t, "im_t"))]
    g = _buffer(grad_comps, "grad_comps", re_s, (B, 3))
    gs, work = _empty(re_s, B, plan.T), _empty(re_s, B, 2 * K)
    _core_cuda().rpm_components_backward(g.data_ptr(), re_s.data_ptr(), *[a.data_ptr() for a in saved], B,
                                         plan.T, plan.freqs, plan.fs, plan.window, plan.periodic, plan.demean,
                                         _DTYPES[re_s.dtype], _dev(re_s), _stream(re_s.device), gs.data_ptr(),
                                         work.data_ptr())
    return gs


# ---- peak_frequency ----
def peak_frequency_forward(plan, x):
    """x [B, T] CUDA -> float64 [B] on the same device (Hz, parabolic-interpolated peak)."""
    B, T, dt = _check_signal(x, "x")
    _checked_T(plan, T, "x")
    K = plan.K
    hz = _empty(x, B, dtype=torch.float64)
    re, im = _empty(x, B, K), _empty(x, B, K)
    _core_cuda().peak_frequency_forward(x.data_ptr(), B, T, plan.freqs, plan.fs, plan.window, plan.periodic,
                                        plan.demean, dt, _dev(x), _stream(x.device), hz.data_ptr(),
                                        re.data_ptr(), im.data_ptr())
    return hz
