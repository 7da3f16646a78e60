"""Supervised losses: NegPearson, SNR loss (docs/METHODS.md §3.2), MSE."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rppg_distill.losses import mse, neg_pearson, rpm_supervised_loss, snr_loss

FS = 30.0


def _sine(f, t=256, fs=FS, phase=0.0):
    n = torch.arange(t, dtype=torch.float64)
    return torch.sin(2 * math.pi * f * n / fs + phase)


def test_neg_pearson_per_sample():
    y = torch.stack([_sine(1.2), _sine(1.5)])
    pred = torch.stack([3 * _sine(1.2) + 2, -_sine(1.5)])
    v = neg_pearson(pred, y, reduction="none")
    torch.testing.assert_close(v, torch.tensor([0.0, 2.0], dtype=torch.float64), atol=1e-7,
                               rtol=0)
    assert neg_pearson(pred, y).shape == ()
    a, b = np.random.default_rng(0).normal(size=(2, 100))
    r = np.corrcoef(a, b)[0, 1]
    got = neg_pearson(torch.tensor(a), torch.tensor(b)).item()
    assert abs(got - (1 - r)) < 1e-9


def test_mse_per_sample():
    p, y = torch.zeros(2, 4), torch.tensor([[1.0] * 4, [2.0] * 4])
    torch.testing.assert_close(mse(p, y, reduction="none"), torch.tensor([1.0, 4.0]))
    torch.testing.assert_close(mse(p, y), torch.tensor(2.5))


def _snr_numpy(pred, label, fs, lo=0.75, hi=3.0, n=1024, hw=4):
    f = np.arange(n // 2 + 1) * fs / n
    band = np.where((f >= lo) & (f <= hi))[0]
    pp = np.abs(np.fft.rfft(pred, n)) ** 2
    pl = np.abs(np.fft.rfft(label, n)) ** 2
    ref = band[np.argmax(pl[band])]
    sig = [k for k in band if abs(k - ref) <= hw]
    noise = [k for k in band if abs(k - ref) > hw]
    return -10 * np.log10(pp[sig].sum() / (pp[noise].sum() + 1e-7))


def test_snr_loss_matches_numpy_formula():
    rng = np.random.default_rng(1)
    label = np.sin(2 * np.pi * 1.3 * np.arange(256) / FS)
    preds = [label + 0.5 * rng.normal(size=256), rng.normal(size=256)]
    got = snr_loss(torch.tensor(np.stack(preds)), torch.tensor(np.stack([label, label])), FS,
                   reduction="none")
    want = [_snr_numpy(p, label, FS) for p in preds]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)
    assert got[0] < got[1]  # the cleaner prediction has the lower loss


def test_snr_loss_reference_bin_comes_from_label_and_has_no_grad():
    label = _sine(2.0).unsqueeze(0)
    pred = (_sine(1.0) + 0.1 * _sine(2.0)).unsqueeze(0).requires_grad_(True)
    loss = snr_loss(pred, label, FS)
    assert loss.item() > 5  # most prediction power is off the label's peak
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_snr_loss_empty_band_raises():
    with pytest.raises(ValueError, match="band"):
        snr_loss(torch.randn(1, 64), torch.randn(1, 64), FS, band=(20.0, 21.0))


def test_rpm_supervised_weights():
    rng = np.random.default_rng(2)
    y = torch.tensor(rng.normal(size=(3, 128)))
    p = torch.tensor(rng.normal(size=(3, 128)))
    want = 0.01 * neg_pearson(p, y, "none") + snr_loss(p, y, FS, reduction="none")
    torch.testing.assert_close(rpm_supervised_loss(p, y, FS, reduction="none"), want)


def test_shape_errors():
    with pytest.raises(ValueError, match="differ"):
        neg_pearson(torch.randn(2, 10), torch.randn(2, 11))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        mse(torch.randn(1, 2, 3), torch.randn(1, 2, 3))
