"""Evaluation: HR protocols of the two papers, metrics, per-view tables, statistics and plots.

numpy/scipy only; matplotlib is imported by the plot functions alone, torch by
:func:`predict` alone (``rppg_distill.evaluate.inference``).
"""

from __future__ import annotations

from rppg_distill.evaluate.chance import chance_level
from rppg_distill.evaluate.classical_eval import Clip, classical_table, evaluate_classical
from rppg_distill.evaluate.metrics import hr_metrics, mae, mape, pearson, rmse, std_error
from rppg_distill.evaluate.pipeline import evaluate_clips, evaluate_signal, summarize
from rppg_distill.evaluate.stats import WilcoxonResult, wilcoxon_paired
from rppg_distill.evaluate.tables import ResultTable, mean_std, per_view_table
from rppg_distill.signal import (
    PROTOCOLS,
    HRProtocol,
    get_protocol,
    hr_fft,
    hr_peaks,
    hr_protocol,
    hr_windows,
    peak_concentration,
    snr_db,
    to_pulse,
)


def predict(*args, **kwargs):
    """See ``rppg_distill.evaluate.inference.predict`` (imports torch on call)."""
    from rppg_distill.evaluate.inference import predict as _f
    return _f(*args, **kwargs)


def bland_altman(*args, **kwargs):
    """See ``rppg_distill.evaluate.plots.bland_altman`` (imports matplotlib on call)."""
    from rppg_distill.evaluate.plots import bland_altman as _f
    return _f(*args, **kwargs)


def psd_plot(*args, **kwargs):
    """See ``rppg_distill.evaluate.plots.psd_plot`` (imports matplotlib on call)."""
    from rppg_distill.evaluate.plots import psd_plot as _f
    return _f(*args, **kwargs)


__all__ = [
    "PROTOCOLS",
    "Clip",
    "HRProtocol",
    "ResultTable",
    "WilcoxonResult",
    "bland_altman",
    "chance_level",
    "classical_table",
    "evaluate_classical",
    "evaluate_clips",
    "evaluate_signal",
    "get_protocol",
    "hr_fft",
    "hr_metrics",
    "hr_peaks",
    "hr_protocol",
    "hr_windows",
    "mae",
    "mape",
    "mean_std",
    "peak_concentration",
    "pearson",
    "per_view_table",
    "predict",
    "psd_plot",
    "rmse",
    "snr_db",
    "std_error",
    "summarize",
    "to_pulse",
    "wilcoxon_paired",
]
