"""Model predictions over a clip dataset (torch side of evaluation).

:func:`predict` is the one place where a trained video model is run over test clips: both
trainers' evaluation and the public evaluate path go through it, then through
:func:`rppg_distill.evaluate.pipeline.evaluate_clips`. Imported on demand (torch), never by
``rppg_distill.evaluate`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Predictions:
    """``pred`` and ``label`` float32 [N, T] in the clips' label space; ``keys`` one per clip;
    ``fs`` float64 [N], each clip's sampling rate, when the dataset's items carry ``"fs"`` (the
    package's clip datasets do), else None (the caller's configured rate applies)."""

    pred: np.ndarray
    label: np.ndarray
    keys: list[str]
    fs: np.ndarray | None = None

    def rates(self, default: float) -> np.ndarray | float:
        """The per-clip rates, or ``default`` where the clips did not say."""
        return self.fs if self.fs is not None else float(default)


def resize_video(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, C, T, H, W] -> [B, C, T, size, size] by area averaging (no-op when already that size)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    b, c, t, h, w = x.shape
    y = F.adaptive_avg_pool2d(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w), size)
    return y.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4).contiguous()


@torch.no_grad()
def predict(model: torch.nn.Module, dataset, *, img_size: int | None = None, device=None,
            batch_size: int = 8) -> Predictions:
    """Run ``model`` (eval mode) over a dataset of ``{"video" [C,T,H,W], "bvp" [T], "key"?}`` items.

    Args:
        img_size: resize the frames to this side first (the trainers' input size); None: as is.
        device: where to run (default: the model's parameters' device; CPU for a model without
            parameters, e.g. :class:`rppg_distill.evaluate.onnx_model.OnnxModel`).
        batch_size: clips per forward pass (a fixed-batch model sets its own).

    Returns:
        :class:`Predictions`; clips without a ``key`` get their index as key.
    """
    if dataset is None or len(dataset) == 0:
        raise ValueError("predict: the dataset is empty")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    preds, labels, keys, rates = [], [], [], []
    try:
        for b in torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False):
            x = b["video"].to(device).float()
            if img_size:
                x = resize_video(x, int(img_size))
            preds.append(model(x).float().cpu())
            labels.append(b["bvp"].float())
            k = b.get("key")
            keys += [str(s) for s in k] if k is not None else [str(len(keys) + i) for i in range(x.shape[0])]
            if "fs" in b:
                rates.append(torch.as_tensor(b["fs"], dtype=torch.float64).reshape(-1))
    finally:
        model.train(was_training)
    fs = torch.cat(rates).numpy() if rates and sum(len(r) for r in rates) == len(keys) else None
    return Predictions(torch.cat(preds).numpy(), torch.cat(labels).numpy(), keys, fs)
