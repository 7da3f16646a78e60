"""ONNX export of the models: succeeds, no ScatterND, onnxruntime equals torch within 1e-4 rel."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rppg_distill.models import build_model

# Ops the TensorRT ONNX parser handles badly or not at all for these models.
FORBIDDEN = {"ScatterND", "ScatterElements", "Scatter", "Loop", "If", "SequenceConstruct",
             "RandomUniform", "RandomUniformLike", "RandomNormal", "RandomNormalLike"}


def _export(model, x, path, dynamo: bool):
    kw = dict(opset_version=17, input_names=["x"], output_names=["y"], dynamo=dynamo)
    if dynamo:
        kw["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=64)},)
    else:
        kw["dynamic_axes"] = {"x": {0: "batch"}, "y": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), **kw)


def _check(model, x_export, x_run, path, dynamo=False):
    model.eval()
    _export(model, x_export, path, dynamo)
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    ops = {n.op_type for n in graph.graph.node}
    assert not ops & FORBIDDEN, f"forbidden ops in graph: {sorted(ops & FORBIDDEN)}"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = sess.run(None, {sess.get_inputs()[0].name: x_run.numpy()})[0]
    with torch.no_grad():
        yt = model(x_run).numpy()
    assert y.shape == yt.shape
    rel = np.abs(y - yt).max() / max(np.abs(yt).max(), 1e-12)
    assert rel < 1e-4, f"onnxruntime vs torch max relative error {rel:.3g}"
    return ops


def _randomize_norm_stats(model):
    g = torch.Generator().manual_seed(3)
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)


def test_efficientphys_c_export_legacy(tmp_path):
    torch.manual_seed(0)
    m = build_model("efficientphys_c", frame_depth=10, img_size=72)
    _randomize_norm_stats(m)
    # exported with batch 1, run with batch 3: the batch axis is dynamic
    ops = _check(m, torch.rand(1, 3, 10, 72, 72), torch.rand(3, 3, 10, 72, 72),
                 tmp_path / "ep.onnx")
    assert "ScatterND" not in ops


@pytest.mark.slow
def test_efficientphys_c_export_dynamo(tmp_path):
    torch.manual_seed(0)
    m = build_model("efficientphys_c", frame_depth=10, img_size=72)
    _randomize_norm_stats(m)
    _check(m, torch.rand(2, 3, 20, 72, 72), torch.rand(3, 3, 20, 72, 72), tmp_path / "ep.onnx",
           dynamo=True)


def test_efficientphys_c_export_padded_t(tmp_path):
    torch.manual_seed(0)
    m = build_model("efficientphys_c", frame_depth=10, img_size=36)
    _check(m, torch.rand(1, 3, 13, 36, 36), torch.rand(2, 3, 13, 36, 36), tmp_path / "ep.onnx")


def test_factorizephys_export(tmp_path):
    torch.manual_seed(0)
    m = build_model("factorizephys")
    _check(m, torch.rand(1, 3, 8, 72, 72), torch.rand(2, 3, 8, 72, 72), tmp_path / "fp.onnx")


def test_physnet_export(tmp_path):
    torch.manual_seed(0)
    m = build_model("physnet")
    _randomize_norm_stats(m)
    _check(m, torch.rand(1, 3, 8, 64, 64), torch.rand(2, 3, 8, 64, 64), tmp_path / "pn.onnx")


def test_rf_conv_decoder_export(tmp_path):
    torch.manual_seed(0)
    m = build_model("rf_conv_decoder")
    _randomize_norm_stats(m)
    _check(m, torch.randn(1, 10, 32), torch.randn(2, 10, 32), tmp_path / "rf.onnx")
