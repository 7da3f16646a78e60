"""Run by test_ddp.py under torchrun (2 CPU processes, gloo): train the tiny task with DDP."""

import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from rppg_distill.train.config import LoopConfig
from rppg_distill.train.distributed import write_json_on_main
from rppg_distill.train.loop import fit
from tests.train.tiny_task import TinyConfig, TinyTask

out = sys.argv[1]
torch.set_num_threads(1)
cfg = LoopConfig(epochs=2, batch_size=2, seed=3, device="cpu", progress=False, plots=False, out_dir=out)
res = fit(lambda device: TinyTask(device, n=16), TinyConfig(cfg), log=lambda s: None)
rank = int(os.environ["RANK"])
torch.save({"world": dist.get_world_size(), "step": res.step, "backend": dist.get_backend(),
            "is_main": res.is_main,
            "wrote_results": write_json_on_main(os.path.join(out, "results.json"), {"rank": rank}) is not None,
            "weights": {k: v.clone() for k, v in res.task.model.state_dict().items()}},
           os.path.join(out, f"rank{rank}.pt"))
dist.destroy_process_group()
