"""Cross-view objective and RPM-Distill objective.

The plumbing (modes, masks, ablations, gradient flow) is checked with plain-torch formulas of
docs/METHODS.md §1 injected through ``kl_fn`` / ``components_fn``; tests marked ``core`` use the fused
``rppg_distill.spectral`` ops and skip (saying so) until the core is importable.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import losses_spectral_formulas as ref

from rppg_distill.losses import (
    CrossViewLoss,
    RPMDistillLoss,
    cross_view_loss,
    log_spectra,
    mse,
    policy_input,
    rpm_distill_loss,
    rpm_supervised_loss,
)

FS = 30.0


def _core():
    try:
        import rppg_distill.spectral as s

        s.psd_kl, s.rpm_components, s.band_psd  # noqa: B018
        return s
    except (ImportError, AttributeError) as err:
        pytest.skip(f"rppg_distill.spectral not importable yet: {err}")


def _signals(b=3, t=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = torch.arange(t, dtype=torch.float64)
    f = 0.9 + 1.5 * torch.rand(b, 1, generator=g, dtype=torch.float64)
    y = torch.sin(2 * math.pi * f * n / FS)
    yt = y + 0.3 * torch.randn(b, t, generator=g, dtype=torch.float64)
    ys = y + 0.8 * torch.randn(b, t, generator=g, dtype=torch.float64)
    return yt, ys, y


# ------------------------------------------------------------------------- cross-view
def test_cross_view_total_is_sum_of_terms():
    yt, ys, y = _signals()
    out = cross_view_loss(yt, ys, y, FS, lam=0.3, kl_fn=ref.psd_kl)
    kl = ref.psd_kl(ys, yt, FS, (0.5, 3.0))
    torch.testing.assert_close(out.kl, kl)
    torch.testing.assert_close(out.total, mse(yt, y) + mse(ys, y) + 0.3 * kl)


def test_cross_view_asymmetric_stops_teacher_gradient_from_kl():
    yt, ys, y = _signals()
    for mode, teacher_gets_kl_grad in (("asymmetric", False), ("symmetric", True)):
        pt, ps = yt.clone().requires_grad_(True), ys.clone().requires_grad_(True)
        out = CrossViewLoss(FS, lam=1.0, mode=mode, kl_fn=ref.psd_kl)(pt, ps, y)
        out.kl.backward()
        assert ps.grad.abs().sum() > 0
        assert (pt.grad is not None and pt.grad.abs().sum() > 0) == teacher_gets_kl_grad, mode


def test_cross_view_mode_none_has_no_kl():
    yt, ys, y = _signals()
    out = cross_view_loss(yt, ys, y, FS, mode="none", kl_fn=lambda *a, **k: 1 / 0)
    assert out.kl.item() == 0.0
    with pytest.raises(ValueError, match="mode"):
        CrossViewLoss(FS, mode="both")


@pytest.mark.parametrize("mode", ["asymmetric", "symmetric"])
def test_cross_view_with_core_matches_formula(mode):
    _core()
    yt, ys, y = _signals()
    pt, ps = yt.clone().requires_grad_(True), ys.clone().requires_grad_(True)
    out = cross_view_loss(pt, ps, y, FS, lam=0.01, mode=mode)
    rt, rs = yt.clone().requires_grad_(True), ys.clone().requires_grad_(True)
    want = cross_view_loss(rt, rs, y, FS, lam=0.01, mode=mode, kl_fn=ref.psd_kl)
    torch.testing.assert_close(out.total, want.total, rtol=1e-5, atol=1e-8)
    (out.total * 100).backward()
    (want.total * 100).backward()
    torch.testing.assert_close(ps.grad, rs.grad, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(pt.grad, rt.grad, rtol=1e-4, atol=1e-8)


# ------------------------------------------------------------------------- RPM-Distill
def _rpm(**kw):
    return RPMDistillLoss(fs=FS, components_fn=ref.rpm_components, **kw)


def test_rpm_aggregation_formula():
    teacher, student, label = _signals(b=4, t=255)
    g = torch.Generator().manual_seed(5)
    alpha = torch.softmax(torch.randn(4, 3, generator=g, dtype=torch.float64), 1)
    gate = torch.rand(4, 1, generator=g, dtype=torch.float64)
    mask = torch.tensor([1, 0, 1, 0], dtype=torch.bool)
    out = _rpm(lam=0.7)(student, teacher, label, mask, alpha, gate)
    comps, ct, ratio = ref.rpm_components(student, teacher, FS, (0.75, 3.0))
    distill = (gate.flatten() * (alpha * comps).sum(1)).mean()
    sup = rpm_supervised_loss(student, label, FS, reduction="none") * mask
    torch.testing.assert_close(out.distill, distill)
    torch.testing.assert_close(out.sup, sup.sum() / 4)
    torch.testing.assert_close(out.total, sup.sum() / 4 + 0.7 * distill)
    torch.testing.assert_close(out.sup_per_sample, sup)
    assert out.components.shape == (4, 3) and out.gate.shape == (4,)
    torch.testing.assert_close(out.teacher_centroid, ct)


def test_rpm_unlabelled_labels_are_never_read():
    teacher, student, label = _signals(b=2, t=128)
    label = label.clone()
    label[1] = float("nan")
    student = student.clone().requires_grad_(True)
    out = _rpm()(student, teacher, label, torch.tensor([True, False]))
    out.total.backward()
    assert torch.isfinite(out.total) and torch.isfinite(student.grad).all()
    assert out.sup_per_sample[1] == 0
    # no label at all: zero supervised term, distillation only
    out = _rpm()(student, teacher, None)
    assert out.sup.item() == 0.0 and out.distill.item() > 0


def test_rpm_modes():
    teacher, student, label = _signals(b=2, t=128)
    sup_only = _rpm(mode="sup_only")(student, None, label)
    assert sup_only.distill.item() == 0.0 and sup_only.components is None
    dist_only = _rpm(mode="distill_only")(student, teacher, label)
    assert dist_only.sup.item() == 0.0
    both = _rpm(mode="sup_plus_distill")(student, teacher, label)
    torch.testing.assert_close(both.total, sup_only.total + dist_only.total)
    with pytest.raises(ValueError, match="teacher"):
        _rpm(mode="distill_only")(student, None, label)
    with pytest.raises(ValueError, match="mode"):
        RPMDistillLoss(mode="distill")


def test_rpm_ablations():
    teacher, student, _ = _signals(b=3, t=255)
    comps, _, _ = ref.rpm_components(student, teacher, FS, (0.75, 3.0))
    alpha = torch.tensor([[0.5, 0.3, 0.2]] * 3, dtype=torch.float64)
    gate = torch.full((3, 1), 0.25, dtype=torch.float64)
    cases = {
        "full": 0.25 * (alpha * comps).sum(1),
        "wo_peak": 0.25 * (alpha * comps)[:, 1:].sum(1),
        "wo_off": 0.25 * (alpha * comps)[:, [0, 2]].sum(1),
        "wo_shape": 0.25 * (alpha * comps)[:, :2].sum(1),
        "wo_weights": 0.25 * comps.sum(1) / 3,
        "wo_gate": (alpha * comps).sum(1),
        "wo_policy": comps.sum(1) / 3,
        "w/o bilevel": 0.25 * (alpha * comps).sum(1),
    }
    for name, want in cases.items():
        loss = RPMDistillLoss.from_ablation(name, fs=FS, mode="distill_only",
                                            components_fn=ref.rpm_components)
        out = loss(student, teacher, None, None, alpha, gate)
        torch.testing.assert_close(out.distill_per_sample, want, msg=name)
    with pytest.raises(ValueError, match="unknown ablation"):
        RPMDistillLoss.from_ablation("wo_everything")


def test_rpm_gradients_reach_student_and_policy_not_teacher():
    teacher, student, label = _signals(b=2, t=128)
    teacher = teacher.clone().requires_grad_(True)
    student = student.clone().requires_grad_(True)
    logits = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    g_logit = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    out = _rpm()(student, teacher, label, None, torch.softmax(logits, 1), torch.sigmoid(g_logit))
    out.total.backward()
    assert student.grad.abs().sum() > 0
    assert logits.grad.abs().sum() > 0 and g_logit.grad.abs().sum() > 0
    assert teacher.grad is None or teacher.grad.abs().sum() == 0


def test_policy_input_shape_and_zscore():
    teacher, student, _ = _signals(b=2, t=255)
    rel = policy_input(student, teacher, FS, psd_fn=ref.band_psd)
    assert rel.shape == (2, 3, 19)  # T=255 at 30 Hz: bins 7..25
    ls = log_spectra(student, FS, psd_fn=ref.band_psd)
    torch.testing.assert_close(ls.mean(1), torch.zeros(2, dtype=ls.dtype), atol=1e-9, rtol=0)
    torch.testing.assert_close(ls.std(1, unbiased=False), torch.ones(2, dtype=ls.dtype))
    torch.testing.assert_close(rel[:, 2], (rel[:, 0] - rel[:, 1]).abs())


def test_rpm_with_core_matches_formula():
    s = _core()
    teacher, student, label = _signals(b=3, t=255)
    g = torch.Generator().manual_seed(1)
    alpha = torch.softmax(torch.randn(3, 3, generator=g, dtype=torch.float64), 1)
    gate = torch.rand(3, 1, generator=g, dtype=torch.float64)
    a = student.clone().requires_grad_(True)
    b = student.clone().requires_grad_(True)
    out = RPMDistillLoss(fs=FS)(a, teacher, label, None, alpha, gate)
    want = _rpm()(b, teacher, label, None, alpha, gate)
    torch.testing.assert_close(out.total, want.total, rtol=1e-5, atol=1e-7)
    functional = rpm_distill_loss(student, teacher, label, None, alpha, gate, fs=FS)
    torch.testing.assert_close(functional.total, out.total.detach(), rtol=0, atol=0)
    out.total.backward()
    want.total.backward()
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-7)
    rel = policy_input(student, teacher, FS)
    torch.testing.assert_close(rel, policy_input(student, teacher, FS, psd_fn=ref.band_psd),
                               rtol=1e-5, atol=1e-6)
    assert s is not None


def _meta_grads(components_fn, linearize=True):
    """phi-gradient of L_val(theta - eta * grad_theta L_train(theta, phi)) for a linear student."""
    torch.manual_seed(0)
    t = 128
    n = torch.arange(t, dtype=torch.float64)
    y = torch.sin(2 * math.pi * 1.2 * n / FS).repeat(2, 1)
    teacher = y + 0.1 * torch.randn(2, t, dtype=torch.float64)
    w = (torch.randn(t, t, dtype=torch.float64) * 0.05).requires_grad_(True)
    x = torch.randn(2, t, dtype=torch.float64)
    logits = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    g_logit = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    loss = RPMDistillLoss(FS, mode="distill_only", components_fn=components_fn,
                          linearize_components=linearize)
    l_train = loss(x @ w, teacher, None, None, torch.softmax(logits, 1),
                   torch.sigmoid(g_logit)).total
    (g,) = torch.autograd.grad(l_train, [w], create_graph=True)
    l_val = rpm_supervised_loss(x @ (w - 0.1 * g), y, FS)
    return torch.autograd.grad(l_val, [logits, g_logit], allow_unused=True), g.detach()


def test_bilevel_meta_gradient_through_fused_core():
    """The policy gets the same non-zero meta-gradient with the fused op as with plain torch."""
    _core()
    (ga, gg), gw = _meta_grads(None)
    (ra, rg), rw = _meta_grads(ref.rpm_components, linearize=False)
    assert ga.abs().sum() > 0 and gg.abs().sum() > 0
    torch.testing.assert_close(gw, rw, rtol=1e-4, atol=1e-9)
    torch.testing.assert_close(ga, ra, rtol=1e-3, atol=1e-9)
    torch.testing.assert_close(gg, rg, rtol=1e-3, atol=1e-9)
