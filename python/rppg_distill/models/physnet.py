"""PhysNet (Yu et al., BMVC 2019), the 3D-CNN encoder-decoder variant with max pooling.

Shapes: ``x [B, C, T, H, W] -> [B, T]``. The encoder halves T twice and the decoder doubles it
twice, so T must be a multiple of 4; other T are padded by replicating the last frame up to the
next multiple of 4 and the output is cropped back to T. The final spatial pooling is a mean over
H and W (the toolbox's ``AdaptiveAvgPool3d((T, 1, 1))`` on a map whose temporal size is already
T), which exports to ONNX as a plain ReduceMean.
"""

from __future__ import annotations

import torch
import torch.nn as nn


def _block(cin: int, cout: int, k, p) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, k, stride=1, padding=p), nn.BatchNorm3d(cout),
                         nn.ReLU())


class PhysNet(nn.Module):
    """PhysNet 3D-CNN.

    Args:
        frames: nominal clip length (kept for the interface; any T works).
        in_channels: colour channels (3).
        width: base width (16 -> 32 -> 64 channels as in the paper).
    """

    def __init__(self, frames: int = 128, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.frames = int(frames)
        self.in_channels = int(in_channels)
        w1, w2, w3 = width, 2 * width, 4 * width
        self.block1 = _block(in_channels, w1, (1, 5, 5), (0, 2, 2))
        self.pool1 = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.block2 = _block(w1, w2, 3, 1)
        self.block3 = _block(w2, w3, 3, 1)
        self.pool2 = nn.MaxPool3d(2, stride=2)
        self.block4 = _block(w3, w3, 3, 1)
        self.block5 = _block(w3, w3, 3, 1)
        self.pool3 = nn.MaxPool3d(2, stride=2)
        self.block6 = _block(w3, w3, 3, 1)
        self.block7 = _block(w3, w3, 3, 1)
        self.pool4 = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))
        self.block8 = _block(w3, w3, 3, 1)
        self.block9 = _block(w3, w3, 3, 1)
        self.up1 = nn.Sequential(nn.ConvTranspose3d(w3, w3, (4, 1, 1), stride=(2, 1, 1),
                                                    padding=(1, 0, 0)),
                                 nn.BatchNorm3d(w3), nn.ELU())
        self.up2 = nn.Sequential(nn.ConvTranspose3d(w3, w3, (4, 1, 1), stride=(2, 1, 1),
                                                    padding=(1, 0, 0)),
                                 nn.BatchNorm3d(w3), nn.ELU())
        self.head = nn.Conv3d(w3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"PhysNet expects x [B, {self.in_channels}, T, H, W], "
                             f"got shape {tuple(x.shape)}")
        t = x.shape[2]
        if min(x.shape[3], x.shape[4]) < 16:
            raise ValueError(f"PhysNet needs H, W >= 16, got {tuple(x.shape[3:])}")
        pad = (-t) % 4
        if pad:
            x = torch.cat([x, x[:, :, -1:].expand(-1, -1, pad, -1, -1)], dim=2)
        h = self.pool1(self.block1(x))
        h = self.pool2(self.block3(self.block2(h)))
        h = self.pool3(self.block5(self.block4(h)))
        h = self.pool4(self.block7(self.block6(h)))
        h = self.block9(self.block8(h))
        h = self.up2(self.up1(h))
        h = h.mean(dim=(3, 4), keepdim=True)
        y = self.head(h).flatten(1)  # [B, T+pad]
        return y[:, :t] if pad else y
