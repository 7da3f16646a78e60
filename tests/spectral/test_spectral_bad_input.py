"""Bad input raises a clear ValueError/TypeError naming the problem (never a crash); fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rppg_distill.spectral as S
from rppg_distill import load_core

GOOD = torch.randn(2, 64)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
@pytest.mark.parametrize("make,exc,match", [
    (lambda: np.zeros((2, 3, 64), np.float32), ValueError, "must be"),
    (lambda: np.zeros((), np.float32), ValueError, "must be"),
    (lambda: np.zeros((2, 64), np.int64), TypeError, "float32 or float64"),
    (lambda: np.zeros((2, 64), np.float16), TypeError, "float32 or float64"),
    (lambda: np.zeros((64, 2), np.float32).T, ValueError, "contiguous"),
    (lambda: np.zeros((2, 4), np.float32), ValueError, "too short"),
    (lambda: np.full((2, 64), np.nan, np.float32), ValueError, "NaN or inf"),
    (lambda: np.r_[np.zeros(63), np.inf][None].astype(np.float64), ValueError, "NaN or inf"),
])
def test_bad_signal(lib, make, exc, match):
    x = make()
    if lib == "torch":
        x = torch.from_numpy(x.copy()) if x.flags.c_contiguous else torch.from_numpy(x.T.copy()).T
    with pytest.raises(exc, match=match):
        S.band_psd(x, 30.0)


@pytest.mark.parametrize("kwargs,match", [
    (dict(band=(3.0, 0.5)), "empty band"),
    (dict(band=(1.0, 1.0)), "empty band"),
    (dict(band=(1.0, 1.1)), "empty band"),            # no rfft bin inside for T = 64
    (dict(band=(20.0, 25.0)), "Nyquist"),
    (dict(band=(0.5, 20.0), step_hz=0.5), "Nyquist"),
    (dict(n_fft=32), "n_fft"),
    (dict(step_hz=-1.0), "step_hz"),
    (dict(window="hamming"), "window"),
    (dict(band=(0.5,)), "band"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        S.band_psd(GOOD, 30.0, **kwargs)
    with pytest.raises(ValueError, match=match):
        S.band_psd(GOOD.numpy(), 30.0, **kwargs)


@pytest.mark.parametrize("fs", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_fs(fs):
    with pytest.raises(ValueError, match="fs"):
        S.band_psd(GOOD, fs)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_mismatched_pairs(lib):
    conv = (lambda a: a.numpy()) if lib == "numpy" else (lambda a: a)
    with pytest.raises(ValueError, match="shapes differ"):
        S.psd_kl(conv(torch.randn(2, 64)), conv(torch.randn(3, 64)), 30.0)
    with pytest.raises(ValueError, match="shapes differ"):
        S.rpm_components(conv(torch.randn(2, 64)), conv(torch.randn(2, 65)), 30.0, n_fft=128)
    with pytest.raises(TypeError, match="dtype"):
        S.psd_kl(conv(torch.randn(2, 64)), conv(torch.randn(2, 64, dtype=torch.float64)), 30.0)
    with pytest.raises(ValueError, match="mode"):
        S.psd_kl(conv(GOOD), conv(GOOD), 30.0, mode="both")
    with pytest.raises(ValueError, match="reduction"):
        S.psd_kl(conv(GOOD), conv(GOOD), 30.0, reduction="max")


def test_mixed_numpy_and_torch():
    with pytest.raises(TypeError):
        S.psd_kl(GOOD, GOOD.numpy(), 30.0)
    with pytest.raises(TypeError):
        S.band_psd([1.0, 2.0, 3.0], 30.0)


def test_cuda_tensor_without_cuda_core_is_a_clear_error():
    import rppg_distill
    from rppg_distill.spectral import _torch_ops
    if rppg_distill.has_cuda():
        pytest.skip("core built with CUDA")
    _torch_ops.cuda_module.cache_clear()
    with pytest.raises(RuntimeError, match="without CUDA"):
        _torch_ops.cuda_module()


def test_core_plan_checks_its_arguments():
    core = load_core()
    x = np.zeros((2, 64), np.float32)
    f = S.band_frequencies(64, 30.0, (0.5, 3.0))
    with pytest.raises(ValueError, match="freqs"):
        core.Plan(64, np.array([1.0, 99.0]), 30.0)
    with pytest.raises(ValueError, match="empty band"):
        core.Plan(64, np.zeros(0), 30.0)
    with pytest.raises(ValueError, match="window"):
        core.Plan(64, f, 30.0, "kaiser")
    plan = core.Plan(64, f, 30.0)
    with pytest.raises(ValueError, match="plan was made for T = 64"):
        plan.band_psd_forward(np.zeros((2, 65), np.float32))
    out, re, im = plan.band_psd_forward(x)
    with pytest.raises(ValueError, match="shape mismatch"):
        plan.band_psd_backward(out[:1], out, re, im)
    with pytest.raises(ValueError, match="shape mismatch"):
        plan.psd_kl_backward(np.ones(3, np.float32), re, re, re, re, re, re)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_empty_batch_is_a_clear_error(lib, requires_grad):
    s, t = torch.zeros(0, 64), torch.zeros(0, 64)
    if lib == "numpy":
        if requires_grad:
            pytest.skip("numpy has no gradients")
        s, t = s.numpy(), t.numpy()
    else:
        s.requires_grad_(requires_grad)
    for reduction in ("mean", "sum", "none"):
        with pytest.raises(ValueError, match=r"empty batch \(B = 0\)"):
            S.psd_kl(s, t, 30.0, reduction=reduction)
    with pytest.raises(ValueError, match=r"empty batch \(B = 0\)"):
        S.rpm_components(s, t, 30.0)
    with pytest.raises(ValueError, match=r"empty batch \(B = 0\)"):
        S.band_psd(s, 30.0)


def test_bad_eps_is_a_clear_error():
    for eps in (float("nan"), -1.0, "1e-8"):
        with pytest.raises(ValueError, match="eps"):
            S.psd_kl(GOOD, GOOD, 30.0, eps=eps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(B=st.integers(0, 5), T=st.integers(0, 80), ndim=st.integers(0, 3),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.float16]),
       lo=st.floats(-1, 20) | st.just(float('nan')), hi=st.floats(-1, 20),
       fs=st.floats(-5, 100) | st.just(float('inf')), step=st.sampled_from([None, 0.01, 0.5, 0.0]),
       n_fft=st.sampled_from([None, 1, 64, 200]), bad=st.sampled_from([None, np.nan, np.inf, 1e30]),
       use_torch=st.booleans())
def test_fuzz_never_crashes(B, T, ndim, dtype, lo, hi, fs, step, n_fft, bad, use_torch):
    shape = {0: (), 1: (T,), 2: (B, T), 3: (B, 2, T)}[ndim]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    if bad is not None and x.size and x.dtype.kind == "f":
        x.flat[0] = bad
    if use_torch and dtype != np.float16:
        x = torch.from_numpy(x)
    for fn in (lambda: S.band_psd(x, fs, (lo, hi), n_fft=n_fft, step_hz=step, normalize=True),
               lambda: S.psd_kl(x, x, fs, (lo, hi), n_fft=n_fft, step_hz=step),
               lambda: S.rpm_components(x, x, fs, (lo, hi), n_fft=n_fft),
               lambda: S.peak_frequency(x, fs, (lo, hi), step_hz=step or 0.05)):
        try:
            out = fn()
        except (ValueError, TypeError):
            continue
        for o in (out if isinstance(out, tuple) else (out,)):
            arr = o.numpy() if isinstance(o, torch.Tensor) else np.asarray(o)
            assert np.all(np.isfinite(arr))
