"""Every number a trainer writes into its results comes back through the public evaluate path:
checkpoint -> ``deploy.export.load_checkpoint_model`` -> ``evaluate.predict`` -> ``signal`` HR
protocol -> ``evaluate.metrics``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rppg_distill.deploy.export import load_checkpoint_model
from rppg_distill.evaluate import get_protocol, hr_metrics, mae, peak_concentration, predict, to_pulse
from rppg_distill.train import crossmodal, crossview

from .fake_data import FakePairs, FakeVideoRadar, FakeViews
from .test_crossmodal import tiny_cfg as tiny_crossmodal
from .test_crossview import tiny_cfg as tiny_crossview


def test_crossview_results_reproduce_through_evaluate(tmp_path):
    cfg = tiny_crossview(tmp_path, "asymmetric")
    pairs = FakePairs()
    tests = {"frontal": FakeViews(pairs, "teacher"), "side_left": FakeViews(pairs, "student")}
    result = crossview.run_crossview(cfg, data=(pairs, tests), log=lambda s: None)[0]
    written = json.loads((Path(cfg.loop.out_dir) / "seed0" / "eval.json").read_text())
    model, _ = load_checkpoint_model(result["checkpoint"])
    proto = get_protocol("crossview")          # band 0.5-3 Hz, 0.1 bpm: the config's eval defaults
    for view, ds in tests.items():
        p = predict(model, ds, img_size=cfg.data.img_size)
        pulse, label = to_pulse(p.pred, "diff_normalized"), to_pulse(p.label, "diff_normalized")
        hr_p, hr_t = proto.hr(pulse, cfg.data.fs), proto.hr(label, cfg.data.fs)
        got = written["views"][view]
        assert got["mae"] == pytest.approx(mae(hr_p, hr_t), abs=1e-9)
        assert got["rmse"] == pytest.approx(hr_metrics(hr_p, hr_t)["rmse"], abs=1e-9)
        np.testing.assert_allclose(got["hr_pred"], hr_p, atol=1e-9)
        assert got["peak_concentration"] == pytest.approx(
            float(np.mean(peak_concentration(pulse, cfg.data.fs, proto.band))), abs=1e-12)


def test_crossmodal_results_reproduce_through_evaluate_with_the_rpm_protocol(tmp_path):
    cfg = tiny_crossmodal(tmp_path)
    test = FakeVideoRadar(n=3, seed=2)
    result = crossmodal.run_crossmodal(cfg, data=(FakeVideoRadar(n=4), FakeVideoRadar(n=2, seed=1), test),
                                       log=lambda s: None)[0]
    written = json.loads((Path(cfg.loop.out_dir) / "seed0" / "eval.json").read_text())["test"]
    assert written["protocol"] == "rpm_distill"
    model, _ = load_checkpoint_model(result["checkpoint"])
    p = predict(model, test, img_size=cfg.data.img_size)
    proto = get_protocol("rpm_distill")        # Butterworth order 6 + periodogram, 0.75-3 Hz
    assert (proto.filter_order, proto.window, proto.band) == (6, None, (0.75, 3.0))
    lt = cfg.data.label_transform or cfg.data.transform
    hr_p = proto.hr(to_pulse(p.pred, lt), 30.0)
    hr_t = proto.hr(to_pulse(p.label, lt), 30.0)
    ref = hr_metrics(hr_p, hr_t)
    for k in ("mae", "rmse", "std"):
        assert written[k] == pytest.approx(ref[k], abs=1e-9), k
