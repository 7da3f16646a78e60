"""fp16 / int8 Q/DQ conversion and the HR drift they add (onnxruntime CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


from rppg_distill.deploy import cpu_features, precision
from rppg_distill.deploy.contract import contract_from_onnx
from rppg_distill.deploy.graph_check import check_graph
from rppg_distill.deploy.ort_runner import OrtRunner


def test_fp16(exported):
    d, clips = exported
    out = precision.to_fp16(d / "fp32.onnx", d / "fp16.onnx")
    assert contract_from_onnx(out).precision == "fp16"
    ops = check_graph(out)["ops"]
    assert ops.get("Cast", 0) >= 2
    r = OrtRunner(out)
    assert r.session.get_inputs()[0].type == "tensor(float)"  # float32 I/O kept
    rep = precision.validate_precision(d / "fp32.onnx", out, clips[::2])
    assert rep["bvp_rel_err"] < 1e-2 and rep["hr_abs_diff_mean_bpm"] < 1.0


def test_int8_qdq(exported, heldout):
    """The default (ort-cpu) int8 model against fp32 on held-out recordings, on this CPU's
    onnxruntime kernels: HR drift under 1 bpm and BVP correlation over 0.9 on every CPU (x86
    without VNNI included, where full-range int8 weights saturate: see bench/int8_layers.py)."""
    d, calib = exported
    held, hr_true = heldout
    out = precision.to_int8(d / "fp32.onnx", d / "int8.onnx", calib)
    assert contract_from_onnx(out).precision == "int8"
    ops = check_graph(out)["ops"]
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > ops["QuantizeLinear"]
    m = onnx.load(str(out))
    # per-channel weights: a DequantizeLinear of a Conv weight carries a scale vector
    inits = {i.name: i for i in m.graph.initializer}
    scales = [inits[n.input[1]] for n in m.graph.node
              if n.op_type == "DequantizeLinear" and n.input[0] in inits and n.input[1] in inits]
    assert any(len(s.dims) == 1 and s.dims[0] > 1 for s in scales)
    rep = precision.validate_precision(d / "fp32.onnx", out, held, hr_true=hr_true)
    # a plain onnxruntime session too (OrtRunner may set session options a user's own code lacks)
    import onnxruntime as ort

    y_ref = OrtRunner(d / "fp32.onnx").run(held)
    plain = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = plain.run(None, {plain.get_inputs()[0].name: held})[0]
    plain_corr = float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(y_ref, y)]))
    cpu = cpu_features.describe(cpu_features.cpu_flags())
    line = (f"int8 (ort-cpu) vs fp32 on {rep['clips']} held-out clips, CPU {cpu}: BVP corr "
            f"{rep['bvp_corr_mean']:.3f} (plain onnxruntime session {plain_corr:.3f}), |HR diff| mean "
            f"{rep['hr_abs_diff_mean_bpm']:.2f} bpm, MAE drift {rep['mae_drift_bpm']:+.2f} bpm")
    print(line)
    assert rep["hr_abs_diff_mean_bpm"] < 1.0, line
    assert rep["mae_drift_bpm"] < 1.0, line
    assert rep["bvp_corr_mean"] > 0.9 and plain_corr > 0.9, line


def test_int8_rejects_bad_calibration(exported):
    d, _ = exported
    with pytest.raises(ValueError, match="calibration clips"):
        precision.to_int8(d / "fp32.onnx", d / "x.onnx", np.zeros((2, 3, 10, 36, 36), np.float32))
