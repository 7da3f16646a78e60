"""The core stays usable in a forked child after the parent ran it on torch's OpenMP team."""

import subprocess
import sys

import pytest

CHILD = r"""
import os, numpy as np, torch
from rppg_distill import spectral
x = torch.randn(4096, 180, requires_grad=True)
spectral.psd_kl(x, torch.randn(4096, 180), fs=30.0, n_fft=2048).backward()
pid = os.fork()
if pid == 0:
    p = spectral.band_psd(np.random.randn(4096, 180).astype(np.float32), 30.0)
    os._exit(0 if p.shape == (4096, 16) else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork semantics tested on Linux")
def test_numpy_op_in_forked_child_does_not_hang():
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-c", "import sys\n" + CHILD], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
