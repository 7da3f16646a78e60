"""EfficientPhys-C (Liu et al., WACV 2023), written to export cleanly to ONNX and TensorRT.

The convolutional EfficientPhys variant: an input difference layer (frame t+1 minus frame t)
followed by BatchNorm, four 2D convolutions with temporal-shift modules (TSM) in front of each,
two self-attention masks, and a two-layer dense head that gives one pulse sample per frame.

Export notes (why this file does not look like the rPPG-Toolbox version):

* The temporal difference is ``x[:, :, 1:] - x[:, :, :-1]`` on a clip whose last frame is
  replicated once (``torch.cat``), not ``torch.diff`` (``aten::diff`` has no ONNX symbolic).
* The temporal shift builds its output with slicing and ``torch.cat``, not ``torch.zeros_like``
  plus in-place index assignment (which exports as ``ScatterND``, slow or unsupported in
  TensorRT).
* All reshapes keep the batch as ``-1`` so the exported graph can have a dynamic batch.

Time handling:

* Input ``x`` is ``[B, C, T, H, W]``; output is ``[B, T]``, the same T. The difference layer
  replicates the last frame before differencing, so it yields T differences; the last one is
  identically zero (the toolbox instead feeds T+1 frames).
* The TSM works on consecutive groups of ``frame_depth`` frames inside each clip. When T is not
  a multiple of ``frame_depth`` the clip is padded (after the difference) with zero difference
  frames up to the next multiple and the output is cropped back to T. T is static in an
  exported graph, so this is a fixed pad there. Groups never cross clip boundaries (unlike the
  toolbox, where the batch is flattened before the difference).
"""

from __future__ import annotations

import torch
import torch.nn as nn


def temporal_shift(x: torch.Tensor, n_segment: int, fold_div: int = 3) -> torch.Tensor:
    """Temporal shift (TSM) with slicing and concatenation only.

    Args:
        x: ``[N*n_segment, C, H, W]`` frames, grouped in consecutive runs of ``n_segment``.
        n_segment: frames per group (the shift does not cross groups; the edge gets zeros).
        fold_div: the first ``C // fold_div`` channels move one frame back in time (frame t takes
            frame t+1), the next ``C // fold_div`` one frame forward, the rest stay.

    Returns:
        Tensor of the same shape.
    """
    nt, c, h, w = x.shape
    fold = c // fold_div
    if fold == 0:
        return x
    x5 = x.reshape(-1, n_segment, c, h, w)
    zero = torch.zeros_like(x5[:, :1, :fold])
    left = torch.cat([x5[:, 1:, :fold], zero], dim=1)  # out[t] = x[t+1]
    right = torch.cat([zero, x5[:, :-1, fold:2 * fold]], dim=1)  # out[t] = x[t-1]
    out = torch.cat([left, right, x5[:, :, 2 * fold:]], dim=2)
    return out.reshape(nt, c, h, w)


def temporal_difference(x: torch.Tensor) -> torch.Tensor:
    """Frame difference ``d[t] = x[t+1] - x[t]`` along dim 2 of ``[B, C, T, H, W]``.

    The last frame is replicated first, so the output keeps length T and ``d[T-1] == 0``.
    """
    xp = torch.cat([x, x[:, :, -1:]], dim=2)
    return xp[:, :, 1:] - xp[:, :, :-1]


class TSM(nn.Module):
    """Module wrapper of :func:`temporal_shift`."""

    def __init__(self, n_segment: int, fold_div: int = 3):
        super().__init__()
        self.n_segment = int(n_segment)
        self.fold_div = int(fold_div)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return temporal_shift(x, self.n_segment, self.fold_div)


