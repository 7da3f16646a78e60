"""TensorRT builder/runner control flow that runs without TensorRT: the engine header, version/GPU
refusal, the import guard, and the builder's 10.x-vs-11.x precision and DLA handling (with a
stand-in for the tensorrt module that records the calls). The stand-in accepts any name: that
every TensorRT / CUDA name used exists in the real APIs is test_trt_api.py's job. A real build runs
where TensorRT exists."""

from __future__ import annotations

import importlib.util
import types
from unittest import mock

import numpy as np
import pytest
from helpers import green_onnx

from rppg_distill.deploy.contract import Contract
from rppg_distill.deploy.engine_file import (
    EngineMismatchError,
    check_compatible,
    read_engine,
    read_header,
    write_engine,
)
from rppg_distill.deploy.trt_build import BuildError, BuildOptions, build_engine

HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def _header(**kw):
    h = {"tensorrt_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7",
         "precision": "fp16", "contract": Contract().to_dict(), "profile": {"batch": [1, 1, 4]}}
    h.update(kw)
    return h


def test_engine_file_roundtrip_and_checks(tmp_path):
    p = write_engine(tmp_path / "m.plan", b"\x01\x02engine", _header())
    h, blob = read_engine(p)
    assert blob == b"\x01\x02engine" and h["precision"] == "fp16"
    assert (tmp_path / "m.json").exists()
    check_compatible(h, "10.3.0.26", "Orin", "8.7")
    with pytest.raises(EngineMismatchError, match="TensorRT 10.3.0.*10.7.0.*rebuild"):
        check_compatible(h, "10.7.0", "Orin", "8.7")
    with pytest.raises(EngineMismatchError, match="built for Orin.*NVIDIA H100"):
        check_compatible(h, "10.3.0", "NVIDIA H100", "9.0")
    data = p.read_bytes()
    (tmp_path / "t.plan").write_bytes(data[:-3])
    with pytest.raises(ValueError, match="truncated engine"):
        read_engine(tmp_path / "t.plan")
    (tmp_path / "c.plan").write_bytes(data[:-1] + b"\xff")
    with pytest.raises(ValueError, match="checksum"):
        read_engine(tmp_path / "c.plan")
    (tmp_path / "raw.plan").write_bytes(b"ftrt" + b"\x00" * 32)  # a bare trtexec engine
    with pytest.raises(ValueError, match="not an rppg-distill TensorRT engine"):
        read_header(tmp_path / "raw.plan")


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_import_guard_names_package(tmp_path):
    from rppg_distill.deploy.trt_runner import TrtRunner

    p = write_engine(tmp_path / "m.plan", b"x", _header())
    with pytest.raises(ImportError, match="'tensorrt'"):
        TrtRunner(p)
    with pytest.raises(ImportError, match="'tensorrt'"):
        build_engine(tmp_path / "missing.onnx", tmp_path / "o.plan")


def fake_trt(version: str):
    """A stand-in for the tensorrt module recording builder calls."""
    trt = mock.MagicMock(name="tensorrt")
    trt.__version__ = version
    if version.startswith("11"):
        del trt.BuilderFlag.FP16  # removed in TensorRT 11
        del trt.BuilderFlag.INT8
    trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED = 1
    builder = trt.Builder.return_value
    builder.num_DLA_cores = 2
    inp = builder.create_network.return_value.get_input.return_value
    inp.shape = (-1, 3, 90, 36, 36)
    inp.name = "video"
    trt.OnnxParser.return_value.parse_from_file.return_value = True
    builder.build_serialized_network.return_value = b"serialized"
    cache = builder.create_builder_config.return_value.create_timing_cache.return_value
    cache.serialize.return_value = b"tcache"
    cud = mock.MagicMock(name="cudart")
    cud.cudaGetDeviceProperties.return_value = (0, types.SimpleNamespace(name=b"Orin", major=8, minor=7))
    return trt, cud


