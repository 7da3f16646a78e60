"""Radar teacher, spectral policy, FactorizePhys, PhysNet and the registry: shapes and counts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import itertools

from rppg_distill.models import (
    FactorizePhys,
    PhysNet,
    RFConvDecoder,
    SpectralPolicy,
    build_model,
    count_parameters,
)
from rppg_distill.models.policy import relation_map


# ---------------------------------------------------------------- RFConvDecoder
def _rf_expected_params():
    chans = [10, 32, 64, 128, 256, 512]
    n = 0
    for a, b in itertools.pairwise(chans):
        n += a * b * 7 + b + 2 * b  # conv + bias + BN
    n += 512 * 1024 * 7 + 1024  # bottleneck, no BN
    dec = [1024, 512, 256, 128, 64, 32]
    for a, b in itertools.pairwise(dec):
        n += a * b * 7 + b + 2 * b
    n += 32 + 1  # 1x1 head
    return n


@pytest.mark.parametrize("t", [1, 7, 255])
def test_rf_conv_decoder_keeps_length(t):
    m = RFConvDecoder().eval()
    with torch.no_grad():
        y = m(torch.randn(2, 10, t))
    assert y.shape == (2, t)


def test_rf_conv_decoder_structure():
    m = RFConvDecoder()
    assert count_parameters(m) == _rf_expected_params() == 9786401
    convs = [l for l in m.encoder if isinstance(l, torch.nn.Conv1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.padding[0]) for c in convs] == [
        (10, 32, 7, 3), (32, 64, 7, 3), (64, 128, 7, 3), (128, 256, 7, 3), (256, 512, 7, 3),
        (512, 1024, 7, 3)]
    assert isinstance(m.encoder[-1], torch.nn.Conv1d)  # no BN after the 1024 conv
    tconvs = [l for l in m.decoder if isinstance(l, torch.nn.ConvTranspose1d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in tconvs] == [
        (1024, 512, 7), (512, 256, 7), (256, 128, 7), (128, 64, 7), (64, 32, 7)]
    assert sum(isinstance(l, torch.nn.BatchNorm1d) for l in m.decoder) == 5
    assert m.head.kernel_size == (1,) and m.head.out_channels == 1


def test_rf_conv_decoder_rejects_wrong_channels():
    with pytest.raises(ValueError, match=r"\[B, 10, T\]"):
        RFConvDecoder()(torch.randn(1, 8, 32))


# ---------------------------------------------------------------- SpectralPolicy
def test_spectral_policy_parameter_count():
    n = count_parameters(SpectralPolicy())
    assert n == 72276
    assert 70_000 <= n <= 74_000  # "about 72 k"


@pytest.mark.parametrize("k", [2, 19, 34])
def test_spectral_policy_shapes(k):
    m = SpectralPolicy().eval()
    ls, lt = torch.randn(4, k), torch.randn(4, k)
    with torch.no_grad():
        alpha, gate = m(relation_map(ls, lt))
    assert alpha.shape == (4, 3) and gate.shape == (4, 1)
    torch.testing.assert_close(alpha.sum(1), torch.ones(4))
    assert ((gate > 0) & (gate < 1)).all()


def test_spectral_policy_gradients_reach_all_parameters():
    torch.manual_seed(0)
    m = SpectralPolicy().train()
    alpha, gate = m(torch.randn(3, 3, 19))
    (alpha * torch.tensor([1.0, 2.0, 3.0])).sum().add(gate.sum()).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_spectral_policy_rejects_bad_input():
    with pytest.raises(ValueError, match="3, K>=2"):
        SpectralPolicy()(torch.randn(2, 2, 19))


# ---------------------------------------------------------------- FactorizePhys / PhysNet
def test_factorizephys_shapes_and_count():
    m = FactorizePhys().eval()
    with torch.no_grad():
        y = m(torch.rand(2, 3, 9, 72, 72))
    assert y.shape == (2, 9)
    assert count_parameters(m) == 52105  # the paper reports ~52 k


def test_factorizephys_samples_do_not_couple():
    """Per-sample minimum: a sample's output does not depend on its batch mates."""
    torch.manual_seed(0)
    m = FactorizePhys().eval()
    x = torch.rand(2, 3, 8, 72, 72)
    x[0] *= 5.0  # very different range from sample 1
    with torch.no_grad():
        y = m(x)
        y1 = m(x[1:2])
    torch.testing.assert_close(y[1:2], y1, rtol=1e-4, atol=1e-5)


