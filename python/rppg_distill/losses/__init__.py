"""Supervised losses and the two distillation objectives (torch), built on the spectral core.

* :mod:`.supervised`: ``neg_pearson`` (1 - r per sample), ``snr_loss`` (docs/METHODS.md §3.2),
  ``mse``, ``rpm_supervised_loss`` (0.01*NegPearson + SNR) and their ``nn.Module`` forms.
* :mod:`.crossview`: ``cross_view_loss`` / ``CrossViewLoss`` (paper 1).
* :mod:`.rpm`: ``rpm_distill_loss`` / ``RPMDistillLoss`` (paper 2, label-optional, ablation
  switches), ``log_spectra``, ``policy_input``.
"""

from __future__ import annotations

from .crossview import CrossViewLoss, CrossViewTerms, cross_view_loss
from .rpm import RPMDistillLoss, RPMTerms, log_spectra, policy_input, rpm_distill_loss
from .supervised import (
    NegPearsonLoss,
    RPMSupervisedLoss,
    SNRLoss,
    mse,
    neg_pearson,
    rpm_supervised_loss,
    snr_loss,
)

__all__ = [
    "CrossViewLoss",
    "CrossViewTerms",
    "NegPearsonLoss",
    "RPMDistillLoss",
    "RPMSupervisedLoss",
    "RPMTerms",
    "SNRLoss",
    "cross_view_loss",
    "log_spectra",
    "mse",
    "neg_pearson",
    "policy_input",
    "rpm_distill_loss",
    "rpm_supervised_loss",
    "snr_loss",
]
