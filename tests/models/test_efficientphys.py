"""EfficientPhys-C: shapes, equality with a straightforward formulation, sample independence."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rppg_distill.models import (
    EfficientPhysC,
    build_model,
    temporal_difference,
    temporal_shift,
)


def reference_tsm(x, n_segment, fold_div=3):
    """rPPG-Toolbox style TSM: zeros + in-place index assignment."""
    nt, c, h, w = x.size()
    x = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    return out.view(nt, c, h, w)


def reference_forward(m: EfficientPhysC, x):
    """The same network with torch.diff and the in-place TSM (T a multiple of frame_depth)."""
    b, c, t, h, w = x.shape
    xp = torch.cat([x, x[:, :, -1:]], dim=2)
    d = torch.diff(xp, dim=2).permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    fd = m.frame_depth
    z = m.input_bn(d)
    z = torch.tanh(m.motion_conv1(reference_tsm(z, fd)))
    z = torch.tanh(m.motion_conv2(reference_tsm(z, fd)))
    g = torch.sigmoid(m.attention_conv1(z))
    g = g / g.sum(dim=(2, 3), keepdim=True) * g.shape[2] * g.shape[3] * 0.5
    z = m.pool1(z * g)
    z = torch.tanh(m.motion_conv3(reference_tsm(z, fd)))
    z = torch.tanh(m.motion_conv4(reference_tsm(z, fd)))
    g = torch.sigmoid(m.attention_conv2(z))
    g = g / g.sum(dim=(2, 3), keepdim=True) * g.shape[2] * g.shape[3] * 0.5
    z = m.pool2(z * g)
    z = torch.tanh(m.dense1(z.view(z.size(0), -1)))
    return m.dense2(z).view(b, t)


def _randomize_bn(m):
    g = torch.Generator().manual_seed(1)
    m.input_bn.running_mean.copy_(torch.randn(3, generator=g) * 0.1)
    m.input_bn.running_var.copy_(torch.rand(3, generator=g) + 0.5)


def test_temporal_shift_matches_inplace():
    x = torch.randn(2 * 10, 7, 5, 4)
    assert torch.equal(temporal_shift(x, 10), reference_tsm(x, 10))


def test_temporal_difference_matches_diff():
    x = torch.randn(2, 3, 9, 4, 4)
    d = temporal_difference(x)
    assert d.shape == x.shape
    assert torch.equal(d[:, :, :-1], torch.diff(x, dim=2))
    assert torch.count_nonzero(d[:, :, -1]) == 0


@pytest.mark.parametrize("img_size", [72, 36])
def test_equals_straightforward_formulation(img_size):
    torch.manual_seed(0)
    m = EfficientPhysC(frame_depth=10, img_size=img_size).eval()
    with torch.no_grad():
        _randomize_bn(m)
        x = torch.rand(2, 3, 20, img_size, img_size)
        y = m(x)
        y_ref = reference_forward(m, x)
    assert y.shape == (2, 20)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)


def test_train_mode_gradients_match():
    torch.manual_seed(0)
    m = EfficientPhysC(frame_depth=5, img_size=36, dropout_rate1=0.0, dropout_rate2=0.0).train()
    x = torch.rand(2, 3, 10, 36, 36)
    m(x).square().sum().backward()
    g1 = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()
    torch.manual_seed(0)
    m2 = EfficientPhysC(frame_depth=5, img_size=36, dropout_rate1=0.0, dropout_rate2=0.0).train()
    reference_forward(m2, x).square().sum().backward()
    for a, p in zip(g1, m2.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


def test_t_not_multiple_of_frame_depth_is_padded():
    torch.manual_seed(0)
    m = EfficientPhysC(frame_depth=10, img_size=36).eval()
    x = torch.rand(1, 3, 13, 36, 36)
    with torch.no_grad():
        y = m(x)
        # explicit: pad the raw clip by replicating the last frame (zero differences) to T=20
        xp = torch.cat([x, x[:, :, -1:].expand(-1, -1, 7, -1, -1)], dim=2)
        y_ref = reference_forward(m, xp)[:, :13]
    assert y.shape == (1, 13)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)


def test_samples_do_not_couple_in_eval():
    torch.manual_seed(0)
    m = build_model("efficientphys_c", img_size=36).eval()
    x = torch.rand(3, 3, 10, 36, 36)
    with torch.no_grad():
        y = m(x)
        y1 = m(x[1:2])
    torch.testing.assert_close(y[1:2], y1, rtol=1e-5, atol=1e-6)


def test_bad_shape_names_expected_layout():
    m = EfficientPhysC(img_size=36)
    with pytest.raises(ValueError, match=r"\[B, 3, T, 36, 36\]"):
        m(torch.rand(1, 3, 10, 72, 72))
    with pytest.raises(ValueError, match="B, C, T, H, W"):
        m(torch.rand(3, 10, 36, 36))


def test_parameter_count():
    n = sum(p.numel() for p in EfficientPhysC().parameters())
    # conv 896+9248+18496+36928, att 33+65, bn 6, dense 16384*128+128 + 129
    assert n == 2163081
