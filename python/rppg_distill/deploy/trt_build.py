"""ONNX -> TensorRT engine (runs on a Jetson without torch; TensorRT 10.x and 11.x).

Precision:
- TensorRT 11 (and ``strongly_typed=True`` on 10.x): the network is strongly typed; the precision
  comes from the ONNX itself (fp16 casts from ``precision.to_fp16``, Q/DQ nodes from
  ``precision.to_int8``). No FP16/INT8 builder flags exist in 11.
- TensorRT 10.x (JetPack 6 ships 10.3): a weakly typed network with builder flags: ``fp16`` sets
  FP16; an int8 Q/DQ ONNX sets INT8 (+FP16 for the layers left in float). Implicit (calibrator)
  INT8 is not used: the Q/DQ graph carries its scales.

The result is an rppg-distill engine file (``engine_file``): a JSON header with TensorRT version,
GPU, compute capability, precision, DLA core, optimization profile and the input contract, then
the serialized engine.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from .contract import Contract
from .engine_file import write_engine

TRT_MISSING = ("TensorRT is not installed: the Python package 'tensorrt' is needed to build or run "
               "engines (Jetson: `sudo apt install python3-libnvinfer` from JetPack; x86: "
               "`pip install tensorrt` from NVIDIA's index). The onnxruntime runner works without it.")
CUDA_MISSING = ("the engine runner needs the CUDA runtime bindings: `pip install cuda-python` "
                "(package 'cuda-python', module cuda.bindings.runtime / cuda.cudart)")


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as err:
        raise ImportError(TRT_MISSING) from err
    return trt


def import_cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as err:
            raise ImportError(CUDA_MISSING) from err
    return cudart


def trt_major(trt) -> int:
    return int(str(trt.__version__).split(".")[0])


def gpu_identity(cudart=None, device: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "8.7") of the current device."""
    cudart = cudart or import_cudart()
    err, prop = cudart.cudaGetDeviceProperties(device)
    if int(err) != 0:
        raise RuntimeError(f"cudaGetDeviceProperties failed ({err}); is a CUDA GPU visible?")
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    return name.strip("\x00").strip(), f"{prop.major}.{prop.minor}"


@dataclasses.dataclass
class BuildOptions:
    precision: str | None = None        # None: from the ONNX contract; "fp32" | "fp16" | "int8"
    batch: tuple[int, int, int] = (1, 1, 4)   # (min, opt, max) for a dynamic batch
    workspace_mib: int = 1024
    timing_cache: str | None = None     # path; read if present, written after the build
    dla_core: int | None = None         # AGX Orin: 0 or 1; GPU fallback for unsupported layers
    strongly_typed: bool | None = None  # default: True on TensorRT >= 11, False on 10.x
    builder_optimization_level: int | None = None


class BuildError(RuntimeError):
    pass


def _contract_of(onnx_path: Path) -> Contract:
    """The contract from the ONNX metadata (read with onnx if present, else the sidecar JSON), so
    that the builder needs neither torch nor onnxruntime."""
    from .contract import CONTRACT_KEY, read_sidecar

    try:
        import onnx

        m = onnx.load(str(onnx_path), load_external_data=False)
        meta = {p.key: p.value for p in m.metadata_props}
        if CONTRACT_KEY in meta:
            return Contract.from_json(meta[CONTRACT_KEY])
    except ImportError:
        pass
    except Exception as err:
        raise BuildError(f"{onnx_path}: not a readable ONNX model ({err})") from err
    side = read_sidecar(onnx_path)
    if side is None:
        raise BuildError(f"{onnx_path}: no rppg-distill contract in the ONNX metadata and no "
                         f"sidecar JSON; export with `rppg-distill export`")
    return side


