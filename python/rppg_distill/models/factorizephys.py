"""FactorizePhys with the Factorized Self-Attention Module (FSAM; Joshi et al., NeurIPS 2024).

A 3D-CNN whose head factorizes the voxel embeddings with non-negative matrix factorization (NMF)
across time x (channels*space); the low-rank reconstruction is the attention map.

Differences from the published code, on purpose:

* The NMF input is made non-negative with a **per-sample** minimum (the published code subtracts
  the batch-global minimum, which couples the samples of a batch: a sample's output then depends
  on its batch mates). The residual product uses per-sample minima too.
* The NMF bases start from a deterministic, data-dependent initialization (the temporal mean
  profile, modulated by low-order cosines for rank > 1) rather than ``torch.rand``, so inference
  is deterministic and the graph exports to ONNX without random ops.
* The temporal difference keeps T (last frame replicated, see
  :func:`rppg_distill.models.efficientphys.temporal_difference`): ``x [B, C, T, H, W] -> [B, T]``
  for any T >= 1 (the paper feeds T+1 frames and outputs T; its trainer appends a copy of the
  last frame, which is what the replication does). H = W = 72 by default; the spatial stack
  reduces 72 -> 1, other sizes are pooled to 1x1 by a mean at the end.

Options that reproduce the published (rPPG-Toolbox) model exactly, for its released checkpoints
(:mod:`rppg_distill.models.toolbox_import` sets them; the defaults are this package's):

* ``input_norm=True``: InstanceNorm3d over the frame differences before the first conv.
* ``fsam_post="conv_relu_conv"``: the FSAM post block 1x1x1 conv -> ReLU -> 1x1x1 conv
  (``"conv"``: one 1x1x1 conv).
* ``fsam_at_inference=False``: FSAM runs in training only; in eval mode the head is the plain
  3D-CNN (the toolbox's ``MD_INFERENCE: False`` / ``MD_FSAM: False`` at test time).
* ``fsam_min="batch"``: the batch-global minimum (couples samples; ``"sample"`` is the default).
* ``nmf_init="ones"``: NMF bases start as normalized ones (``"profile"``: the temporal mean).
* ``nmf_layout="toolbox"``: the NMF matrix is the embedding memory reshaped to [T, C*H*W]
  without moving C behind T (rows then mix channels and times, as in the published code);
  ``"time_major"`` permutes first so that each row is one time step.
* ``fsam_residual=False``: the FSAM output replaces the embeddings instead of adding to them.
* ``append_last_frame=False``: take T+1 frames and return T (the published forward).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .efficientphys import temporal_difference


def _conv_block(cin: int, cout: int, stride, padding) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=padding, bias=False),
                         nn.Tanh(), nn.InstanceNorm3d(cout))


def _per_sample_min(x: torch.Tensor) -> torch.Tensor:
    return x.amin(dim=tuple(range(1, x.dim())), keepdim=True)


def _batch_min(x: torch.Tensor) -> torch.Tensor:
    return x.min()


_MINIMA = {"sample": _per_sample_min, "batch": _batch_min}
_FSAM_POSTS = ("conv", "conv_relu_conv")
_NMF_INITS = ("profile", "ones")
_NMF_LAYOUTS = ("time_major", "toolbox")


def _check_choice(name: str, value: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"FactorizePhys {name}={value!r} is not one of {tuple(choices)}")
    return value


class NMF(nn.Module):
    """Batched NMF ``M [B, D, N] ~= bases [B, D, R] @ coef[B, N, R]^T`` by multiplicative updates.

    ``steps`` updates run without gradient, then one coefficient update with gradient (the
    one-step gradient of Geng et al., "Is attention better than matrix decomposition?").
    """

    def __init__(self, rank: int = 1, steps: int = 4, inv_t: float = 1.0, eps: float = 1e-6,
                 init: str = "profile"):
        super().__init__()
        self.rank, self.steps, self.inv_t, self.eps = int(rank), int(steps), float(inv_t), eps
        self.init = _check_choice("nmf_init", init, _NMF_INITS)

    def init_bases(self, m: torch.Tensor) -> torch.Tensor:
        d = m.shape[1]
        if self.init == "ones":
            return torch.ones_like(m[:, :, :1]).expand(-1, -1, self.rank) / math.sqrt(d)
        prof = m.mean(dim=2, keepdim=True) + self.eps  # [B, D, 1]
        if self.rank == 1:
            bases = prof
        else:
            t = (torch.arange(d, dtype=m.dtype, device=m.device) + 0.5) / d
            r = torch.arange(self.rank, dtype=m.dtype, device=m.device)
            mod = 1.0 + 0.5 * torch.cos(math.pi * t[:, None] * r[None, :])  # [D, R], > 0
            bases = prof * mod
        return bases / (bases.norm(dim=1, keepdim=True) + self.eps)

    def _coef_step(self, m, bases, coef):
        num = torch.bmm(m.transpose(1, 2), bases)
        den = torch.bmm(coef, torch.bmm(bases.transpose(1, 2), bases))
        return coef * num / (den + self.eps)

    def _bases_step(self, m, bases, coef):
        num = torch.bmm(m, coef)
        den = torch.bmm(bases, torch.bmm(coef.transpose(1, 2), coef))
        return bases * num / (den + self.eps)

    def forward(self, m: torch.Tensor) -> torch.Tensor:
        """Return the rank-R reconstruction of non-negative ``m [B, D, N]``."""
        bases = self.init_bases(m)
        coef = torch.softmax(self.inv_t * torch.bmm(m.transpose(1, 2), bases), dim=-1)
        with torch.no_grad():
            mb, b, c = m.detach(), bases.detach(), coef.detach()
            for _ in range(self.steps):
                c = self._coef_step(mb, b, c)
                b = self._bases_step(mb, b, c)
        bases, coef = b, c
        coef = self._coef_step(m, bases, coef)
        return torch.bmm(bases, coef.transpose(1, 2))


class FSAM(nn.Module):
    """Factorized self-attention: 1x1x1 conv + ReLU -> NMF over (T) x (C*H*W) -> post block.

    ``post``: ``"conv"`` (one 1x1x1 conv) or ``"conv_relu_conv"`` (the published block);
    ``layout``: how the NMF matrix is formed (see the module docstring).
    """

    def __init__(self, channels: int, align_channels: int, rank: int = 1, steps: int = 4,
                 post: str = "conv", init: str = "profile", layout: str = "time_major"):
        super().__init__()
        _check_choice("fsam_post", post, _FSAM_POSTS)
        self.layout = _check_choice("nmf_layout", layout, _NMF_LAYOUTS)
        self.pre = nn.Sequential(nn.Conv3d(channels, align_channels, 1), nn.ReLU())
        self.nmf = NMF(rank=rank, steps=steps, init=init)
        if post == "conv":
            self.post = nn.Conv3d(align_channels, channels, 1, bias=False)
        else:
            self.post = nn.Sequential(nn.Conv3d(align_channels, align_channels, 1, bias=False),
                                      nn.ReLU(),
                                      nn.Conv3d(align_channels, channels, 1, bias=False))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        x = self.pre(v)
        b, c, t, h, w = x.shape
        if self.layout == "toolbox":
            rec = self.nmf(x.reshape(b, t, c * h * w)).reshape(b, c, t, h, w)
        else:
            m = x.permute(0, 2, 1, 3, 4).reshape(b, t, c * h * w)
            rec = self.nmf(m).reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)
        return self.post(rec)


class FactorizePhys(nn.Module):
    """FactorizePhys + FSAM video pulse model: ``x [B, C, T, H, W] -> [B, T]``.

    Args:
        img_size: input height = width (72).
        in_channels: colour channels (3).
        channels: the three widths (8, 12, 16).
        use_fsam: FSAM on (True) or the plain 3D-CNN (False).
        rank, md_steps: NMF rank (1) and iterations (4).
        dropout: Dropout3d rate (0.1).
        frames: nominal clip length (kept for the interface; any T works).
        input_norm, fsam_post, fsam_at_inference, fsam_min, nmf_init, nmf_layout, fsam_residual,
            append_last_frame: see the module docstring (defaults: this package's model).
    """

    def __init__(self, img_size: int = 72, in_channels: int = 3, channels=(8, 12, 16),
                 use_fsam: bool = True, rank: int = 1, md_steps: int = 4, dropout: float = 0.1,
                 frames: int | None = None, input_norm: bool = False, fsam_post: str = "conv",
                 fsam_at_inference: bool = True, fsam_min: str = "sample",
                 nmf_init: str = "profile", nmf_layout: str = "time_major",
                 fsam_residual: bool = True, append_last_frame: bool = True):
        super().__init__()
        n0, n1, n2 = channels
        self.img_size, self.in_channels, self.use_fsam = int(img_size), int(in_channels), use_fsam
        self.frames = frames
        self.fsam_at_inference = bool(fsam_at_inference)
        self.fsam_residual = bool(fsam_residual)
        self.append_last_frame = bool(append_last_frame)
        self._min = _MINIMA[_check_choice("fsam_min", fsam_min, _MINIMA)]
        self.norm = nn.InstanceNorm3d(in_channels) if input_norm else None
        p0 = (1, 0, 0)
        self.extractor = nn.Sequential(
            _conv_block(in_channels, n0, 1, 1),
            _conv_block(n0, n1, (1, 2, 2), p0),
            _conv_block(n1, n1, 1, p0),
            nn.Dropout3d(dropout),
            _conv_block(n1, n1, 1, p0),
            _conv_block(n1, n2, (1, 2, 2), p0),
            _conv_block(n2, n2, 1, p0),
            nn.Dropout3d(dropout),
        )
        self.head_conv = nn.Sequential(_conv_block(n2, n2, 1, p0), _conv_block(n2, n2, 1, p0),
                                       _conv_block(n2, n2, 1, p0), nn.Dropout3d(dropout))
        if use_fsam:
            self.fsam = FSAM(n2, max(1, n2 // 2), rank=rank, steps=md_steps, post=fsam_post,
                             init=nmf_init, layout=nmf_layout)
            self.fsam_norm = nn.InstanceNorm3d(n2)
            self.bias1 = nn.Parameter(torch.tensor(1.0))
        self.final = nn.Sequential(_conv_block(n2, n1, 1, p0), _conv_block(n1, n0, 1, p0),
                                   nn.Conv3d(n0, 1, 3, padding=p0, bias=False))

    def factorize(self, v: torch.Tensor) -> torch.Tensor:
        """FSAM with the (residual) product on voxel embeddings ``v [B, C, T, h, w]``.

        Non-negativity for the NMF and the product use per-sample minima (``fsam_min``).
        """
        v0 = v - self._min(v)
        att = self.fsam(v0)
        prod = self.fsam_norm((v0 + self.bias1) * (att - self._min(att) + self.bias1))
        return v + prod if self.fsam_residual else prod

    def difference(self, x: torch.Tensor) -> torch.Tensor:
        """Frame differences of ``x [B, C, T(+1), H, W]`` (T of them), instance-normalized when
        ``input_norm``."""
        if self.append_last_frame:
            d = temporal_difference(x)
        else:
            if x.shape[2] < 2:
                raise ValueError(f"FactorizePhys(append_last_frame=False) needs T+1 >= 2 frames, "
                                 f"got {x.shape[2]}")
            d = x[:, :, 1:] - x[:, :, :-1]
        return d if self.norm is None else self.norm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"FactorizePhys expects x [B, {self.in_channels}, T, H, W], "
                             f"got shape {tuple(x.shape)}")
        if min(x.shape[3], x.shape[4]) < 40:
            raise ValueError(f"FactorizePhys needs H, W >= 40 (72 nominal), got "
                             f"{tuple(x.shape[3:])}")
        v = self.head_conv(self.extractor(self.difference(x)))
        if self.use_fsam and (self.training or self.fsam_at_inference):
            v = self.factorize(v)
        y = self.final(v)  # [B, 1, T, h, w], h = w = 1 at 72x72
        return y.mean(dim=(3, 4)).flatten(1)
