"""Test helpers for the deploy tests: a pulse video with a known HR, a torch-free ONNX 'GREEN'
model (mean green channel per frame), and a tiny torch student shaped like EfficientPhys-C."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def face_image(size=(320, 240)) -> np.ndarray:
    """uint8 [H, W, 3]: the astronaut's face, square, centred on a dark grey frame of ``size``."""
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut()[:300, 100:400], (size[1], size[1]))
    img = np.full((size[1], size[0], 3), 40, np.uint8)
    x0 = (size[0] - size[1]) // 2
    img[:, x0:x0 + size[1]] = face
    return img


def pulse_frames(hr_bpm: float = 72.0, seconds: float = 12.0, fps: float = 30.0, size=(320, 240),
                 amp: float = 0.02, seed: int = 0, jitter_s: float = 0.0):
    """(frames uint8 [N, H, W, 3], timestamps [N]) of a face photo whose brightness pulses at
    hr_bpm. ``jitter_s`` > 0 draws irregular frame times (variable fps)."""
    rng = np.random.default_rng(seed)
    img = face_image(size)
    n = int(round(seconds * fps))
    t = np.arange(n) / fps
    if jitter_s:
        t = np.cumsum(np.clip(rng.normal(1 / fps, jitter_s, n), 0.2 / fps, None))
        t -= t[0]
    gain = 1.0 + amp * np.sin(2 * np.pi * hr_bpm / 60.0 * t)
    base = img.astype(np.float32)
    noise = rng.normal(0, 1.0, (8,) + base.shape).astype(np.float32)
    frames = np.empty((n, size[1], size[0], 3), np.uint8)
    for i in range(n):
        frames[i] = np.clip(base * gain[i] + noise[rng.integers(8)], 0, 255)
    return frames, t


def green_onnx(path, frames: int = 90, size: int = 36, fs: float = 30.0, batch="dynamic") -> Path:
    """An ONNX 'model' without torch: bvp[b, t] = mean over (H, W) of the green channel, with the
    rppg-distill contract attached (normalization raw)."""
    import onnx
    from onnx import TensorProto, helper

    from rppg_distill.deploy.contract import CONTRACT_KEY, Contract, write_sidecar

    b = batch if isinstance(batch, int) else "batch"
    x = helper.make_tensor_value_info("video", TensorProto.FLOAT, [b, 3, frames, size, size])
    y = helper.make_tensor_value_info("bvp", TensorProto.FLOAT, [b, frames])
    inits = [helper.make_tensor("starts", TensorProto.INT64, [1], [1]),
             helper.make_tensor("ends", TensorProto.INT64, [1], [2]),
             helper.make_tensor("axes_c", TensorProto.INT64, [1], [1]),
             helper.make_tensor("axes_r", TensorProto.INT64, [3], [1, 3, 4])]
    nodes = [helper.make_node("Slice", ["video", "starts", "ends", "axes_c"], ["g"]),
             helper.make_node("ReduceMean", ["g", "axes_r"], ["bvp"], keepdims=0)]
    graph = helper.make_graph(nodes, "green", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    c = Contract(model="green", frames=frames, height=size, width=size, normalization="raw", fs=fs,
                 batch=batch)
    e = model.metadata_props.add()
    e.key, e.value = CONTRACT_KEY, c.to_json()
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    write_sidecar(path, c)
    return Path(path)


def tiny_student():
    """A small torch model with EfficientPhys-C's I/O and export-relevant ops."""
    import torch
    import torch.nn as nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(3)
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.fc = nn.Linear(8, 1)

        def forward(self, x):
            b, c, t, h, w = x.shape
            x = torch.cat([x, x[:, :, -1:]], dim=2)
            d = x[:, :, 1:] - x[:, :, :-1]
            f = d.permute(0, 2, 1, 3, 4).reshape(-1, c, h, w)
            f = torch.tanh(self.conv(self.bn(f)))
            m = torch.sigmoid(self.conv2(f))
            f = (f * m).mean(dim=(2, 3))
            return self.fc(f).reshape(-1, t)

    torch.manual_seed(0)
    return Tiny().eval()
