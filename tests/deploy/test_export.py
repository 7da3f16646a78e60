"""ONNX export: contract metadata + sidecar, graph checks, onnxruntime parity with torch."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from helpers import tiny_student

from rppg_distill.deploy.contract import CONTRACT_KEY, Contract, contract_from_onnx
from rppg_distill.deploy.export import ParityError, check_parity, export_onnx, random_clips
from rppg_distill.deploy.graph_check import GraphCheckError, check_graph
from rppg_distill.deploy.ort_runner import OrtRunner

C = Contract(model="tiny", frames=20, height=16, width=16, normalization="standardized")


@pytest.mark.parametrize("batch", ["dynamic", 2])
def test_export_contract_and_parity(tmp_path, batch):
    path = tmp_path / "s.onnx"
    rep = export_onnx(tiny_student(), path, C, batch=batch, exporter="legacy")
    assert path.exists() and rep.sidecar.exists()
    assert all(v["rel_err"] <= 1e-4 for v in rep.parity.values())
    m = onnx.load(str(path))
    meta = {p.key: p.value for p in m.metadata_props}
    c = Contract.from_json(meta[CONTRACT_KEY])
    assert (c.frames, c.height, c.normalization, c.fs, c.layout) == (20, 16, "standardized", 30.0, "NCTHW")
    assert c.batch == batch
    assert json.loads(rep.sidecar.read_text())["contract"]["frames"] == 20
    runner = OrtRunner(path)
    assert runner.batch == (None if batch == "dynamic" else 2)
    x = random_clips(C, 2, 7)
    assert runner.run(x).shape == (2, 20)
    with pytest.raises(ValueError, match="model input must be"):
        runner.run(np.zeros((2, 3, 21, 16, 16), np.float32))
    if batch == 2:
        with pytest.raises(ValueError, match="fixed batch of 2"):
            runner.run(random_clips(C, 3))


def test_export_dynamo_and_real_clips(tmp_path):
    from helpers import pulse_frames

    frames, _ = pulse_frames(seconds=1.0, size=(64, 48))
    import cv2

    crops = np.stack([cv2.resize(f, (16, 16)) for f in frames[:20]])
    from rppg_distill.deploy.runtime.preprocess import normalize_window

    clips = normalize_window(crops, "standardized")[None]
    rep = export_onnx(tiny_student(), tmp_path / "d.onnx", C, exporter="dynamo", parity_clips=clips)
    assert "clips" in rep.parity and rep.parity["clips"]["rel_err"] <= 1e-4


def test_efficientphys_c_exports_clean(tmp_path):
    models = pytest.importorskip("rppg_distill.models")
    m = models.build_model("efficientphys_c", frame_depth=10, img_size=36)
    c = Contract(model="efficientphys_c", frames=20, height=36, width=36, normalization="standardized")
    rep = export_onnx(m, tmp_path / "ep.onnx", c, batch="dynamic", exporter="legacy")
    assert "ScatterND" not in rep.ops
    assert max(v["rel_err"] for v in rep.parity.values()) <= 1e-4


def test_graph_check_rejects_scatternd(tmp_path):
    class Bad(torch.nn.Module):
        def forward(self, x):
            y = torch.zeros_like(x)
            y[:, :, 1:] = x[:, :, :-1]  # exports as ScatterND
            return y.mean(dim=(1, 3, 4))

    path = tmp_path / "bad.onnx"
    x = torch.randn(1, 3, 20, 16, 16)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Bad(), (x,), str(path), dynamo=False, opset_version=17)
    with pytest.raises(GraphCheckError, match="ScatterND"):
        check_graph(path)
    with pytest.raises(GraphCheckError, match="ScatterND"):
        export_onnx(Bad(), tmp_path / "bad2.onnx", C, exporter="legacy")
    assert not (tmp_path / "bad2.onnx").exists()  # no half-checked artifact left behind


def test_parity_detects_mismatch(tmp_path):
    path = tmp_path / "s.onnx"
    m = tiny_student()
    export_onnx(m, path, C, exporter="legacy")
    with torch.no_grad():
        m.fc.bias += 1.0
    with pytest.raises(ParityError):
        check_parity(m, path, {"r": random_clips(C, 1)})


def test_contract_from_onnx_rejects_garbage(tmp_path):
    p = tmp_path / "junk.onnx"
    p.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a loadable ONNX"):
        contract_from_onnx(p)
    with pytest.raises(ValueError, match="version"):
        Contract.from_dict({"version": 99})


def test_load_checkpoint_model_reads_trainer_checkpoints(tmp_path):
    from rppg_distill.deploy.export import load_checkpoint_model
    from rppg_distill.models import build_model

    m = build_model("efficientphys_c", img_size=36)
    cfg = {"model": {"name": "efficientphys_c", "kwargs": {}}, "data": {"img_size": 36}}
    torch.save({"modules": {"model": m.state_dict()}, "config": cfg, "step": 3}, tmp_path / "c.pt")
    got, info = load_checkpoint_model(tmp_path / "c.pt")
    assert info["arch"] == "efficientphys_c" and info["step"] == 3
    for k, v in m.state_dict().items():
        assert torch.equal(got.state_dict()[k], v), k


def test_load_checkpoint_model_refuses_a_checkpoint_without_weights(tmp_path):
    from rppg_distill.deploy.export import load_checkpoint_model

    torch.save({"config": {"model": "efficientphys_c"}}, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="no model weights"):
        load_checkpoint_model(tmp_path / "c.pt")
