"""The demo pipeline end to end at a tiny size: generate -> preprocess -> cam2-only / A+ / B' in two
worker processes -> Table 1 with chance level and the B' vs A+ test -> RPM-Distill -> ONNX export
(+ int8) -> streaming runtime on a generator-written video -> report.md + report.png."""

import argparse
import json

import pytest

pytest.importorskip("rppg_distill.spectral")


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path):
    from rppg_distill.commands import demo

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    out = tmp_path / "demo"
    args = parser.parse_args([
        "--out", str(out), "--subjects", "5", "--seconds", "11", "--steps", "2", "--seeds", "2", "--workers", "2",
        "--set", "data.img_size=16", "--set-rpm", "data.img_size=16",
        "--set-rpm", "loop.epochs=1", "--set-rpm", "teacher.epochs=1", "--shift-probs", "0,1"])
    assert demo.run(args) == 0
    for name in ("table1.txt", "crossview_summary.json", "rpm_shift_sweep.txt", "student.onnx",
                 "student.onnx.json" if (out / "student.onnx.json").exists() else "student.onnx",
                 "stage_times.json", "report.md", "report.png", "report.json", "runtime_fp32.json"):
        assert (out / name).exists(), name
    table = (out / "table1.txt").read_text()
    for scheme in ("cam2-only", "pooled-aug", "asymmetric"):
        assert scheme in table
    assert "Chance level" in table
    summary = json.loads((out / "crossview_summary.json").read_text())
    assert set(summary["check"]) == {"pooled-aug", "asymmetric"}
    assert summary["table"]["asymmetric"]["seeds"] == 2
    assert summary["chance"]["side"]["chance_mae"] > 0
    assert "n" in summary["wilcoxon_bprime_vs_aplus_side"]
    assert set(report_sweep := json.loads((out / "report.json").read_text())["rpm_sweep"]) == {"gated", "ungated"}
    assert set(report_sweep["gated"]) == {"0", "1"}
    md = (out / "report.md").read_text()
    assert "chance level" in md and "Wilcoxon" in md
    times = json.loads((out / "stage_times.json").read_text())
    assert {"generate", "preprocess", "export ONNX (+int8)", "runtime HR check", "total"} <= set(times)
    rt = json.loads((out / "runtime_fp32.json").read_text())
    # an 11 s video gives at least one full 10 s window with a valid HR from the runtime
    assert rt["n_windows"] >= 1 and rt["mae_bpm"] == rt["mae_bpm"]
    report = json.loads((out / "report.json").read_text())
    assert report["export"]["contract"]["height"] == 16
    assert report["export"]["contract"]["frames"] == 90
