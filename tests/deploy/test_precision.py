"""fp16 / int8 Q/DQ conversion and the HR drift they add (onnxruntime CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from helpers import pulse_frames, tiny_student  # noqa: E402

from rppg_distill.deploy import precision  # noqa: E402
from rppg_distill.deploy.contract import Contract, contract_from_onnx  # noqa: E402
from rppg_distill.deploy.export import export_onnx  # noqa: E402
from rppg_distill.deploy.graph_check import check_graph  # noqa: E402
from rppg_distill.deploy.ort_runner import OrtRunner  # noqa: E402

C = Contract(model="efficientphys_c", frames=60, height=36, width=36, normalization="standardized")


def student():
    try:
        from rppg_distill.models import build_model
    except ImportError:
        return tiny_student()
    torch.manual_seed(0)
    return build_model("efficientphys_c", frame_depth=10, img_size=36).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("prec")
    export_onnx(student(), d / "fp32.onnx", C, exporter="legacy")
    import cv2

    clips = []
    for i, hr in enumerate([60, 75, 90, 105]):
        frames, _ = pulse_frames(hr, seconds=4.0, size=(64, 48), seed=i)
        crops = np.stack([cv2.resize(f[:, 8:56], (36, 36), interpolation=cv2.INTER_AREA) for f in frames])
        clips.append(precision.clips_from_crops(crops, C, stride=30))
    return d, np.concatenate(clips)


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


def test_int8_qdq(exported):
    d, clips = exported
    calib, held = clips[::2], clips[1::2]
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
    rep = precision.validate_precision(d / "fp32.onnx", out, held, hr_true=None)
    assert rep["bvp_corr_mean"] > 0.9
    assert np.isfinite(rep["hr_abs_diff_mean_bpm"])


def test_int8_rejects_bad_calibration(exported):
    d, _ = exported
    with pytest.raises(ValueError, match="calibration clips"):
        precision.to_int8(d / "fp32.onnx", d / "x.onnx", np.zeros((2, 3, 10, 36, 36), np.float32))
