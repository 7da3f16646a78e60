"""Classical (training-free) rPPG methods on RGB traces, numpy only: POS, CHROM, PBV, GREEN, ICA, LGI."""

from __future__ import annotations

from rppg_distill.classical.methods import METHODS, check_rgb, chrom, green, ica, lgi, pbv, pos, run_method
from rppg_distill.classical.pipeline import DEFAULT_METHOD, ClassicalPipeline
from rppg_distill.classical.traces import fill_dropped_frames, rgb_trace, skin_mask_ycrcb

__all__ = [
                                            "DEFAULT_METHOD",
                                            "METHODS",
                                            "ClassicalPipeline",
                                            "check_rgb",
                                            "chrom",
                                            "fill_dropped_frames",
                                            "green",
                                            "ica",
                                            "lgi",
                                            "pbv",
                                            "pos",
                                            "rgb_trace",
                                            "run_method",
                                            "skin_mask_ycrcb",
]
