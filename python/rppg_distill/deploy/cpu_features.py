"""Which int8 dot-product instructions this CPU has (from /proc/cpuinfo on Linux).

Why it matters: onnxruntime's x86 int8 kernels (MLAS) multiply uint8 activations by int8 weights.
With VNNI (AVX512-VNNI, AVX-VNNI) or AMX the products are summed straight into int32. Without
them (plain AVX2 / AVX-512) the kernel uses ``VPMADDUBSW``, which adds two u8*s8 products into a
*saturating int16*: 2 * 255 * 127 = 64770 > 32767, so large activations times large weights clip.
Weights quantized to 7 bits (``reduce_range``) keep the pair sum under 2 * 255 * 64 = 32640.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from pathlib import Path

#: x86 flags (Linux /proc/cpuinfo names) of int8 dot products that accumulate in int32.
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
#: The flags worth recording next to an int8 model (the SIMD level and the dot products).
REPORTED_FLAGS = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
                  "amx_tile", "amx_int8", "asimd", "asimddp", "i8mm")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU's feature flags (x86 ``flags`` / ARM ``Features`` line of the first CPU), or None
    when they cannot be read (not Linux, no /proc)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return None


def is_x86() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def has_int8_dot(flags: Iterable[str] | None) -> bool | None:
    """True when the flags include an int32-accumulating int8 dot product (VNNI/AMX), False when
    they do not, None when the flags are unknown."""
    if flags is None:
        return None
    return any(f in set(flags) for f in INT8_DOT_FLAGS)


def describe(flags: Iterable[str] | None) -> str:
    """One line for logs and assert messages, e.g. ``'avx2 fma (no VNNI/AMX)'``."""
    if flags is None:
        return "CPU flags unknown (no /proc/cpuinfo)"
    flags = set(flags)
    found = [f for f in REPORTED_FLAGS if f in flags]
    dot = [f for f in INT8_DOT_FLAGS if f in flags]
    return " ".join(found or ["no SIMD flags listed"]) + ("" if dot else " (no VNNI/AMX)")


def reported_flags(flags: Iterable[str] | None) -> list[str] | None:
    """The subset of ``REPORTED_FLAGS`` present (None when unknown)."""
    if flags is None:
        return None
    flags = set(flags)
    return [f for f in REPORTED_FLAGS if f in flags]