class AttentionMask(nn.Module):
    """Self-attention mask normalization: ``x / sum_hw(x) * H * W / 2``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        s = x.sum(dim=(2, 3), keepdim=True)
        return x / s * (h * w * 0.5)


class EfficientPhysC(nn.Module):
    """EfficientPhys-C video pulse model.

    Args:
        frame_depth: TSM group length in frames (paper: 10).
        img_size: input height = width (36, 72 or 96; paper: 72).
        in_channels: colour channels (3).
        nb_filters1, nb_filters2: conv widths (32, 64).
        nb_dense: hidden dense width (128).
        dropout_rate1, dropout_rate2: dropout after the pools / after the hidden dense layer.

    Shapes:
        forward: ``x [B, C, T, H, W]`` float32 (raw or standardized frames; the model takes the
        difference itself) -> ``[B, T]``. Any T >= 1 works; see the module docstring.
    """

    def __init__(self, frame_depth: int = 10, img_size: int = 72, in_channels: int = 3,
                 nb_filters1: int = 32, nb_filters2: int = 64, nb_dense: int = 128,
                 dropout_rate1: float = 0.25, dropout_rate2: float = 0.5, kernel_size: int = 3):
        super().__init__()
        if img_size < 12:
            raise ValueError(f"img_size must be >= 12, got {img_size}")
        self.frame_depth = int(frame_depth)
        self.img_size = int(img_size)
        self.in_channels = int(in_channels)
        k = kernel_size
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.tsm = TSM(frame_depth)
        self.motion_conv1 = nn.Conv2d(in_channels, nb_filters1, k, padding=k // 2)
        self.motion_conv2 = nn.Conv2d(nb_filters1, nb_filters1, k)
        self.motion_conv3 = nn.Conv2d(nb_filters1, nb_filters2, k, padding=k // 2)
        self.motion_conv4 = nn.Conv2d(nb_filters2, nb_filters2, k)
        self.attention_conv1 = nn.Conv2d(nb_filters1, 1, 1)
        self.attention_conv2 = nn.Conv2d(nb_filters2, 1, 1)
        self.attn_mask1 = AttentionMask()
        self.attn_mask2 = AttentionMask()
        self.pool1 = nn.AvgPool2d(2)
        self.pool2 = nn.AvgPool2d(2)
        self.dropout1 = nn.Dropout(dropout_rate1)
        self.dropout2 = nn.Dropout(dropout_rate1)
        self.dropout3 = nn.Dropout(dropout_rate2)
        s = img_size - (k - 1)  # conv2 has no padding
        s = s // 2
        s = s - (k - 1)  # conv4 has no padding
        s = s // 2
        self.flat_features = nb_filters2 * s * s
        self.dense1 = nn.Linear(self.flat_features, nb_dense)
        self.dense2 = nn.Linear(nb_dense, 1)

    def frames_forward(self, d: torch.Tensor) -> torch.Tensor:
        """Run the network on difference frames ``[B*T', C, H, W]`` (T' a multiple of frame_depth).

        Returns ``[B*T', 1]``.
        """
        tsm = self.tsm
        x = self.input_bn(d)
        x = torch.tanh(self.motion_conv1(tsm(x)))
        x = torch.tanh(self.motion_conv2(tsm(x)))
        g = self.attn_mask1(torch.sigmoid(self.attention_conv1(x)))
        x = self.dropout1(self.pool1(x * g))
        x = torch.tanh(self.motion_conv3(tsm(x)))
        x = torch.tanh(self.motion_conv4(tsm(x)))
        g = self.attn_mask2(torch.sigmoid(self.attention_conv2(x)))
        x = self.dropout2(self.pool2(x * g))
        x = x.flatten(1)
        x = self.dropout3(torch.tanh(self.dense1(x)))
        return self.dense2(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(
                f"EfficientPhysC expects x [B, C, T, H, W], got shape {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        if c != self.in_channels or h != self.img_size or w != self.img_size:
            raise ValueError(
                f"EfficientPhysC(in_channels={self.in_channels}, img_size={self.img_size}) got "
                f"x of shape {tuple(x.shape)}; expected [B, {self.in_channels}, T, "
                f"{self.img_size}, {self.img_size}]")
        d = temporal_difference(x)
        pad = (-t) % self.frame_depth
        if pad:
            d = torch.cat([d, torch.zeros_like(d[:, :, :1]).expand(-1, -1, pad, -1, -1)], dim=2)
        tp = t + pad
        frames = d.permute(0, 2, 1, 3, 4).reshape(-1, c, h, w)
        y = self.frames_forward(frames).reshape(-1, tp)
        if pad:
            y = y[:, :t]
        return y
