"""Sizes from arguments are bounded: a grid or n_fft over the documented limit is a ValueError
naming the limit, never a multi-GiB allocation (issue 11)."""

import numpy as np
import pytest

from rppg_distill.spectral import band_frequencies, band_psd, peak_frequency, psd_kl
from rppg_distill.spectral._grid import MAX_BASIS, MAX_BINS, MAX_N_FFT


@pytest.mark.parametrize("kw,limit", [
    (dict(step_hz=1e-9), "MAX_BINS"),
    (dict(n_fft=1 << 30), "MAX_N_FFT"),
    (dict(n_fft=MAX_N_FFT), "MAX_BINS"),
])
def test_grid_over_the_limit_is_refused(kw, limit):
    x = np.random.default_rng(0).normal(size=(2, 300)).astype(np.float32)
    with pytest.raises(ValueError, match=limit):
        band_psd(x, 30.0, **kw)
    with pytest.raises(ValueError, match=limit):
        psd_kl(x, x, 30.0, **kw)


def test_basis_product_is_bounded():
    T = MAX_BASIS // 1000 + 1
    with pytest.raises(ValueError, match="MAX_BASIS"):
        band_frequencies(T, 30.0, (0.75, 3.0), step_hz=2.25 / 999)
    with pytest.raises(ValueError, match="MAX_BINS"):
        peak_frequency(np.zeros(64, np.float32), 30.0, (0.5, 3.0), step_hz=2.5 / MAX_BINS)


def test_usual_grids_still_pass():
    # 0.01 bpm over the HR band, and a 10-minute signal at 0.1 bpm
    assert len(band_frequencies(300, 30.0, (0.75, 3.0), step_hz=0.01 / 60)) == 13501
    assert len(band_frequencies(18_000, 30.0, (0.75, 3.0), step_hz=0.1 / 60)) == 1351
    assert len(band_frequencies(300, 30.0, (0.5, 3.0), n_fft=2048)) > 0
