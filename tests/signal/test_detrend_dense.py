"""The cached dense detrending operator (short signals) equals the sparse solve (long signals)."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import spsolve

from rppg_distill.signal.filters import _DENSE_DETREND_MAX, detrend


def _sparse_detrend(x, lam):
    n = x.shape[-1]
    d2 = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))
    a = (sparse.identity(n) + lam ** 2 * (d2.T @ d2)).tocsc()
    return x - np.asarray(spsolve(a, x.T)).T


def test_dense_matches_sparse_on_batches_and_axes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 300)).cumsum(axis=1)
    assert 300 <= _DENSE_DETREND_MAX
    ref = _sparse_detrend(x, 25.0)
    assert np.allclose(detrend(x, 25.0), ref, atol=1e-8)
    assert np.allclose(detrend(x.T, 25.0, axis=0), ref.T, atol=1e-8)
    long = rng.standard_normal(_DENSE_DETREND_MAX + 5).cumsum()
    assert np.allclose(detrend(long, 100.0), _sparse_detrend(long[None], 100.0)[0], atol=1e-8)
