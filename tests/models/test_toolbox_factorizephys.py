"""FactorizePhys options that reproduce the published (rPPG-Toolbox) model, checked against a
reference written from the toolbox's public source; the package defaults stay as they were."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from rppg_distill.models import FactorizePhys

TOOLBOX = dict(input_norm=True, fsam_post="conv_relu_conv", fsam_at_inference=False,
               nmf_init="ones", nmf_layout="toolbox", fsam_residual=True)


def _toolbox_factorize(v, pre_w, pre_b, post0_w, post1_w, bias1=1.0, steps=4, eps=1e-6):
    """The toolbox's BVP_Head FSAM branch with MD_RESIDUAL (NMF, rank 1, RAND_INIT bases of
    normalized ones, batch-global minima, the embedding memory viewed as [B, T, C*H*W])."""
    x = F.relu(F.conv3d(v - v.min(), pre_w, pre_b))
    b, c, t, h, w = x.shape
    m = x.view(b, t, c * h * w)
    bases = F.normalize(torch.ones(b, t, 1), dim=1)
    coef = torch.softmax(torch.bmm(m.transpose(1, 2), bases), dim=-1)

    def coef_step(coef, bases):
        num = torch.bmm(m.transpose(1, 2), bases)
        return coef * num / (coef.bmm(bases.transpose(1, 2).bmm(bases)) + eps)

    for _ in range(steps):
        coef = coef_step(coef, bases)
        num = torch.bmm(m, coef)
        bases = bases * num / (bases.bmm(coef.transpose(1, 2).bmm(coef)) + eps)
    coef = coef_step(coef, bases)
    att = torch.bmm(bases, coef.transpose(1, 2)).view(b, c, t, h, w)
    att = F.conv3d(F.relu(F.conv3d(att, post0_w)), post1_w)
    prod = (v - v.min() + bias1) * (att - att.min() + bias1)
    return v + F.instance_norm(prod)


def _reference_args(m):
    return (m.fsam.pre[0].weight, m.fsam.pre[0].bias, m.fsam.post[0].weight, m.fsam.post[2].weight)


def test_toolbox_fsam_with_batch_minimum_matches_reference():
    torch.manual_seed(0)
    m = FactorizePhys(**TOOLBOX, fsam_min="batch").eval()
    v = torch.randn(2, 16, 12, 7, 7)
    v[0] -= 3.0  # the batch-global minimum couples the two samples
    with torch.no_grad():
        torch.testing.assert_close(m.factorize(v), _toolbox_factorize(v, *_reference_args(m)),
                                   rtol=1e-4, atol=1e-5)


def test_toolbox_fsam_with_per_sample_minimum_matches_reference_per_sample():
    """The package's default minimum gives each sample what the toolbox gives it alone."""
    torch.manual_seed(1)
    m = FactorizePhys(**TOOLBOX).eval()
    v = torch.randn(2, 16, 12, 7, 7)
    v[0] -= 3.0
    with torch.no_grad():
        out = m.factorize(v)
        for i in range(2):
            ref = _toolbox_factorize(v[i:i + 1], *_reference_args(m))
            torch.testing.assert_close(out[i:i + 1], ref, rtol=1e-4, atol=1e-5)


def test_fsam_runs_in_training_only_when_switched_off_at_inference():
    torch.manual_seed(2)
    m = FactorizePhys(**TOOLBOX)
    x = torch.rand(1, 3, 8, 72, 72) * 255
    plain = FactorizePhys(**{**TOOLBOX, "fsam_at_inference": True}, use_fsam=False)
    plain.load_state_dict({k: v for k, v in m.state_dict().items()
                           if not k.startswith("fsam") and k != "bias1"})
    with torch.no_grad():
        torch.testing.assert_close(m.eval()(x), plain.eval()(x))
    m.train()
    torch.manual_seed(3)
    y = m(x)
    y.sum().backward()
    assert m.fsam.post[2].weight.grad is not None  # FSAM is in the training graph


def test_t_plus_one_frames_equal_the_replicated_last_frame():
    torch.manual_seed(4)
    a = FactorizePhys(**TOOLBOX).eval()
    b = FactorizePhys(**TOOLBOX, append_last_frame=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 10, 72, 72) * 255
    with torch.no_grad():
        ya = a(x)
        yb = b(torch.cat([x, x[:, :, -1:]], dim=2))
    assert ya.shape == yb.shape == (1, 10)
    torch.testing.assert_close(ya, yb)
    with pytest.raises(ValueError, match="needs T\\+1 >= 2 frames"):
        b(x[:, :, :1])


def test_input_norm_is_instance_norm_of_the_differences():
    torch.manual_seed(5)
    m = FactorizePhys(input_norm=True)
    x = torch.rand(1, 3, 6, 72, 72) * 255
    d = torch.cat([x, x[:, :, -1:]], 2).diff(dim=2)
    torch.testing.assert_close(m.difference(x), F.instance_norm(d))
    # the input norm makes the model blind to the input's scale, like the toolbox's
    with torch.no_grad():
        torch.testing.assert_close(m.eval()(x), m(x * 4.0), rtol=1e-4, atol=1e-5)


def test_defaults_are_unchanged_and_options_are_checked():
    m = FactorizePhys()
    assert m.norm is None and isinstance(m.fsam.post, torch.nn.Conv3d)
    assert m.fsam_at_inference and m.fsam.layout == "time_major" and m.fsam.nmf.init == "profile"
    for kw in ({"fsam_post": "mlp"}, {"fsam_min": "global"}, {"nmf_init": "rand"},
               {"nmf_layout": "x"}):
        with pytest.raises(ValueError, match=f"FactorizePhys {next(iter(kw))}="):
            FactorizePhys(**kw)