def configure(trt, builder, network, contract: Contract, opts: BuildOptions, precision: str,
              logger_msgs: list):
    """Builder config: workspace, profile, precision flags (10.x weak typing), DLA, timing cache.
    Returns (config, timing_cache_object or None)."""
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(opts.workspace_mib) << 20)
    if opts.builder_optimization_level is not None:
        config.builder_optimization_level = int(opts.builder_optimization_level)
    strongly = _strongly_typed(trt, opts)
    if not strongly:
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # explicit Q/DQ: scales come from the graph
            config.set_flag(trt.BuilderFlag.FP16)
    # optimization profile (always added: harmless for static shapes, required for dynamic)
    inp = network.get_input(0)
    dims = tuple(inp.shape)
    fixed = contract.input_shape(1)[1:]
    profile = builder.create_optimization_profile()
    if dims[0] == -1:
        lo, op, hi = opts.batch
        if not 1 <= lo <= op <= hi:
            raise BuildError(f"batch profile must satisfy 1 <= min <= opt <= max, got {opts.batch}")
        profile.set_shape(inp.name, (lo,) + fixed, (op,) + fixed, (hi,) + fixed)
    else:
        profile.set_shape(inp.name, dims, dims, dims)
    config.add_optimization_profile(profile)
    if opts.dla_core is not None:
        if builder.num_DLA_cores <= int(opts.dla_core):
            raise BuildError(f"DLA core {opts.dla_core} requested but this device has "
                             f"{builder.num_DLA_cores} DLA cores (AGX Orin has 2, Orin Nano none)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(opts.dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    cache = None
    if opts.timing_cache:
        p = Path(opts.timing_cache)
        cache = config.create_timing_cache(p.read_bytes() if p.exists() else b"")
        config.set_timing_cache(cache, False)
    return config, cache


def _strongly_typed(trt, opts: BuildOptions) -> bool:
    if trt_major(trt) >= 11:
        return True
    return bool(opts.strongly_typed)


def build_engine(onnx_path, out_path, opts: BuildOptions | None = None, trt=None, cudart=None,
                 verbose: bool = False) -> dict:
    """Build and write an engine file; returns its header."""
    trt = trt or import_tensorrt()
    opts = opts or BuildOptions()
    onnx_path = Path(onnx_path)
    if not onnx_path.exists():
        raise FileNotFoundError(f"ONNX model not found: {onnx_path}")
    contract = _contract_of(onnx_path)
    precision = opts.precision or contract.precision
    major = trt_major(trt)
    if precision not in ("fp32", "fp16", "int8"):
        raise BuildError(f"precision must be fp32, fp16 or int8, got {precision!r}")
    if major >= 11 and precision != contract.precision:
        raise BuildError(f"TensorRT {trt.__version__} takes the precision from the ONNX (it has no "
                         f"FP16/INT8 flags): this ONNX is {contract.precision}; convert it first "
                         f"(rppg-distill export --precision {precision})")
    if precision == "int8" and contract.precision != "int8":
        raise BuildError("int8 engines are built from a Q/DQ ONNX (rppg-distill export --precision "
                         "int8 --calib-cache ...); implicit INT8 calibration is not supported")
    msgs: list = []
    logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if _strongly_typed(trt, opts) and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BuildError(f"TensorRT could not parse {onnx_path}: " + "; ".join(errs))
    config, cache = configure(trt, builder, network, contract, opts, precision, msgs)
    t0 = time.perf_counter()
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise BuildError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    build_s = time.perf_counter() - t0
    if cache is not None and opts.timing_cache:
        Path(opts.timing_cache).write_bytes(bytes(cache.serialize()))
    gpu, cc = gpu_identity(cudart)
    inp = network.get_input(0)
    header = {
        "tensorrt_version": str(trt.__version__), "gpu": gpu, "compute_capability": cc,
        "precision": precision, "strongly_typed": _strongly_typed(trt, opts),
        "dla_core": opts.dla_core, "workspace_mib": opts.workspace_mib,
        "profile": {"input": inp.name, "batch": list(opts.batch) if tuple(inp.shape)[0] == -1
                    else [int(inp.shape[0])] * 3},
        "contract": dataclasses.replace(contract, precision=precision).to_dict(),
        "source_onnx": onnx_path.name, "build_s": round(build_s, 2),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_engine(out_path, bytes(blob), header)
    return header
