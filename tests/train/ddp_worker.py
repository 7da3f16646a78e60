"""Run by test_ddp.py under torchrun (2 CPU processes, gloo): train the tiny task with DDP."""

import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from rppg_distill.train.config import LoopConfig  # noqa: E402
from rppg_distill.train.loop import fit  # noqa: E402
from tests.train.tiny_task import TinyTask, config_dict  # noqa: E402

out = sys.argv[1]
torch.set_num_threads(1)
cfg = LoopConfig(epochs=2, batch_size=2, seed=3, device="cpu", progress=False, plots=False, out_dir=out)
tasks = []


def build(device):
    tasks.append(TinyTask(device, n=16))
    return tasks[0]


res = fit(build, cfg, config_dict(cfg), log=lambda s: None)
rank = int(os.environ["RANK"])
torch.save({"world": dist.get_world_size(), "step": res.step, "backend": dist.get_backend(),
            "weights": {k: v.clone() for k, v in tasks[0].model.state_dict().items()}},
           os.path.join(out, f"rank{rank}.pt"))
dist.destroy_process_group()
