"""Spectral policy network of RPM-Distill (docs/METHODS.md §3.3), about 72 k parameters.

Input: the spectral relation map ``[B, 3, K] = stack(l_s, l_t, |l_s - l_t|)`` (z-scored log band
spectra of student and teacher). Output: component weights ``alpha [B, 3]`` (softmax, order
peak/off/shape) and a distillation gate ``gate [B, 1]`` (sigmoid).

Architecture:

* Stem: Conv1d 3->32 k5 (no bias) + GroupNorm(8) + SiLU.
* Residual block (32 ch, dilation 1); Conv1d 32->64 k3 stride 2 + GN + SiLU; residual blocks
  (64 ch, dilation 2 and 4). A block is conv(k3, dilation d) -> GN -> SiLU -> conv(k3) -> GN,
  then SiLU(x + residual). Convs followed by GroupNorm carry no bias.
* Matrix-decomposition decoder, rank R=8: X = SiLU(GN(1x1 conv 64->64)) ``[B, 64, F]``;
  basis attention ``A_b = softmax_F(conv 64->R)``, coefficient attention
  ``A_c = softmax_R(conv 64->R)``; tokens ``T_b = A_b X^T``, ``T_c = A_c X^T`` (``[B, R, 64]``);
  ``md = mean_r (T_b + T_c) / 2``; concatenated with the frequency-average-pooled X (128 values)
  -> Linear 128->32 -> SiLU -> Dropout(0.1).
* Heads: ``alpha = softmax(Linear 32->3)``, ``gate = sigmoid(Linear 32->1)``.

GroupNorm and the length-independent decoder make it work for any K >= 2.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class _ResBlock1d(nn.Module):
    def __init__(self, channels: int, dilation: int, groups: int = 8):
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation,
                               bias=False)
        self.gn1 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(groups, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.silu(self.gn1(self.conv1(x)))
        y = self.gn2(self.conv2(y))
        return F.silu(x + y)


class SpectralPolicy(nn.Module):
    """Per-sample distillation policy: ``rel [B, 3, K] -> (alpha [B, 3], gate [B, 1])``.

    Args:
        rank: rank R of the matrix-decomposition decoder (8).
        in_channels: channels of the relation map (3).
        width: stem width (32); the second stage is ``2 * width``.
        hidden: width of the fused feature (32).
        dropout: dropout after the fused feature (0.1).
        n_components: number of distillation components weighted by alpha (3).
    """

    def __init__(self, rank: int = 8, in_channels: int = 3, width: int = 32, hidden: int = 32,
                 dropout: float = 0.1, n_components: int = 3, groups: int = 8):
        super().__init__()
        w2 = 2 * width
        self.rank = int(rank)
        self.in_channels = int(in_channels)
        self.stem = nn.Sequential(nn.Conv1d(in_channels, width, 5, padding=2, bias=False),
                                  nn.GroupNorm(groups, width), nn.SiLU())
        self.block1 = _ResBlock1d(width, 1, groups)
        self.down = nn.Sequential(nn.Conv1d(width, w2, 3, stride=2, padding=1, bias=False),
                                  nn.GroupNorm(groups, w2), nn.SiLU())
        self.block2 = _ResBlock1d(w2, 2, groups)
        self.block3 = _ResBlock1d(w2, 4, groups)
        self.md_proj = nn.Sequential(nn.Conv1d(w2, w2, 1, bias=False), nn.GroupNorm(groups, w2),
                                     nn.SiLU())
        self.basis_att = nn.Conv1d(w2, rank, 1)
        self.coef_att = nn.Conv1d(w2, rank, 1)
        self.fuse = nn.Sequential(nn.Linear(2 * w2, hidden), nn.SiLU(), nn.Dropout(dropout))
        self.alpha_head = nn.Linear(hidden, n_components)
        self.gate_head = nn.Linear(hidden, 1)

    def features(self, rel: torch.Tensor) -> torch.Tensor:
        """The fused feature ``[B, hidden]``."""
        h = self.block3(self.block2(self.down(self.block1(self.stem(rel)))))
        x = self.md_proj(h)  # [B, C, F]
        a_b = torch.softmax(self.basis_att(x), dim=2)  # over frequency
        a_c = torch.softmax(self.coef_att(x), dim=1)  # over rank
        xt = x.transpose(1, 2)  # [B, F, C]
        t_b = torch.bmm(a_b, xt)  # [B, R, C]
        t_c = torch.bmm(a_c, xt)
        md = (0.5 * (t_b + t_c)).mean(dim=1)  # [B, C]
        pooled = x.mean(dim=2)  # [B, C]
        return self.fuse(torch.cat([md, pooled], dim=1))

    def forward(self, rel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if rel.dim() != 3 or rel.shape[1] != self.in_channels or rel.shape[2] < 2:
            raise ValueError(f"SpectralPolicy expects rel [B, {self.in_channels}, K>=2], "
                             f"got shape {tuple(rel.shape)}")
        z = self.features(rel)
        alpha = torch.softmax(self.alpha_head(z), dim=1)
        gate = torch.sigmoid(self.gate_head(z))
        return alpha, gate


def relation_map(log_student: torch.Tensor, log_teacher: torch.Tensor) -> torch.Tensor:
    """Stack ``(l_s, l_t, |l_s - l_t|)`` into the policy input ``[B, 3, K]``."""
    return torch.stack([log_student, log_teacher, (log_student - log_teacher).abs()], dim=1)
