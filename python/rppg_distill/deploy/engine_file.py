"""The rppg-distill TensorRT engine file: a self-describing header in front of the serialized
engine (no TensorRT needed to read or check the header).

Layout: ``ENGINE_MAGIC`` (8 bytes) | header length (uint64 little-endian) | header JSON (utf-8) |
serialized engine bytes. The header holds the TensorRT version, the GPU name and compute
capability, the precision, the DLA core, the optimization profile and the preprocessing contract,
plus the engine's sha256. A loader refuses an engine built for another TensorRT version or GPU
before handing the bytes to TensorRT (which would otherwise fail obscurely or crash).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

ENGINE_MAGIC = b"RPPGTRT1"
HEADER_VERSION = 1


class EngineMismatchError(RuntimeError):
    """The engine was built for a different TensorRT version or GPU."""


def write_engine(path, engine_bytes: bytes, header: dict) -> Path:
    path = Path(path)
    header = dict(header, header_version=HEADER_VERSION,
                  engine_sha256=hashlib.sha256(engine_bytes).hexdigest(),
                  engine_bytes=len(engine_bytes))
    blob = json.dumps(header, sort_keys=True).encode()
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(ENGINE_MAGIC)
        fh.write(struct.pack("<Q", len(blob)))
        fh.write(blob)
        fh.write(engine_bytes)
    tmp.replace(path)
    # a human-readable sidecar too
    path.with_suffix(".json").write_text(json.dumps(header, indent=2, sort_keys=True))
    return path


def read_header(path) -> tuple[dict, int]:
    """(header dict, byte offset of the engine). ValueError for a file that is not ours."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"engine file not found: {path}")
    with open(path, "rb") as fh:
        magic = fh.read(len(ENGINE_MAGIC))
        if magic != ENGINE_MAGIC:
            raise ValueError(f"{path}: not an rppg-distill TensorRT engine (no {ENGINE_MAGIC!r} "
                             "header); build engines with `rppg-distill build-engine` or "
                             "tools/build_engine.py")
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: truncated engine header")
        (n,) = struct.unpack("<Q", raw)
        if n > 1 << 20:
            raise ValueError(f"{path}: corrupt engine header (length {n})")
        blob = fh.read(n)
    if len(blob) != n:
        raise ValueError(f"{path}: truncated engine header")
    try:
        header = json.loads(blob.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: corrupt engine header ({err})") from err
    if header.get("header_version") != HEADER_VERSION:
        raise ValueError(f"{path}: engine header version {header.get('header_version')} is not "
                         f"supported (expects {HEADER_VERSION}); rebuild the engine")
    return header, len(ENGINE_MAGIC) + 8 + n


def read_engine(path) -> tuple[dict, bytes]:
    header, off = read_header(path)
    data = Path(path).read_bytes()[off:]
    if len(data) != header.get("engine_bytes"):
        raise ValueError(f"{path}: truncated engine ({len(data)} of {header.get('engine_bytes')} "
                         "bytes)")
    if hashlib.sha256(data).hexdigest() != header.get("engine_sha256"):
        raise ValueError(f"{path}: engine bytes do not match the header checksum (corrupt file)")
    return header, data


def check_compatible(header: dict, trt_version: str, gpu_name: str, compute_capability: str,
                     path="engine") -> None:
    """Refuse an engine built with another TensorRT version (major.minor.patch) or on another GPU
    model (name and compute capability)."""
    built = str(header.get("tensorrt_version", "?"))
    if built.split(".")[:3] != str(trt_version).split(".")[:3]:
        raise EngineMismatchError(
            f"{path} was built with TensorRT {built}, but TensorRT {trt_version} is installed; "
            "engines are not portable across TensorRT versions: rebuild it on this machine "
            "(tools/build_engine.py MODEL.onnx)")
    b_cc, b_gpu = str(header.get("compute_capability", "?")), str(header.get("gpu", "?"))
    if b_cc != str(compute_capability) or b_gpu != str(gpu_name):
        raise EngineMismatchError(
            f"{path} was built for {b_gpu} (sm {b_cc}), but this GPU is {gpu_name} "
            f"(sm {compute_capability}); engines are GPU-specific: rebuild it on this machine")
