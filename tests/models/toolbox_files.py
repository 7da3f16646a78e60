"""Where the released rPPG-Toolbox checkpoints and their parity file are (tests skip without them).

``RPPG_DISTILL_TOOLBOX_DIR`` or ``<repo>/../shared/models/toolbox/``; the project ships no weights
(their license is the RAIL in that folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ENV = "RPPG_DISTILL_TOOLBOX_DIR"
PHYSNET = "PURE_PhysNet_DiffNormalized.pth"
FACTORIZEPHYS = "PURE_FactorizePhys_FSAM_Res.pth"
PARITY = "toolbox_parity.npz"


def toolbox_dir() -> Path:
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "models" / "toolbox"


def toolbox_file(name: str) -> Path:
    """Path of a shared toolbox file, or skip the test saying what is missing and where."""
    path = toolbox_dir() / name
    if not path.is_file():
        pytest.skip(f"rPPG-Toolbox file {name} not found in {path.parent} (set {ENV} to the folder "
                    f"holding the released checkpoints and {PARITY})")
    return path


def parity_case(arch: str):
    """(checkpoint path, float32 model input [1, 3, T, 72, 72], toolbox output [1, T]).

    The inputs follow the parity file's README: PhysNet ``(u8 - 128) / 32``; FactorizePhys the
    uint8 values as float (the toolbox's extra repeated last frame is what the package model's
    ``append_last_frame`` does, so T frames go in)."""
    import numpy as np

    z = np.load(toolbox_file(PARITY))
    u8 = z[f"{arch}_input_u8"]
    if arch == "physnet":
        x = (u8.astype(np.float32) - 128.0) / 32.0
        ckpt = toolbox_file(PHYSNET)
    else:
        x = u8.astype(np.float32)
        ckpt = toolbox_file(FACTORIZEPHYS)
    return ckpt, x, z[f"{arch}_output"].astype(np.float32)
