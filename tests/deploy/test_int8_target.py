"""int8 targets (ort-cpu / tensorrt): settings recorded in the model, the runtime's CPU warning,
and the tensorrt target's accuracy in exact integer arithmetic. Real int8 models, built here."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


from rppg_distill.deploy import cpu_features, precision
from rppg_distill.deploy.contract import CONTRACT_KEY, sidecar_path
from rppg_distill.deploy.int8_settings import INT8_KEY, cpu_mismatch, read_record
from rppg_distill.deploy.ort_runner import Int8CpuWarning, OrtRunner

NO_VNNI = frozenset({"sse4_1", "avx", "avx2", "fma"})
VNNI = NO_VNNI | {"avx512f", "avx512bw", "avx512_vnni"}


@pytest.fixture(scope="module")
def models(exported):
    d, calib = exported
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu = precision.to_int8(d / "fp32.onnx", d / "cpu.onnx", calib)
        trt = precision.to_int8(d / "fp32.onnx", d / "trt.onnx", calib, target="tensorrt")
    return d, cpu, trt


def test_metadata_records_settings(models):
    _, cpu, trt = models
    rec = read_record(cpu)
    assert rec["target"] == "ort-cpu" and rec["reduce_range"] is True
    assert (rec["activation_type"], rec["weight_type"]) == ("int8", "int8")
    assert rec["activation_symmetric"] is True and rec["weight_symmetric"] is True
    assert rec["nodes_to_exclude"] == [] and rec["per_channel"] is True
    assert rec["onnxruntime"] == ort.__version__
    assert rec["calibration_cpu_flags"] == cpu_features.reported_flags(cpu_features.cpu_flags())
    assert rec["calibration_clips"] > 0
    # the sidecar carries the same record
    assert json.loads(sidecar_path(cpu).read_text())["int8"] == rec
    # the contract key is still there beside it
    keys = [p.key for p in onnx.load(str(cpu)).metadata_props]
    assert keys.count(INT8_KEY) == 1 and keys.count(CONTRACT_KEY) == 1
    rec = read_record(trt)
    assert rec["target"] == "tensorrt" and rec["reduce_range"] is False
    assert (rec["activation_type"], rec["weight_type"]) == ("int8", "int8")
    assert rec["activation_symmetric"] is True and rec["weight_symmetric"] is True


def test_records_excluded_nodes(exported):
    d, calib = exported
    out = precision.to_int8(d / "fp32.onnx", d / "excl.onnx", calib, nodes_to_exclude=["/motion_conv1/Conv"])
    assert read_record(out)["nodes_to_exclude"] == ["/motion_conv1/Conv"]
    conv1 = [n for n in onnx.load(str(out)).graph.node if n.name == "/motion_conv1/Conv"]
    assert conv1 and not conv1[0].input[1].endswith("DequantizeLinear_Output")  # float weight


def test_bad_target(exported):
    d, calib = exported
    with pytest.raises(ValueError, match="unknown int8 target 'gpu'"):
        precision.to_int8(d / "fp32.onnx", d / "x.onnx", calib, target="gpu")


def test_runtime_warns_on_cpu_without_vnni(models):
    d, cpu, trt = models
    # a tensorrt-target (full-range) model on a CPU without VNNI: one warning per model
    with pytest.warns(Int8CpuWarning, match="without VNNI/AMX.*--target ort-cpu"):
        r = OrtRunner(trt, providers="cpu", cpu_flags=NO_VNNI)
    assert "avx2" in r.int8_warning and r.describe()["int8_warning"] == r.int8_warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", Int8CpuWarning)
        OrtRunner(trt, providers="cpu", cpu_flags=NO_VNNI)  # once only
        assert OrtRunner(trt, providers="cpu", cpu_flags=VNNI).int8_warning is None
        assert OrtRunner(cpu, providers="cpu", cpu_flags=NO_VNNI).int8_warning is None
        assert OrtRunner(d / "fp32.onnx", providers="cpu", cpu_flags=NO_VNNI).int8_warning is None
    rec = read_record(trt)
    assert cpu_mismatch(rec, None) is None  # flags unknown (not Linux): no warning
    assert cpu_mismatch(rec, NO_VNNI, x86=False) is None  # ARM kernels do not saturate
    assert cpu_mismatch(rec, NO_VNNI | {"avx_vnni"}) is None
    assert "older export" in cpu_mismatch(None, NO_VNNI)  # int8 model without a record


def test_cpu_flags_reader(tmp_path):
    p = tmp_path / "cpuinfo"
    p.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_1 avx avx2 fma\n\n"
                 "processor\t: 1\nflags\t\t: fpu sse4_1 avx avx2 fma\n")
    flags = cpu_features.cpu_flags(p)
    assert flags == {"fpu", "sse4_1", "avx", "avx2", "fma"}
    assert cpu_features.has_int8_dot(flags) is False
    assert cpu_features.describe(flags) == "sse4_1 avx avx2 fma (no VNNI/AMX)"
    p.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\n")
    assert cpu_features.reported_flags(cpu_features.cpu_flags(p)) == ["asimd", "asimddp"]
    assert cpu_features.cpu_flags(tmp_path / "missing") is None
    assert cpu_features.has_int8_dot(None) is None


def _exact_session(path):
    """onnxruntime with graph optimizations off: DequantizeLinear -> float op -> QuantizeLinear,
    i.e. the int8 values with exact accumulation, as TensorRT (and VNNI CPUs) compute them."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_tensorrt_target_accuracy(models, heldout):
    """The full-range tensorrt-target model is accurate in exact integer arithmetic and through
    OrtRunner on every machine (on x86 without VNNI the runner turns on onnxruntime's
    x64quantprecision); a plain onnxruntime session is accurate only where the CPU has VNNI/AMX
    (or is not x86)."""
    d, _, trt = models
    held, _ = heldout
    ref = OrtRunner(d / "fp32.onnx", providers="cpu")
    c = ref.contract
    y_ref = ref.run(held)
    flags = cpu_features.cpu_flags()
    cpu = cpu_features.describe(flags)
    s = _exact_session(trt)
    y_exact = s.run(None, {s.get_inputs()[0].name: held})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Int8CpuWarning)
        y_runner = OrtRunner(trt, providers="cpu").run(held)
    plain = ort.InferenceSession(str(trt), providers=["CPUExecutionProvider"])
    y_plain = plain.run(None, {plain.get_inputs()[0].name: held})[0]

    def scores(y):
        corr = float(np.mean([np.corrcoef(a, b)[0, 1] for a, b in zip(y_ref, y)]))
        drift = float(np.mean(np.abs(precision.clip_hr(y, c.fs, c.band) - precision.clip_hr(y_ref, c.fs, c.band))))
        return corr, drift

    (ce, de), (cr, dr), (cp, dp) = scores(y_exact), scores(y_runner), scores(y_plain)
    line = (f"tensorrt-target int8 vs fp32, CPU {cpu}: BVP corr / |HR diff| exact arithmetic "
            f"{ce:.3f} / {de:.2f} bpm, OrtRunner {cr:.3f} / {dr:.2f} bpm, plain onnxruntime session "
            f"{cp:.3f} / {dp:.2f} bpm")
    print(line)
    assert ce > 0.9 and de < 1.0, line
    assert cr > 0.9 and dr < 1.0, line
    if not cpu_features.is_x86() or cpu_features.has_int8_dot(flags):
        assert cp > 0.9 and dp < 1.0, line
