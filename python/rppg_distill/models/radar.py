"""Radar teacher ``RF_conv_decoder`` (docs/METHODS.md §3.1).

Input: I/Q of 5 range bins around the strongest bin (10 channels), resampled to T samples.

* Encoder: Conv1d k7 pad3, 10->32->64->128->256->512, each followed by BatchNorm+ReLU, then
  Conv1d k7 pad3 512->1024 with no BatchNorm (and no activation).
* Decoder: ConvTranspose1d k7 stride 1 pad 3, 1024->512->256->128->64->32, each followed by
  BatchNorm+ReLU, then a 1x1 Conv1d 32->1.

With stride 1, ``padding=3`` on the k7 transposed conv gives ``L_out = (L-1) - 6 + 7 = L``, so
every layer keeps the length T and the output is ``[B, T]`` for any T >= 1.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class RFConvDecoder(nn.Module):
    """Radar pulse teacher: ``radar [B, in_channels, T] -> [B, T]``.

    Args:
        in_channels: radar channels (10 = I/Q of 5 range bins).
        encoder_channels: widths of the BN+ReLU encoder stages.
        bottleneck: width of the last encoder conv (no BN).
        kernel_size: odd kernel size of all k7 layers.
    """

    def __init__(self, in_channels: int = 10, encoder_channels=(32, 64, 128, 256, 512),
                 bottleneck: int = 1024, kernel_size: int = 7):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("kernel_size must be odd so that the length T is kept")
        self.in_channels = int(in_channels)
        pad = kernel_size // 2
        enc: list[nn.Module] = []
        c = in_channels
        for co in encoder_channels:
            enc += [nn.Conv1d(c, co, kernel_size, padding=pad), nn.BatchNorm1d(co), nn.ReLU()]
            c = co
        enc.append(nn.Conv1d(c, bottleneck, kernel_size, padding=pad))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        c = bottleneck
        for co in reversed(encoder_channels):
            dec += [nn.ConvTranspose1d(c, co, kernel_size, stride=1, padding=pad),
                    nn.BatchNorm1d(co), nn.ReLU()]
            c = co
        self.decoder = nn.Sequential(*dec)
        self.head = nn.Conv1d(c, 1, 1)

    def forward(self, radar: torch.Tensor) -> torch.Tensor:
        if radar.dim() != 3 or radar.shape[1] != self.in_channels:
            raise ValueError(f"RFConvDecoder expects radar [B, {self.in_channels}, T], "
                             f"got shape {tuple(radar.shape)}")
        return self.head(self.decoder(self.encoder(radar))).squeeze(1)
