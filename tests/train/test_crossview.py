import dataclasses

import pytest
import torch

from rppg_distill.train import crossview
from rppg_distill.train.config import CrossViewConfig, LoopConfig

from .fake_data import FakePairs, FakeViews

TINY = {"nb_filters1": 4, "nb_filters2": 4, "nb_dense": 8, "frame_depth": 10}


def tiny_cfg(tmp_path, scheme, **kw):
    cfg = CrossViewConfig(scheme=scheme, seeds=[0])
    cfg.model.kwargs = dict(TINY)
    cfg.data.img_size = 16
    cfg.data.fs = 30.0
    cfg.loop = LoopConfig(epochs=1, batch_size=4, device="cpu", progress=False, plots=False,
                          out_dir=str(tmp_path / scheme))
    return dataclasses.replace(cfg, **kw)


@pytest.mark.parametrize("scheme", crossview.SINGLE_VIEW.keys() | {"pooled-aug", "symmetric", "asymmetric"})
def test_every_scheme_trains_and_evaluates(tmp_path, scheme):
    pytest.importorskip("rppg_distill.models")
    pairs = FakePairs()
    tests = {"frontal": FakeViews(pairs, "teacher"), "side_left": FakeViews(pairs, "student")}
    res = crossview.run_crossview(tiny_cfg(tmp_path, scheme), data=(pairs, tests), log=lambda s: None)
    assert len(res) == 1 and res[0]["steps"] == 2
    assert set(res[0]["views"]) == {"frontal", "side_left"}
    if scheme in ("symmetric", "asymmetric"):
        assert "kl" in res[0]["train_metrics"]
    text = crossview.format_table(crossview.summarize(res))
    assert scheme in text


def test_training_step_is_the_cross_view_loss(tmp_path):
    """The task's loss is losses.CrossViewLoss (no inline copy): same value on the same batch."""
    from rppg_distill.losses import cross_view_loss

    pairs = FakePairs(n=4)
    batch = torch.utils.data.default_collate([pairs[i] for i in range(4)])
    cfg = tiny_cfg(tmp_path, "asymmetric", lam=0.5)
    task = crossview.CrossViewTask(cfg, torch.device("cpu"), pairs)
    task.model.eval()  # BatchNorm on running stats: two forwards give the same outputs
    loss, metrics = task.training_step(task.model, batch, 0)
    with torch.no_grad():
        out = task.model(torch.cat([task._prep(batch["teacher_video"]), task._prep(batch["student_video"])]))
    ref = cross_view_loss(out[:4], out[4:], batch["bvp"].float(), 30.0, lam=0.5, band=cfg.band)
    assert float(loss.detach()) == pytest.approx(float(ref.total), rel=1e-5)
    assert float(metrics["kl"]) == pytest.approx(float(ref.kl), rel=1e-5)
    assert task.loss.mode == "asymmetric"
    assert crossview.CrossViewTask(tiny_cfg(tmp_path, "pooled-aug"), torch.device("cpu"), pairs).loss.mode == "none"


def test_asymmetric_kl_has_no_teacher_gradient():
    s = torch.randn(3, 64, requires_grad=True)
    t = torch.randn(3, 64, requires_grad=True)
    from rppg_distill.losses import cross_view_loss

    y = torch.randn(3, 64)
    cross_view_loss(t, s, y, 30.0, lam=1.0, mode="asymmetric").kl.backward()
    assert t.grad is None or torch.count_nonzero(t.grad) == 0
    assert torch.count_nonzero(s.grad) > 0
    s.grad = None
    cross_view_loss(t, s, y, 30.0, lam=1.0, mode="symmetric").kl.backward()
    assert torch.count_nonzero(t.grad) > 0


def test_summarize_keeps_lambda_sweep_rows_apart():
    from rppg_distill.train.crossview import summarize

    def run(scheme, lam, seed, mae):
        view = {"mae": mae, "peak_concentration": 0.5, "per_video_mae": {}, "per_video_peak_concentration": {}}
        return {"scheme": scheme, "lam": lam, "seed": seed, "views": {"frontal": view, "side_left": view}}

    results = [run("asymmetric", 0.01, 0, 1.0), run("asymmetric", 0.01, 1, 3.0),
               run("asymmetric", 0.1, 0, 10.0), run("cam2-only", 0.01, 0, 5.0)]
    table = summarize(results)["table"]
    assert set(table) == {"asymmetric@0.01", "asymmetric@0.1", "cam2-only"}
    assert table["asymmetric@0.01"]["frontal"][0] == 2.0
    assert table["asymmetric@0.1"]["frontal"][0] == 10.0
