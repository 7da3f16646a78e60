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
from typing import TYPE_CHECKING, Any

from .contract import Contract
from .engine_file import write_engine

if TYPE_CHECKING:  # the annotations below are checked against the real API (tests/deploy/test_trt_api.py)
    import tensorrt as trt_t
    from cuda.bindings import runtime as cudart_t

TRT_MISSING = ("TensorRT is not installed: the Python package 'tensorrt' is needed to build or run "
               "engines (Jetson: `sudo apt install python3-libnvinfer` from JetPack; x86: "
               "`pip install tensorrt` from NVIDIA's index). The onnxruntime runner works without it.")
CUDA_MISSING = ("the engine runner needs the CUDA runtime bindings: `pip install cuda-python` "
                "(package 'cuda-python', module cuda.bindings.runtime / cuda.cudart)")


def import_tensorrt() -> Any:
    try:
        import tensorrt as trt
    except ImportError as err:
        raise ImportError(TRT_MISSING) from err
    if not hasattr(trt, "__version__"):  # e.g. only the tensorrt-stubs type stubs are installed
        raise ImportError(f"the importable 'tensorrt' ({getattr(trt, '__file__', '?')}) is not TensorRT's "
                          f"Python bindings (it has no __version__). {TRT_MISSING}")
    return trt


def import_cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as err:
            raise ImportError(CUDA_MISSING) from err
    return cudart


def trt_version(trt) -> tuple[int, int]:
    """(major, minor) of the imported TensorRT."""
    parts = str(trt.__version__).split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def trt_major(trt) -> int:
    return trt_version(trt)[0]


def dla_supported(trt) -> bool:
    """TensorRT 11.0-11.3 have no DLA support (it returned in 11.4); 10.x has it."""
    return not (11, 0) <= trt_version(trt) < (11, 4)


def gpu_identity(cudart=None, device: int = 0) -> tuple[str, str]:
    """(GPU name, compute capability "8.7") of the current device."""
    cudart = cudart or import_cudart()
    prop: cudart_t.cudaDeviceProp
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


def configure(trt, builder: trt_t.Builder, network: trt_t.INetworkDefinition, contract: Contract,
              opts: BuildOptions, precision: str, logger_msgs: list):
    """Builder config: workspace, profile, precision flags (10.x weak typing), DLA, timing cache.
    Returns (config, timing_cache_object or None)."""
    config: trt_t.IBuilderConfig = builder.create_builder_config()
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
    # optimization profile (always added: harmless for static shapes, required for dynamic).
    # set_shape takes tuples: "the TensorRT API can implicitly convert Python iterables to Dims"
    # (the Dims docstring), which the type stubs do not express -- hence the arg-type ignores.
    inp: trt_t.ITensor = network.get_input(0)
    dims: tuple = inp.shape[:]  # Dims behaves like a tuple; a slice is one
    fixed = contract.input_shape(1)[1:]
    profile: trt_t.IOptimizationProfile = builder.create_optimization_profile()
    if dims[0] == -1:
        lo, op, hi = opts.batch
        if not 1 <= lo <= op <= hi:
            raise BuildError(f"batch profile must satisfy 1 <= min <= opt <= max, got {opts.batch}")
        profile.set_shape(inp.name, (lo,) + fixed, (op,) + fixed, (hi,) + fixed)  # type: ignore[arg-type]
    else:
        profile.set_shape(inp.name, dims, dims, dims)  # type: ignore[arg-type]
    config.add_optimization_profile(profile)
    if opts.dla_core is not None:
        if builder.num_DLA_cores <= int(opts.dla_core):
            raise BuildError(f"DLA core {opts.dla_core} requested but this device has "
                             f"{builder.num_DLA_cores} DLA cores (AGX Orin has 2, Orin Nano none)")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(opts.dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    cache: trt_t.ITimingCache | None = None
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
    if _strongly_typed(trt, opts) and precision != contract.precision:
        # no FP16/INT8 builder flag applies (11.x has none; 10.x ignores them when strongly typed):
        # building anyway would give an fp32 engine whose header says otherwise
        why = (f"TensorRT {trt.__version__} takes the precision from the ONNX (it has no FP16/INT8 "
               f"flags)" if major >= 11 else "a strongly typed network (--strongly-typed) takes the "
               "precision from the ONNX (the FP16/INT8 builder flags do not apply)")
        alt = "" if major >= 11 else ", or drop --strongly-typed to use the TensorRT 10.x builder flags"
        raise BuildError(f"{why}: this ONNX is {contract.precision}, not {precision}; convert it "
                         f"first (rppg-distill export --precision {precision}){alt}")
    if opts.dla_core is not None and not dla_supported(trt):
        raise BuildError(f"TensorRT {trt.__version__} has no DLA support (11.0-11.3 removed it; "
                         f"10.x and 11.4+ have it): build without --dla-core (GPU) or use a "
                         f"TensorRT version with DLA")
    if precision == "int8" and contract.precision != "int8":
        raise BuildError("int8 engines are built from a Q/DQ ONNX (rppg-distill export --precision "
                         "int8 --calib-cache ...); implicit INT8 calibration is not supported")
    msgs: list = []
    logger: trt_t.Logger = trt.Logger(trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    builder: trt_t.Builder = trt.Builder(logger)
    flags = 0
    if _strongly_typed(trt, opts) and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network: trt_t.INetworkDefinition = builder.create_network(flags)
    parser: trt_t.OnnxParser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errs = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BuildError(f"TensorRT could not parse {onnx_path}: " + "; ".join(errs))
    config, cache = configure(trt, builder, network, contract, opts, precision, msgs)
    t0 = time.perf_counter()
    blob: trt_t.IHostMemory | None = builder.build_serialized_network(network, config)
    if blob is None:
        raise BuildError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    build_s = time.perf_counter() - t0
    if cache is not None and opts.timing_cache:
        Path(opts.timing_cache).write_bytes(bytes(cache.serialize()))
    gpu, cc = gpu_identity(cudart)
    inp: trt_t.ITensor = network.get_input(0)
    header = {
        "tensorrt_version": str(trt.__version__), "gpu": gpu, "compute_capability": cc,
        "precision": precision, "strongly_typed": _strongly_typed(trt, opts),
        "dla_core": opts.dla_core, "workspace_mib": opts.workspace_mib,
        "profile": {"input": inp.name, "batch": list(opts.batch) if inp.shape[0] == -1
                    else [int(inp.shape[0])] * 3},
        "contract": dataclasses.replace(contract, precision=precision).to_dict(),
        "source_onnx": onnx_path.name, "build_s": round(build_s, 2),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_engine(out_path, bytes(blob), header)
    return header
