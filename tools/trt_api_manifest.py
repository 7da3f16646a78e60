#!/usr/bin/env python3
"""Record the real TensorRT and CUDA-runtime Python API that the deploy code is checked against.

    pip download --no-deps tensorrt-cu13-bindings==11.4.0.106 tensorrt-stubs==10.13.0.35.1 -d wheels/
    pip install --no-deps cuda-bindings cuda-pathfinder        # imports without a GPU
    python tools/trt_api_manifest.py --trt11-wheel wheels/tensorrt_cu13_bindings-*.whl \
        --trt10-stubs wheels/tensorrt_stubs-*.whl -o tests/deploy/data/trt_api.json

Sources, none of them executed except cuda-python (which imports without a GPU or driver):
- TensorRT 11.x: the ``tensorrt_bindings/tensorrt.so`` extension of NVIDIA's binding wheel, read
  from the zip, never loaded (it needs libnvinfer). pybind11 keeps every exported class, method,
  property and enum-member name as a NUL-terminated string in ``.rodata``; the identifiers among
  those strings are recorded. (The linker may merge a name into the tail of a longer string, e.g.
  ``num_errors`` inside ``get_num_errors``; the checker accounts for that.)
- TensorRT 10.x: the ``tensorrt-stubs`` type stubs (generated from the 10.13 bindings): every class
  with its members and bases, parsed with ``ast`` after ``sanitize_stub`` (the generated stubs
  contain a few lines that are not valid Python).
- cuda-python: ``cuda.bindings.runtime`` (the real module), every public name, the members of its
  classes and enums, and the first docstring line (the signature) of each function.
The JSON is what tests/deploy/test_trt_api.py and tools/trt_api_check.py read.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import struct
import sys
import zipfile
from pathlib import Path

TRT11_SO = "tensorrt_bindings/tensorrt.so"
TRT10_PYI = "tensorrt_bindings/tensorrt.pyi"
IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def elf_section(blob: bytes, name: str) -> bytes:
    """Bytes of section `name` of a little-endian ELF64 file (no loader involved)."""
    if blob[:4] != b"\x7fELF" or blob[4] != 2 or blob[5] != 1:
        raise ValueError("not a little-endian ELF64 file")
    shoff = struct.unpack_from("<Q", blob, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", blob, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        sh_name, _type, _flags, _addr, off, size = struct.unpack_from("<IIQQQQ", blob, shoff + i * shentsize)
        return sh_name, off, size

    _, str_off, _ = header(shstrndx)
    for i in range(shnum):
        sh_name, off, size = header(i)
        end = blob.index(b"\0", str_off + sh_name)
        if blob[str_off + sh_name:end].decode() == name:
            return blob[off:off + size]
    raise ValueError(f"no {name} section")


def so_identifiers(so: bytes) -> list[str]:
    """The NUL-terminated strings of .rodata that are Python identifiers, sorted."""
    names = {s.decode() for s in elf_section(so, ".rodata").split(b"\0") if IDENT.fullmatch(s)}
    return sorted(names)


def _fix_def(line: str) -> str:
    """One generated stub `def` line made valid: keyword parameter names get a trailing underscore,
    and parameters without a default after one with a default get `= ...`."""
    m = re.match(r"^(\s*def \w+\()(.*)(\)\s*->.*:\s*)$", line)
    if not m:
        return line
    head, params, tail = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in params:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    seen_default, out = False, []
    for p in parts:
        p = re.sub(r"^(\s*)(in|from|lambda|is|not|and|or|def|class|global|pass)(\s*:)", r"\1\2_\3", p)
        bare = p.strip()
        if "=" in bare:
            seen_default = True
        elif seen_default and bare and not bare.startswith("*"):
            p = p + " = ..."
        out.append(p)
    return head + ",".join(out) + tail


def sanitize_stub(text: str) -> str:
    """The generated 10.x stubs with their few invalid lines repaired (see _fix_def)."""
    return "\n".join(_fix_def(line) for line in text.split("\n"))


def stub_classes(pyi_text: str) -> dict:
    """{class: {"bases": [...], "members": [...]}} of a stub module, nested classes as "A.B"."""
    tree = ast.parse(sanitize_stub(pyi_text))
    out: dict = {}

    def visit(node: ast.ClassDef, prefix: str) -> None:
        name = prefix + node.name
        members = set()
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                members.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                members.add(item.target.id)
            elif isinstance(item, ast.Assign):
                members.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(item, ast.ClassDef):
                members.add(item.name)
                visit(item, name + ".")
        out[name] = {"bases": [ast.unparse(b) for b in node.bases], "members": sorted(members)}

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            visit(node, "")
    return out


def _read(path: Path, member: str) -> bytes:
    if path.is_dir():
        return (path / member).read_bytes()
    with zipfile.ZipFile(path) as zf:
        return zf.read(member)


def cuda_runtime_api() -> dict:
    """Public names of cuda.bindings.runtime: functions with their signature line, class members."""
    import cuda.bindings
    from cuda.bindings import runtime

    funcs, classes = {}, {}
    for name in dir(runtime):
        if name.startswith("_"):
            continue
        obj = getattr(runtime, name)
        if isinstance(obj, type):
            inherited = set(dir(int)) if issubclass(obj, int) else set()  # IntEnum: int's methods
            classes[name] = sorted(m for m in dir(obj) if not m.startswith("_") and m not in inherited)
        elif callable(obj):
            doc = (obj.__doc__ or "").strip().split("\n")[0]
            funcs[name] = doc if doc.startswith(name + "(") else ""
    return {"version": cuda.bindings.__version__, "functions": funcs, "classes": classes}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trt11-wheel", type=Path, required=True, help="tensorrt-cu13-bindings wheel")
    ap.add_argument("--trt10-stubs", type=Path, required=True,
                    help="tensorrt-stubs wheel or its installed site-packages folder")
    ap.add_argument("-o", "--output", type=Path, default=Path("tests/deploy/data/trt_api.json"))
    a = ap.parse_args(argv)
    v11 = re.search(r"-(\d+\.\d+\.\d+\.\d+)-", a.trt11_wheel.name)
    v10 = re.search(r"-(\d+\.\d+\.\d+\.\d+(?:\.\d+)?)-", a.trt10_stubs.name)
    manifest = {
        "tensorrt_11": {"source": a.trt11_wheel.name, "version": v11.group(1) if v11 else "?",
                        "identifiers": so_identifiers(_read(a.trt11_wheel, TRT11_SO))},
        "tensorrt_10": {"source": a.trt10_stubs.name, "version": v10.group(1) if v10 else "?",
                        "classes": stub_classes(_read(a.trt10_stubs, TRT10_PYI).decode())},
        "cuda_runtime": cuda_runtime_api(),
    }
    a.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=0, sort_keys=True))
    tmp.replace(a.output)
    print(f"{a.output}: {len(manifest['tensorrt_11']['identifiers'])} TensorRT 11 identifiers, "
          f"{len(manifest['tensorrt_10']['classes'])} TensorRT 10 classes, "
          f"{len(manifest['cuda_runtime']['functions'])} cuda runtime functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
