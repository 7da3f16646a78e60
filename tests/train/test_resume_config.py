"""``--resume`` with a config that differs from the checkpoint's: refused with the keys named,
or accepted (harmless, a step limit the schedule allows, an explicit recorded override); a
different model is a clear error, not a state_dict traceback."""

import dataclasses
import json

import pytest
import torch
from torch import nn

from rppg_distill.train.config import LoopConfig, OptimConfig
from rppg_distill.train.loop import Resume, ResumeError, fit, load_checkpoint

from .tiny_task import SimulatedKill, TinyConfig, TinyTask

ONECYCLE = OptimConfig(name="adamw", lr=1e-2, scheduler="onecycle", grad_clip=1.0)
CONSTANT = OptimConfig(name="adamw", lr=1e-2, scheduler="none", grad_clip=1.0)


def quiet(s):
    pass


def config(out, optim=ONECYCLE, **loop):
    base = dict(epochs=2, batch_size=4, seed=7, device="cpu", progress=False, plots=False,
                out_dir=str(out), checkpoint_every=0, log_every=1)
    return TinyConfig(LoopConfig(**{**base, **loop}), optim)


def train(cfg, resume=False, task=None):
    """``fit`` a TinyTask that uses ``cfg.optim`` (24 samples: 6 steps per epoch at batch 4)."""
    return fit(task or (lambda d: TinyTask(d, optim=cfg.optim)), cfg, resume=resume, log=quiet)


def with_optim(cfg, **kw):
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, **kw))


def with_loop(cfg, **kw):
    return dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, **kw))


def test_changes_that_the_run_cannot_honour_are_refused_with_the_keys(tmp_path):
    cfg = config(tmp_path)
    train(cfg)
    before = load_checkpoint(tmp_path / "checkpoints/last.pt")
    cases = [
        (with_optim(cfg, lr=2e-2), r"optim\.lr 0\.01 -> 0\.02 \(the OneCycleLR schedule in the checkpoint"),
        (with_loop(cfg, batch_size=8), r"loop\.batch_size 4 -> 8 \(fixed for a run"),
        (with_loop(cfg, epochs=3), (r"loop\.epochs 2 -> 3 \(the OneCycleLR schedule .* built for 12 "
                                    r"steps, this config needs 18")),
        (with_loop(cfg, epochs=1), r"loop\.epochs 2 -> 1 \(.*built for 12 steps, this config needs 6"),
        (with_optim(cfg, scheduler="cosine"), r"optim\.scheduler onecycle -> cosine \(fixed for a run"),
        (with_optim(cfg, grad_clip=0.5), (r"optim\.grad_clip 1 -> 0\.5 \(pass --allow-config-change "
                                          r"optim\.grad_clip")),
    ]
    for changed, message in cases:
        with pytest.raises(ResumeError, match=r"^--resume: the config differs from the checkpoint's: "
                                               + message):
            train(changed, resume=True)
    # several at once: one line naming each
    with pytest.raises(ResumeError) as err:
        train(with_loop(with_optim(cfg, lr=2e-2), batch_size=8), resume=True)
    assert "optim.lr" in str(err.value) and "loop.batch_size" in str(err.value)
    assert "\n" not in str(err.value)
    # an override cannot make the schedule take a new lr
    with pytest.raises(ResumeError, match="optim.lr"):
        train(with_optim(cfg, lr=2e-2), resume=Resume(("optim.lr",)))
    after = load_checkpoint(tmp_path / "checkpoints/last.pt")  # nothing was changed by a refusal
    assert after["step"] == before["step"] and after["config"] == before["config"]
    assert not (tmp_path / "config_changes.jsonl").exists()


def test_harmless_changes_are_accepted(tmp_path):
    cfg = config(tmp_path, epochs=2, checkpoint_every=2)
    with pytest.raises(SimulatedKill):  # killed before step 5: last.pt at step 4
        train(cfg, task=lambda d: TinyTask(d, optim=cfg.optim, kill_at_step=5))
    res = train(with_loop(cfg, log_every=3, checkpoint_every=0, num_threads=1, max_steps=50),
                resume=True)  # max_steps 0 -> 50: the schedule (12 steps) stays the same
    assert res.step == 12
    rows = [json.loads(l) for l in (tmp_path / "config_changes.jsonl").read_text().splitlines()]
    assert [(r["key"], r["old"], r["new"], r["how"]) for r in rows] == [("loop.max_steps", 0, 50, "limit")]


