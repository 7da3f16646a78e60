import dataclasses

import pytest
import torch

from rppg_distill.train import crossmodal
from rppg_distill.train.config import CrossModalConfig, LoopConfig

from .fake_data import FakeVideoRadar

pytest.importorskip("rppg_distill.losses")


def tiny_cfg(tmp_path, **kw):
    cfg = CrossModalConfig(seeds=[0])
    # a tiny student keeps the test fast (the paper's FactorizePhys is the default in the config)
    cfg.model.name = "efficientphys_c"
    cfg.model.kwargs = {"nb_filters1": 4, "nb_filters2": 4, "nb_dense": 8}
    cfg.data.transform = "standardized"   # EfficientPhys-C takes the frame difference itself
    cfg.data.img_size = 16
    cfg.data.fs = 30.0
    cfg.teacher.epochs = 1
    cfg.policy.meta_every = 2
    cfg.loop = LoopConfig(epochs=1, batch_size=2, device="cpu", progress=False, plots=False,
                          out_dir=str(tmp_path))
    return dataclasses.replace(cfg, **kw)


def test_policy_gets_gradient_through_virtual_step(tmp_path):
    cfg = tiny_cfg(tmp_path)
    torch.manual_seed(0)
    train, val = FakeVideoRadar(n=4), FakeVideoRadar(n=2, seed=1)
    task = crossmodal.RPMTask(cfg, torch.device("cpu"), train, val, None)
    task.lr = 1e-2
    batch = torch.utils.data.default_collate([train[0], train[1]])
    before = [p.detach().clone() for p in task.policy.parameters()]
    student_before = [p.detach().clone() for p in task.model.parameters()]
    buffers_before = [b.detach().clone() for b in task.model.buffers()]
    diag = task.meta_step(batch, task._val_batch())
    assert diag["meta_policy_grad_norm"] > 0
    grads = [p.grad for p in task.policy.parameters()]
    assert any(g is not None and torch.count_nonzero(g) > 0 for g in grads)
    # the heads that weigh and gate the components must both be reached
    assert torch.count_nonzero(task.policy.alpha_head.weight.grad) > 0
    assert torch.count_nonzero(task.policy.gate_head.weight.grad) > 0
    assert any(not torch.equal(a, p) for a, p in zip(before, task.policy.parameters()))
    # theta' is discarded: the student's weights and BN statistics are unchanged
    for a, p in zip(student_before, task.model.parameters()):
        assert torch.equal(a, p)
    for a, b in zip(buffers_before, task.model.buffers()):
        assert torch.equal(a, b)


SLOW = pytest.mark.slow


@pytest.mark.parametrize("variant", [
    {},
    *(pytest.param(v, marks=SLOW) for v in (
        {"mode": "sup_only"}, {"mode": "distill_only"}, {"label_fraction": 0.5},
        {"components": ["off", "shape"]}, {"policy.use_gate": False}, {"policy.use_weights": False},
        {"policy.enabled": False}, {"policy.bilevel": False}, {"radar_shift_prob": 1.0})),
])
def test_modes_and_ablations_train(tmp_path, variant):
    kw = {k: v for k, v in variant.items() if "." not in k}
    cfg = tiny_cfg(tmp_path, **kw)
    pol = {k.split(".")[1]: v for k, v in variant.items() if k.startswith("policy.")}
    if pol:
        cfg = dataclasses.replace(cfg, policy=dataclasses.replace(cfg.policy, **pol))
    data = (FakeVideoRadar(n=4), FakeVideoRadar(n=2, seed=1), FakeVideoRadar(n=3, seed=2))
    res = crossmodal.run_crossmodal(cfg, data=data, log=lambda s: None)
    assert res[0]["steps"] == 2 and set(res[0]["test"]) >= {"mae", "rmse", "std", "pearson"}
    if cfg.policy.enabled and cfg.mode != "sup_only":
        assert (tmp_path / "seed0" / "policy_log.jsonl").exists()


def test_shift_wrapper_is_seeded_and_reads_the_recording_later():
    base = FakeVideoRadar(n=10, tail=30)
    a = crossmodal.ShiftedRadar(base, 0.5, 30, seed=3)
    assert a.shifted == crossmodal.ShiftedRadar(base, 0.5, 30, seed=3).shifted
    assert 0 < sum(a.shifted) < 10
    all_ = crossmodal.ShiftedRadar(base, 1.0, 30)
    assert all_.summary() == {"n": 10, "prob": 1.0, "shift": 30, "drawn": 10, "shifted": 10, "no_room": 0,
                              "shifted_fraction": 1.0}
    it = all_[0]
    assert torch.equal(it["radar"], base.radars[0][:, 30:30 + base.t])           # the recording, 1 s later
    assert not torch.equal(it["radar"], torch.roll(base[0]["radar"], 30, -1))   # not a circular roll
    assert torch.equal(it["video"], base[0]["video"]) and torch.equal(it["bvp"], base[0]["bvp"])


def test_shift_without_room_stays_aligned_and_is_counted():
    base = FakeVideoRadar(n=6, tail=10)           # 10 radar samples after each clip: no room for 30
    w = crossmodal.ShiftedRadar(base, 1.0, 30)
    assert w.summary()["shifted"] == 0 and w.summary()["no_room"] == 6
    assert torch.equal(w[0]["radar"], base[0]["radar"])

    class NoRecording(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return base[i]

    with pytest.raises(TypeError, match="cannot shift the radar window"):
        crossmodal.ShiftedRadar(NoRecording(), 1.0, 30)
    assert crossmodal.ShiftedRadar(NoRecording(), 0.0, 30).summary()["shifted"] == 0


def test_meta_step_uses_the_fused_op_linearized(tmp_path):
    """One mechanism for the bilevel step: the fused core op through RPMDistillLoss's linearized
    components (no pure-torch reference inside the trainer)."""
    cfg = tiny_cfg(tmp_path)
    task = crossmodal.RPMTask(cfg, torch.device("cpu"), FakeVideoRadar(n=2), FakeVideoRadar(n=2, seed=1), None)
    assert task.loss.components_fn is None and task.loss.linearize_components
    assert not hasattr(task, "meta_loss")


def test_teacher_runs_once_per_radar_window(tmp_path):
    cfg = tiny_cfg(tmp_path)
    data = FakeVideoRadar(n=3)
    task = crossmodal.RPMTask(cfg, torch.device("cpu"), data, data, None)
    calls = []
    task.teacher.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    radar = torch.stack([data[i]["radar"] for i in range(3)])
    first = task._teacher(radar[:2])
    again = task._teacher(radar)                      # two known windows, one new
    assert calls == [2, 1]
    torch.testing.assert_close(again[:2], first)
    with torch.no_grad():
        torch.testing.assert_close(again, task.teacher(radar).float())
