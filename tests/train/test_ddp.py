"""DDP through torchrun on CPU: gloo backend, 2 processes, tiny model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rppg_distill
from rppg_distill.train.loop import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
# the workers import tests.* from the checkout and rppg_distill from where this test imported it
# (installed, or python/ of a checkout with its built core)
PYTHONPATH = os.pathsep.join([str(ROOT), str(Path(rppg_distill.__file__).resolve().parents[1]),
                              os.environ.get("PYTHONPATH", "")])


def test_torchrun_gloo_two_processes(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("ddp_worker.py")), str(tmp_path)]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=PYTHONPATH)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert r0["world"] == 2 and r0["backend"] == "gloo"
    # 16 items sharded over 2 ranks, batch 2 -> 4 steps per epoch, 2 epochs
    assert r0["step"] == r1["step"] == 8
    # result files come from rank 0 only
    assert (r0["is_main"], r1["is_main"]) == (True, False)
    assert (r0["wrote_results"], r1["wrote_results"]) == (True, False)
    assert json.loads((tmp_path / "results.json").read_text()) == {"rank": 0}
    for k in r0["weights"]:
        torch.testing.assert_close(r0["weights"][k], r1["weights"][k])   # DDP kept replicas in sync
    assert (tmp_path / "checkpoints/best.pt").exists()  # written by rank 0 from the validation
    ck = load_checkpoint(tmp_path / "checkpoints/last.pt")
    assert ck["world_size"] == 2 and ck["step"] == 8
    for k in r0["weights"]:
        torch.testing.assert_close(ck["modules"]["model"][k], r0["weights"][k])


@pytest.mark.parametrize("mode", ["bilevel", "joint"])
def test_policy_is_ddp_wrapped_and_stays_in_sync(tmp_path, mode):
    """RPM-Distill's policy under torchrun: DDP-wrapped whether the bilevel meta-step or the main
    optimizer ("w/o bilevel") trains it; both ranks end with the same, changed policy weights."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(Path(__file__).with_name("ddp_policy_worker.py")), str(tmp_path), mode]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=PYTHONPATH)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "policy_rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "policy_rank1.pt", weights_only=True)
    assert r0["world"] == 2 and r0["wrapped"] and r1["wrapped"]
    for k in r0["policy"]:
        torch.testing.assert_close(r0["policy"][k], r1["policy"][k])
    assert any(not torch.equal(r0["policy"][k], r0["initial"][k]) for k in r0["policy"])
