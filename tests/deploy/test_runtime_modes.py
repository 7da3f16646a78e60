"""Throughput settings of the runtime: offline mode (no overlap, batched windows, tail window),
the HR update period, detection settings and the reader thread. All must keep the HR."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import green_onnx, pulse_frames

from rppg_distill.deploy.runtime import Monitor, MonitorConfig, prefetch


@pytest.fixture(scope="module")
def green(tmp_path_factory):
    pytest.importorskip("onnx")
    return green_onnx(tmp_path_factory.mktemp("m") / "green.onnx")


@pytest.fixture(scope="module")
def clip():
    return pulse_frames(84.0, seconds=10.0, size=(320, 240), seed=2)


def _run(model, frames, ts, **cfg):
    mon = Monitor(model, MonitorConfig(**cfg))
    res = [mon.push(f, t) for f, t in zip(frames, ts)]
    ft, fv = mon.flush()
    n_bvp = sum(len(r.bvp) for r in res) + len(fv)
    bvp = np.concatenate([r.bvp for r in res] + [fv])
    return mon, res, n_bvp, bvp


def test_offline_mode_keeps_hr_and_covers_the_tail(green, clip):
    frames, ts = clip
    mon, res, n_bvp, _ = _run(green, frames, ts, mode="offline")
    assert mon.hop == mon.T
    assert abs(mon.last_hr()[0] - 84.0) < 1.5
    assert n_bvp == len(frames)  # the tail window covers the end of the file
    st = mon.stats()["stages"]
    # 300 samples, T=90, hop=90: windows at 90/180/270 plus the tail window
    assert st["model"]["calls"] == 4
    live, lres, _, _ = _run(green, frames, ts, mode="live")
    assert live.stats()["stages"]["model"]["calls"] > st["model"]["calls"]
    assert abs(live.last_hr()[0] - mon.last_hr()[0]) < 1.0


def test_batched_windows_equal_single(green, clip):
    frames, ts = clip
    _, _, n1, b1 = _run(green, frames, ts, mode="offline")
    m2, res2, n2, b2 = _run(green, frames, ts, mode="offline", batch_windows=2)
    assert n1 == n2
    np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-5)
    assert m2.stats()["stages"]["model"]["calls"] == 2
    assert abs(m2.last_hr()[0] - 84.0) < 1.5


def test_hr_update_period_and_detection_settings(green, clip):
    frames, ts = clip
    mon, res, _, _ = _run(green, frames, ts, mode="live", hop=15, hr_update_s=2.0,
                          detect_every=30, detect_max_side=120)
    updates = [r for r in res if r.updated]
    hr_changes = len({round(r.hr_bpm, 6) for r in res if r.valid})
    assert len(updates) > 10 and hr_changes <= 1 + (len(frames) - mon.T) // 60
    assert abs(res[-1].hr_bpm - 84.0) < 2.0
    assert mon.tracker.n_detections <= len(frames) // 30 + 1
    assert mon.tracker.backend.max_side == 120
    with pytest.raises(ValueError, match="mode"):
        Monitor(green, MonitorConfig(mode="fast"))


def test_prefetch_order_and_errors():
    assert list(prefetch(range(50), 4)) == list(range(50))
    assert list(prefetch(iter([1, 2]), 0)) == [1, 2]

    def broken():
        yield 1
        yield 2
        raise ValueError("truncated")

    got = []

    def drain():
        for x in prefetch(broken(), 2):
            got.append(x)

    with pytest.raises(ValueError, match="truncated"):
        drain()
    assert got == [1, 2]
    it = prefetch(iter(range(1000)), 2)
    assert next(it) == 0
    it.close()  # an abandoned reader thread stops