@pytest.fixture(scope="module")
def onnx_models(tmp_path_factory):
    pytest.importorskip("onnx")
    d = tmp_path_factory.mktemp("trt")
    fp32 = green_onnx(d / "g.onnx")
    from rppg_distill.deploy.precision import to_fp16

    return fp32, to_fp16(fp32, d / "g16.onnx")


def test_builder_trt10_flags(onnx_models, tmp_path):
    fp32, _ = onnx_models
    trt, cud = fake_trt("10.3.0")
    build_engine(fp32, tmp_path / "e.plan", BuildOptions(precision="fp16", timing_cache=str(
        tmp_path / "tc.bin"), dla_core=1, batch=(1, 2, 4)), trt=trt, cudart=cud)
    cfg = trt.Builder.return_value.create_builder_config.return_value
    cfg.set_flag.assert_any_call(trt.BuilderFlag.FP16)
    cfg.set_flag.assert_any_call(trt.BuilderFlag.GPU_FALLBACK)
    cfg.set_memory_pool_limit.assert_called_once_with(trt.MemoryPoolType.WORKSPACE, 1024 << 20)
    prof = trt.Builder.return_value.create_optimization_profile.return_value
    prof.set_shape.assert_called_once_with("video", (1, 3, 90, 36, 36), (2, 3, 90, 36, 36),
                                           (4, 3, 90, 36, 36))
    trt.Builder.return_value.create_network.assert_called_once_with(0)  # weakly typed on 10.x
    assert (tmp_path / "tc.bin").read_bytes() == b"tcache"
    assert cfg.DLA_core == 1
    hdr, blob = read_engine(tmp_path / "e.plan")
    assert blob == b"serialized" and hdr["precision"] == "fp16" and hdr["gpu"] == "Orin"
    assert hdr["contract"]["frames"] == 90 and hdr["compute_capability"] == "8.7"


def test_builder_trt11_precision_from_onnx(onnx_models, tmp_path):
    fp32, fp16 = onnx_models
    trt, cud = fake_trt("11.0.0")
    h = build_engine(fp16, tmp_path / "e.plan", trt=trt, cudart=cud)
    assert h["precision"] == "fp16" and h["strongly_typed"]
    trt.Builder.return_value.create_network.assert_called_once_with(1 << 1)
    cfg = trt.Builder.return_value.create_builder_config.return_value
    assert not cfg.set_flag.called  # no FP16/INT8 flags on 11
    with pytest.raises(BuildError, match="precision from the ONNX"):
        build_engine(fp32, tmp_path / "x.plan", BuildOptions(precision="fp16"), trt=trt, cudart=cud)
    with pytest.raises(BuildError, match="Q/DQ"):
        build_engine(fp32, tmp_path / "y.plan", BuildOptions(precision="int8"),
                     trt=fake_trt("10.3.0")[0], cudart=cud)
    trt2, _ = fake_trt("10.3.0")
    trt2.Builder.return_value.num_DLA_cores = 0
    with pytest.raises(BuildError, match="DLA core 0 requested"):
        build_engine(fp32, tmp_path / "z.plan", BuildOptions(dla_core=0), trt=trt2, cudart=cud)


