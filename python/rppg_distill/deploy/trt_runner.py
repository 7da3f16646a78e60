"""TensorRT engine runner: ``execute_async_v3`` with named tensor addresses (cuda-python buffers).

Refuses an engine built for another TensorRT version or GPU (from the rppg-distill header) with a
clear message before TensorRT sees the bytes. Same interface as ``OrtRunner``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .contract import Contract
from .engine_file import check_compatible, read_engine
from .ort_runner import check_input
from .trt_build import gpu_identity, import_cudart, import_tensorrt

if TYPE_CHECKING:  # the annotations below are checked against the real API (tests/deploy/test_trt_api.py)
    import tensorrt as trt_t

_NP = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32,
       "INT64": np.int64, "BOOL": np.bool_}


def _check(err, what: str):
    code = err[0] if isinstance(err, tuple) else err
    if int(code) != 0:
        raise RuntimeError(f"CUDA error in {what}: {code}")
    return err[1:] if isinstance(err, tuple) and len(err) > 1 else None


class TrtRunner:
    kind = "tensorrt"

    def __init__(self, path, device: int = 0, trt=None, cudart=None):
        self.path = Path(path)
        header, blob = read_engine(self.path)  # format checks need no TensorRT
        self.header = header
        if not isinstance(header.get("contract"), dict):
            raise ValueError(f"{self.path}: the engine header carries no model contract; rebuild "
                             "it with `rppg-distill build-engine`")
        self.contract = Contract.from_dict(header["contract"])
        self.trt = trt or import_tensorrt()
        self.cudart = cudart or import_cudart()
        gpu, cc = gpu_identity(self.cudart, device)
        check_compatible(header, self.trt.__version__, gpu, cc, self.path)
        self.logger: trt_t.Logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.runtime: trt_t.Runtime = self.trt.Runtime(self.logger)
        if header.get("dla_core") is not None:
            self.runtime.DLA_core = int(header["dla_core"])
        self.engine: trt_t.ICudaEngine = self.runtime.deserialize_cuda_engine(blob)
        if self.engine is None:
            raise RuntimeError(f"{self.path}: TensorRT could not deserialize the engine")
        self.context: trt_t.IExecutionContext = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self.trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise RuntimeError(f"{self.path}: expected one input and one output tensor, got "
                               f"{self.inputs} / {self.outputs}")
        self.in_name, self.out_name = self.inputs[0], self.outputs[0]
        for n in (self.in_name, self.out_name):
            dt = self.engine.get_tensor_dtype(n)
            if dt != self.trt.DataType.FLOAT:
                raise RuntimeError(f"{self.path}: tensor {n} is {dt}; the runtime expects float32 I/O")
        shape: tuple = self.engine.get_tensor_shape(self.in_name)[:]
        self.batch = None if shape[0] == -1 else int(shape[0])
        self.max_batch = int(header["profile"]["batch"][2])
        err, self.stream = self.cudart.cudaStreamCreate()
        _check((err,), "cudaStreamCreate")
        self._buf: dict[str, tuple[int, int]] = {}  # name -> (device ptr, nbytes)

    def _device(self, name: str, nbytes: int) -> int:
        ptr, cap = self._buf.get(name, (None, 0))
        if cap < nbytes:
            if ptr is not None:
                _check(self.cudart.cudaFree(ptr), "cudaFree")
            err, ptr = self.cudart.cudaMalloc(nbytes)
            _check((err,), "cudaMalloc")
            self._buf[name] = (ptr, nbytes)
        return int(self._buf[name][0])

    def run(self, x: np.ndarray) -> np.ndarray:
        x = check_input(x, self.contract, self.batch)
        if x.shape[0] > self.max_batch:
            raise ValueError(f"batch {x.shape[0]} exceeds the engine profile max {self.max_batch}")
        cud = self.cudart
        d_in = self._device(self.in_name, x.nbytes)
        self.context.set_input_shape(self.in_name, tuple(x.shape))
        out_shape: tuple = self.context.get_tensor_shape(self.out_name)[:]
        y = np.empty(out_shape, np.float32)
        d_out = self._device(self.out_name, y.nbytes)
        self.context.set_tensor_address(self.in_name, d_in)
        self.context.set_tensor_address(self.out_name, d_out)
        h2d, d2h = cud.cudaMemcpyKind.cudaMemcpyHostToDevice, cud.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _check(cud.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d, self.stream), "H2D copy")
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        _check(cud.cudaMemcpyAsync(y.ctypes.data, d_out, y.nbytes, d2h, self.stream), "D2H copy")
        _check(cud.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")
        return y

    def describe(self) -> dict:
        h = self.header
        return {"runner": self.kind, "path": str(self.path), "tensorrt": h["tensorrt_version"],
                "gpu": h["gpu"], "precision": h["precision"], "dla_core": h.get("dla_core"),
                "batch": self.batch or "dynamic"}

    def close(self) -> None:
        for ptr, _ in self._buf.values():
            self.cudart.cudaFree(ptr)
        self._buf.clear()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