def test_fsam_uses_per_sample_minimum():
    """A batch mate with a much lower minimum must not change a sample's FSAM output."""
    torch.manual_seed(0)
    m = FactorizePhys().eval()
    v = torch.randn(2, 16, 8, 7, 7)
    v[0] -= 10.0
    with torch.no_grad():
        out = m.factorize(v)
        alone = m.factorize(v[1:2])
    torch.testing.assert_close(out[1:2], alone, rtol=1e-4, atol=1e-5)


def test_factorizephys_backward_and_no_fsam():
    m = FactorizePhys().train()
    m(torch.rand(1, 3, 4, 72, 72)).sum().backward()
    assert m.bias1.grad is not None and m.fsam.pre[0].weight.grad is not None
    m2 = FactorizePhys(use_fsam=False).eval()
    with torch.no_grad():
        assert m2(torch.rand(1, 3, 4, 72, 72)).shape == (1, 4)


def test_nmf_reconstruction_improves():
    from rppg_distill.models.factorizephys import NMF

    torch.manual_seed(0)
    u, v = torch.rand(2, 10, 1), torch.rand(2, 30, 1)
    m = u @ v.transpose(1, 2) + 0.01 * torch.rand(2, 10, 30)
    rec = NMF(rank=1, steps=8)(m)
    assert (rec - m).norm() / m.norm() < 0.05
    rec2 = NMF(rank=3, steps=8)(m)
    assert rec2.shape == m.shape and torch.isfinite(rec2).all()


@pytest.mark.parametrize("t", [8, 10])
def test_physnet_shapes(t):
    m = PhysNet(frames=t).eval()
    with torch.no_grad():
        y = m(torch.rand(1, 3, t, 32, 32))
    assert y.shape == (1, t)


# ---------------------------------------------------------------- registry
def test_build_model_registry():
    assert isinstance(build_model("efficientphys_c", img_size=36), torch.nn.Module)
    assert isinstance(build_model("EfficientPhys-C", img_size=36), torch.nn.Module)
    assert isinstance(build_model("factorizephys"), FactorizePhys)
    assert isinstance(build_model("physnet", frames=32), PhysNet)
    assert isinstance(build_model("rf_conv_decoder"), RFConvDecoder)
    assert isinstance(build_model("spectral_policy"), SpectralPolicy)
    with pytest.raises(ValueError, match="known: .*efficientphys_c"):
        build_model("resnet")


# ---------------------------------------------------------------- devices
def _devices():
    cuda = torch.cuda.is_available()
    # CPU is covered by the other tests; this one compares CUDA against CPU.
    return [pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not cuda, reason="no CUDA device")])]


@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("name,shape", [
    ("efficientphys_c", (2, 3, 10, 72, 72)), ("factorizephys", (2, 3, 8, 72, 72)),
    ("physnet", (2, 3, 8, 32, 32)), ("rf_conv_decoder", (2, 10, 64)),
])
def test_models_on_device(device, name, shape):
    torch.manual_seed(0)
    m = build_model(name).eval()
    x = torch.rand(*shape)
    with torch.no_grad():
        y_cpu = m(x)
        y = m.to(device)(x.to(device)).cpu()
    assert y.shape == (shape[0], shape[2])
    torch.testing.assert_close(y, y_cpu, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("name", ["efficientphys_c", "factorizephys", "physnet"])
def test_input_size_kwargs_build_every_student(name):
    """The trainers pass the input side only to models that take it (PhysNet has no img_size:
    passing it made `model.name: physnet` fail in the RPM-Distill trainer)."""
    from rppg_distill.models import build_model, input_size_kwargs

    kw = input_size_kwargs(name, 36)
    assert ("img_size" in kw) == (name != "physnet")
    assert build_model(name, **kw) is not None