def test_runner_refuses_other_gpu_and_runs(onnx_models, tmp_path):
    from rppg_distill.deploy.trt_runner import TrtRunner

    fp32, _ = onnx_models
    trt, cud = fake_trt("10.3.0")
    build_engine(fp32, tmp_path / "e.plan", trt=trt, cudart=cud)
    other = mock.MagicMock()
    other.cudaGetDeviceProperties.return_value = (0, types.SimpleNamespace(name=b"Xavier", major=7, minor=2))
    with pytest.raises(EngineMismatchError, match="Xavier"):
        TrtRunner(tmp_path / "e.plan", trt=trt, cudart=other)
    trt_new, _ = fake_trt("10.7.0")
    with pytest.raises(EngineMismatchError, match="10.7.0"):
        TrtRunner(tmp_path / "e.plan", trt=trt_new, cudart=cud)
    # the happy path with stand-ins: named tensor addresses + execute_async_v3 on our stream
    eng = trt.Runtime.return_value.deserialize_cuda_engine.return_value
    eng.num_io_tensors = 2
    eng.get_tensor_name.side_effect = ["video", "bvp"]
    eng.get_tensor_mode.side_effect = lambda n: trt.TensorIOMode.INPUT if n == "video" else 0
    eng.get_tensor_dtype.return_value = trt.DataType.FLOAT
    eng.get_tensor_shape.return_value = (-1, 3, 90, 36, 36)
    ctx = eng.create_execution_context.return_value
    ctx.get_tensor_shape.return_value = (2, 90)
    ctx.execute_async_v3.return_value = True
    cud.cudaStreamCreate.return_value = (0, 77)
    cud.cudaMalloc.side_effect = [(0, 1000), (0, 2000)]
    cud.cudaMemcpyAsync.return_value = (0,)
    cud.cudaStreamSynchronize.return_value = (0,)
    r = TrtRunner(tmp_path / "e.plan", trt=trt, cudart=cud)
    y = r.run(np.zeros((2, 3, 90, 36, 36), np.float32))
    assert y.shape == (2, 90)
    ctx.set_input_shape.assert_called_once_with("video", (2, 3, 90, 36, 36))
    ctx.set_tensor_address.assert_any_call("video", 1000)
    ctx.set_tensor_address.assert_any_call("bvp", 2000)
    ctx.execute_async_v3.assert_called_once_with(77)
    with pytest.raises(ValueError, match="exceeds the engine profile max 4"):
        r.run(np.zeros((5, 3, 90, 36, 36), np.float32))


def test_builder_trt10_strongly_typed_takes_precision_from_onnx(onnx_models, tmp_path):
    """10.x --strongly-typed: no FP16 flag applies, so an fp16 request on an fp32 ONNX is refused
    (it used to build an fp32 engine whose header said fp16)."""
    fp32, fp16 = onnx_models
    trt, cud = fake_trt("10.3.0")
    with pytest.raises(BuildError, match="strongly typed.*this ONNX is fp32, not fp16.*drop --strongly-typed"):
        build_engine(fp32, tmp_path / "x.plan", BuildOptions(precision="fp16", strongly_typed=True),
                     trt=trt, cudart=cud)
    assert not trt.Builder.return_value.build_serialized_network.called
    h = build_engine(fp16, tmp_path / "e.plan", BuildOptions(strongly_typed=True), trt=trt, cudart=cud)
    assert h["precision"] == "fp16" and h["strongly_typed"]
    trt.Builder.return_value.create_network.assert_called_once_with(1 << 1)
    assert not trt.Builder.return_value.create_builder_config.return_value.set_flag.called


@pytest.mark.parametrize("version", ["11.0.0", "11.3.1"])
def test_builder_refuses_dla_where_tensorrt_has_none(onnx_models, tmp_path, version):
    _, fp16 = onnx_models
    trt, cud = fake_trt(version)
    with pytest.raises(BuildError, match=rf"TensorRT {version} has no DLA support.*without --dla-core"):
        build_engine(fp16, tmp_path / "x.plan", BuildOptions(dla_core=0), trt=trt, cudart=cud)
    h = build_engine(fp16, tmp_path / "e.plan", trt=trt, cudart=cud)  # GPU build still fine
    assert h["dla_core"] is None


def test_builder_dla_on_trt11_4(onnx_models, tmp_path):
    _, fp16 = onnx_models
    trt, cud = fake_trt("11.4.0.106")
    h = build_engine(fp16, tmp_path / "e.plan", BuildOptions(dla_core=1), trt=trt, cudart=cud)
    cfg = trt.Builder.return_value.create_builder_config.return_value
    assert h["dla_core"] == 1 and cfg.DLA_core == 1
    assert cfg.default_device_type == trt.DeviceType.DLA
