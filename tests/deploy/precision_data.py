"""The int8/fp16 tests' model and clips (test_precision, test_int8_target and
bench/int8_layers.py use the same recipe): EfficientPhys-C, T = 60, 36x36, pulse videos with
known HR."""

from __future__ import annotations

import numpy as np
from helpers import pulse_frames, tiny_student

from rppg_distill.deploy.contract import Contract

C = Contract(model="efficientphys_c", frames=60, height=36, width=36, normalization="standardized")


def student():
    try:
        from rppg_distill.models import build_model
    except ImportError:
        return tiny_student()
    import torch

    torch.manual_seed(0)
    return build_model("efficientphys_c", frame_depth=10, img_size=36).eval()


def pulse_clips(hrs, seeds):
    """Clips [K, 3, 60, 36, 36] of pulse videos at ``hrs`` (3 per 4-s video) and the true HR per clip."""
    import cv2

    clips, hr_true = [], []
    for hr, seed in zip(hrs, seeds):
        frames, _ = pulse_frames(hr, seconds=4.0, size=(64, 48), seed=seed)
        crops = np.stack([cv2.resize(f[:, 8:56], (36, 36), interpolation=cv2.INTER_AREA) for f in frames])
        from rppg_distill.deploy import precision

        c = precision.clips_from_crops(crops, C, stride=30)
        clips.append(c)
        hr_true += [float(hr)] * len(c)
    return np.concatenate(clips), np.asarray(hr_true)
