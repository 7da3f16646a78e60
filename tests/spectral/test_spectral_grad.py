"""gradcheck in float64 (the eager CPU path and the registered custom-op path)."""

from __future__ import annotations

import pytest
import torch

import rppg_distill.spectral as S
from rppg_distill.spectral import _torch_ops as ops

# rpm_components' options as the op takes them (Plan.args): fs, lo, hi, n_fft, step_hz, window, periodic,
# demean, eps.
RPM_ARGS = (30.0, 0.75, 3.0, 128, 0.0, "hann", True, True, 1e-8)


def _x(B, T, device, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, generator=g, dtype=torch.float64).to(device).requires_grad_()


@pytest.mark.parametrize("grid", [dict(n_fft=128), dict(step_hz=0.1)])
@pytest.mark.parametrize("normalize", [False, True])
def test_gradcheck_band_psd(device, grid, normalize):
    x = _x(3, 40, device, 0)
    assert torch.autograd.gradcheck(
        lambda x: S.band_psd(x, 30.0, (0.5, 3.0), normalize=normalize, **grid), (x,))


@pytest.mark.parametrize("mode", ["asymmetric", "symmetric"])
def test_gradcheck_psd_kl(device, mode):
    s, t = _x(3, 48, device, 1), _x(3, 48, device, 2)
    inputs = (s, t) if mode == "symmetric" else (s,)
    fn = (lambda s, t: S.psd_kl(s, t, 30.0, mode=mode, reduction="none", n_fft=96)) if mode == "symmetric" \
        else (lambda s: S.psd_kl(s, t, 30.0, mode=mode, reduction="none", step_hz=0.05))
    assert torch.autograd.gradcheck(fn, inputs)


def test_gradcheck_rpm_components(device):
    s, t = _x(3, 64, device, 3), _x(3, 64, device, 4).detach()
    assert torch.autograd.gradcheck(lambda s: S.rpm_components(s, t, 30.0, n_fft=128)[0], (s,))


def test_gradcheck_custom_op_path(device):
    """The torch.library registrations (used under torch.compile/export) have correct gradients."""
    s, t = _x(2, 40, device, 5), _x(2, 40, device, 6)
    assert torch.autograd.gradcheck(
        lambda s, t: ops.psd_kl_op(s, t, 30.0, 0.5, 3.0, 80, 0.0, "hann", True, True, 1e-8, True)[0], (s, t))
    assert torch.autograd.gradcheck(
        lambda s: ops.band_psd_op(s, 30.0, 0.5, 3.0, 0, 0.1, "none", False, True, 1e-8, True)[0], (s,))
    assert torch.autograd.gradcheck(
        lambda s: ops.rpm_components_op(s, t.detach(), *RPM_ARGS)[0], (s,))


def test_opcheck_registrations():
    x, t = torch.randn(2, 40, dtype=torch.float64), torch.randn(2, 40, dtype=torch.float64)
    for op, args in [
        (ops.band_psd_op, (x, 30.0, 0.5, 3.0, 80, 0.0, "hann", True, True, 1e-8, True)),
        (ops.psd_kl_op, (x, t, 30.0, 0.5, 3.0, 80, 0.0, "hann", True, True, 1e-8, False)),
        (ops.rpm_components_op, (x, t, *RPM_ARGS)),
    ]:
        torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor",
                                                    "test_aot_dispatch_static"))
