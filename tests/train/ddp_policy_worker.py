"""Run by test_ddp.py under torchrun (2 CPU processes, gloo): the RPM-Distill student with its
policy trained by the bilevel meta-step or jointly ("w/o bilevel"); saves the policy per rank."""

import dataclasses
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from rppg_distill.train import crossmodal
from rppg_distill.train.config import CrossModalConfig, LoopConfig
from tests.train.fake_data import FakeVideoRadar

out, bilevel = sys.argv[1], sys.argv[2] == "bilevel"
torch.set_num_threads(1)
cfg = CrossModalConfig(seeds=[0])
cfg.model.name = "efficientphys_c"
cfg.model.kwargs = {"nb_filters1": 4, "nb_filters2": 4, "nb_dense": 8}
cfg.data.img_size = 16
cfg.policy = dataclasses.replace(cfg.policy, bilevel=bilevel, meta_every=1, lr=1e-2)
cfg.loop = LoopConfig(epochs=1, batch_size=2, device="cpu", progress=False, plots=False, out_dir=out)
cfg.optim = dataclasses.replace(cfg.optim, lr=1e-2)
train, val = FakeVideoRadar(n=8), FakeVideoRadar(n=2, seed=1)
tasks, initial = [], {}
orig = crossmodal.RPMTask.__init__


def remember(self, *a, **k):
    orig(self, *a, **k)
    tasks.append(self)
    initial.update({k: v.clone() for k, v in self.policy.state_dict().items()})


crossmodal.RPMTask.__init__ = remember
crossmodal.train_student(cfg, 0, train, val, None, None, out, log=lambda s: None)
task = tasks[0]
rank = int(os.environ["RANK"])
torch.save({"policy": {k: v.clone() for k, v in task.policy.state_dict().items()}, "initial": initial,
            "wrapped": task._policy_ddp is not None, "world": dist.get_world_size()},
           os.path.join(out, f"policy_rank{rank}.pt"))
dist.destroy_process_group()