def test_more_epochs_without_a_schedule_continue_exactly(tmp_path):
    short = config(tmp_path / "resumed", CONSTANT, epochs=2)
    train(short)
    resumed = train(with_loop(short, epochs=4), resume=True)
    full = train(config(tmp_path / "full", CONSTANT, epochs=4))
    assert resumed.step == full.step == 24
    a = load_checkpoint(resumed.checkpoint)["modules"]["model"]
    b = load_checkpoint(full.checkpoint)["modules"]["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    (row,) = [json.loads(l) for l in (tmp_path / "resumed/config_changes.jsonl").read_text().splitlines()]
    assert (row["key"], row["old"], row["new"], row["how"], row["resumed_at_step"]) == (
        "loop.epochs", 2, 4, "limit", 12)
    # fewer epochs than done: nothing to train is an error, not a silent no-op
    with pytest.raises(ResumeError, match=r"at epoch 4, step 24: loop\.epochs=3.* leave nothing to train"):
        train(with_loop(short, epochs=3), resume=True)


def test_an_explicit_override_is_used_and_recorded(tmp_path):
    cfg = config(tmp_path, CONSTANT, epochs=2)
    train(cfg)
    new = with_loop(with_optim(cfg, lr=1e-3), epochs=3)
    with pytest.raises(ResumeError,
                       match=r"optim\.lr 0\.01 -> 0\.001 \(pass --allow-config-change optim\.lr"):
        train(new, resume=True)
    res = train(new, resume=Resume(("optim.lr",)))
    assert res.step == 18
    lrs = {r["lr"] for r in res.history if r["split"] == "train" and r["step"] > 12}
    assert lrs == {1e-3}  # the new lr is the one used, not the checkpoint's
    assert load_checkpoint(res.checkpoint)["config"]["optim"]["lr"] == 1e-3
    rows = [json.loads(l) for l in (tmp_path / "config_changes.jsonl").read_text().splitlines()]
    assert {(r["key"], r["how"]) for r in rows} == {("loop.epochs", "limit"), ("optim.lr", "override")}
    import yaml

    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["optim"]["lr"] == 1e-3


def test_a_different_model_is_a_clear_error(tmp_path):
    cfg = config(tmp_path)
    train(cfg)

    def wider(d):
        t = TinyTask(d, optim=cfg.optim)
        t.model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 1))
        return t

    with pytest.raises(ResumeError, match=r"holds a different model than the config builds \(model: "
                                           r"3 shape mismatches, e\.g\. 0\.weight \(16, 8\) vs \(32, 8\)"):
        train(cfg, resume=True, task=wider)

    def deeper(d):
        t = TinyTask(d, optim=cfg.optim)
        t.model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
        return t

    with pytest.raises(ResumeError, match=r"4 missing weights, e\.g\. 2\.weight; "
                                           r"2 unexpected weights, e\.g\. 3\.weight"):
        train(cfg, resume=True, task=deeper)


def test_train_command_refuses_a_changed_config_in_one_line(tmp_path, monkeypatch, capsys):
    pytest.importorskip("rppg_distill.models")
    from rppg_distill.cli import main
    from rppg_distill.train import crossview

    from .fake_data import FakePairs, FakeViews

    pairs = FakePairs()
    monkeypatch.setattr(crossview, "build_data",
                        lambda cfg: (pairs, {"frontal": FakeViews(pairs, "teacher")}))
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""trainer: crossview
scheme: cam2-only
seeds: [0]
model: {{kwargs: {{nb_filters1: 4, nb_filters2: 4, nb_dense: 8, frame_depth: 10}}}}
data: {{img_size: 16}}
optim: {{scheduler: none}}
loop: {{epochs: 1, batch_size: 4, device: cpu, progress: false, plots: false, out_dir: {out}}}
""")
    assert main(["train", str(cfg)]) == 0
    capsys.readouterr()
    effective = (out / "effective_config.yaml").read_text()
    assert main(["train", str(cfg), "--resume", "--set", "optim.lr=0.01"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "optim.lr 0.003 -> 0.01 (pass --allow-config-change optim.lr" in err
    assert (out / "effective_config.yaml").read_text() == effective  # not the refused values
    assert main(["train", str(cfg), "--allow-config-change", "optim.lr"]) == 2  # needs --resume
    assert main(["train", str(cfg), "--resume", "--set", "optim.lr=0.01", "--set", "loop.epochs=2",
                 "--allow-config-change", "optim.lr"]) == 0
    rows = [json.loads(l) for l in (out / "seed0/config_changes.jsonl").read_text().splitlines()]
    assert {(r["key"], r["new"]) for r in rows} == {("optim.lr", 0.01), ("loop.epochs", 2)}
    assert "lr: 0.01" in (out / "effective_config.yaml").read_text()
