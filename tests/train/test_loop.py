import functools
import json
import operator

import pytest
import torch

from rppg_distill.train.config import LoopConfig
from rppg_distill.train.loop import NonFiniteLossError, batches_for_epoch, fit, load_checkpoint

from .tiny_task import SimulatedKill, TinyConfig, TinyTask


def loop_cfg(tmp_path, **kw):
    base = dict(epochs=3, batch_size=4, seed=7, device="cpu", progress=False, plots=False,
                out_dir=str(tmp_path), checkpoint_every=4, log_every=2)
    base.update(kw)
    return TinyConfig(LoopConfig(**base))


def weights(path):
    return load_checkpoint(path)["modules"]["model"]


def quiet(s):
    pass


def test_resume_matches_uninterrupted(tmp_path):
    full = loop_cfg(tmp_path / "full")
    r_full = fit(lambda d: TinyTask(d), full, log=quiet)
    assert r_full.step == 18  # 24 items / 4 * 3 epochs

    cut = loop_cfg(tmp_path / "cut")
    with pytest.raises(SimulatedKill):  # killed mid-epoch 2, after step 10; last checkpoint at step 8
        fit(lambda d: TinyTask(d, kill_at_step=11), cut, log=quiet)
    assert load_checkpoint(tmp_path / "cut/checkpoints/last.pt")["step"] == 8
    r_res = fit(lambda d: TinyTask(d), cut, resume=True, log=quiet)
    assert r_res.step == 18
    a, b = weights(r_full.checkpoint), weights(r_res.checkpoint)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    # the trained task comes back in the result, holding the final weights
    for k, v in r_res.task.model.state_dict().items():
        torch.testing.assert_close(v, b[k], rtol=0, atol=0)
    # best.pt is the same after a resume (its choice survives in last.pt)
    ba, bb = load_checkpoint(r_full.best_checkpoint), load_checkpoint(r_res.best_checkpoint)
    assert ba["best"] == bb["best"]
    for k in ba["modules"]["model"]:
        torch.testing.assert_close(ba["modules"]["model"][k], bb["modules"]["model"][k], rtol=0, atol=0)
    # the metric log of the resumed run has no duplicated steps
    steps = [r["step"] for r in r_res.history if r["split"] == "train"]
    assert steps == sorted(set(steps))


def test_best_checkpoint_is_the_best_validation_epoch(tmp_path):
    cfg = loop_cfg(tmp_path, epochs=4)
    res = fit(lambda d: TinyTask(d), cfg, log=quiet)
    val = [r for r in res.history if r["split"] == "val"]
    assert len(val) == 4
    best_row = min(val, key=lambda r: r["mse"])
    best = load_checkpoint(res.best_checkpoint)
    assert best["best"]["metric"] == "mse" and best["best"]["value"] == best_row["mse"]
    assert best["step"] == best_row["step"] and best["epoch"] == best_row["epoch"]
    # the stored weights reproduce the recorded validation value
    task = TinyTask(torch.device("cpu"))
    task.model.load_state_dict(best["modules"]["model"])
    assert task.validate(task.model, 0)["mse"] == pytest.approx(best_row["mse"], rel=1e-6)


def test_no_best_checkpoint_without_validation(tmp_path):
    class NoVal(TinyTask):
        def validate(self, model, epoch):
            return {}

    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints/best.pt").write_bytes(b"stale, from an older run")
    res = fit(lambda d: NoVal(d), loop_cfg(tmp_path, epochs=1), log=quiet)
    assert res.best_checkpoint is None and res.checkpoint is not None
    assert not (tmp_path / "checkpoints/best.pt").exists()


def test_checkpoint_is_self_describing_and_safe(tmp_path):
    cfg = loop_cfg(tmp_path, epochs=1, plots=True)
    res = fit(lambda d: TinyTask(d), cfg, log=quiet)
    ck = torch.load(res.checkpoint, weights_only=True)
    for key in ("config", "step", "epoch", "optimizer", "scheduler", "rng", "versions", "metrics",
                "modules", "best"):
        assert key in ck
    assert ck["versions"]["torch"] == torch.__version__
    assert ck["config"]["trainer"] == "tiny"
    assert ck["config"]["optim"]["grad_clip"] == 1.0 and ck["config"]["loop"]["seed"] == 7
    assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "metrics.csv").exists()
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert (tmp_path / "config.yaml").exists()
    assert not list((tmp_path / "checkpoints").glob(".*tmp*"))  # no torn temp files left
    rows = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any(r["split"] == "val" for r in rows)


def test_nan_loss_stops_with_last_good_state(tmp_path):
    cfg = loop_cfg(tmp_path, epochs=2)
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 5.*last good state"):
        fit(lambda d: TinyTask(d, nan_at_step=5), cfg, log=quiet)
    good = load_checkpoint(tmp_path / "checkpoints/last_good.pt")
    assert good["step"] == 4
    for v in good["modules"]["model"].values():
        assert torch.isfinite(v).all()


def test_epoch_order_is_seeded_and_sharded():
    a = batches_for_epoch(10, 3, seed=1, epoch=0)
    assert a == batches_for_epoch(10, 3, seed=1, epoch=0)
    assert a != batches_for_epoch(10, 3, seed=1, epoch=1)
    r0 = functools.reduce(operator.iadd, batches_for_epoch(10, 2, 1, 0, rank=0, world=2), [])
    r1 = functools.reduce(operator.iadd, batches_for_epoch(10, 2, 1, 0, rank=1, world=2), [])
    assert len(r0) == len(r1) == 5 and sorted(r0 + r1) == list(range(10))


def test_load_rejects_foreign_files(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"a": 1}, p)
    with pytest.raises(ValueError, match="not an rppg-distill checkpoint"):
        load_checkpoint(p)
