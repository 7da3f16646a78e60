#!/usr/bin/env python3
"""Check every TensorRT and CUDA-runtime name the deploy code uses against the real APIs.

    python tools/trt_api_check.py            # prints each name with its 10.x / 11.x / cuda status

The names come from the source (``ast``): attribute chains on the ``tensorrt`` module (a name or
attribute called ``trt``), attributes of variables annotated with a TensorRT class
(``builder: trt_t.Builder = ...``, ``self.engine: trt_t.ICudaEngine = ...``, parameters too), and
chains and call arities on the CUDA runtime module (``cudart`` / ``cud`` / ``self.cudart``) or
variables annotated ``cudart_t.<class>``. They are checked against tests/deploy/data/trt_api.json
(written by tools/trt_api_manifest.py from the real wheels): TensorRT 10.x class members (with
inheritance) from the type stubs, TensorRT 11.x names exported by the binding extension, and the
functions (with their signatures), enums and structs of cuda-python's runtime module.
Exit status 1 when a name is missing. tests/deploy/test_trt_api.py runs the same check.
"""

from __future__ import annotations

import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "deploy" / "data" / "trt_api.json"
SOURCES = [ROOT / "python" / "rppg_distill" / p for p in (
    "deploy/trt_build.py", "deploy/trt_runner.py", "deploy/engine_file.py",
    "commands/build_engine.py", "commands/info.py")] + sorted((ROOT / "tools").glob("*.py"))

TRT_MODULE_NAMES = {"trt"}
CUDA_MODULE_NAMES = {"cudart", "cud"}
TYPE_ALIASES = {"trt_t": "trt", "cudart_t": "cuda"}
MODULE_DUNDERS = {"__version__"}
# Names the code uses on one major version only, behind a version test (trt_build.configure sets
# the FP16/INT8 builder flags only on weakly typed 10.x networks; 11.x removed them).
TRT10_ONLY = {("BuilderFlag", "FP16"), ("BuilderFlag", "INT8")}


@dataclass(frozen=True)
class Use:
    api: str          # "trt" or "cuda"
    owner: str        # class name ("" for a module-level name)
    name: str
    where: str        # file:line
    nargs: int = -1   # positional arguments of a call on the CUDA runtime module (-1: not a call)


@dataclass
class Report:
    uses: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def _module_ref(node: ast.AST) -> str | None:
    """'trt' / 'cuda' when node names the TensorRT / CUDA runtime module."""
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        name = node.attr
    else:
        return None
    if name in TRT_MODULE_NAMES:
        return "trt"
    if name in CUDA_MODULE_NAMES:
        return "cuda"
    return None


def _var_key(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return "self." + node.attr
    return None


def _annotated_class(ann: ast.AST | None) -> tuple[str, str] | None:
    """(api, class) of an annotation like trt_t.Builder, "trt_t.Builder" or trt_t.IHostMemory | None."""
    if ann is None:
        return None
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        ann = ast.parse(ann.value, mode="eval").body
    if isinstance(ann, ast.BinOp):
        return _annotated_class(ann.left) or _annotated_class(ann.right)
    if isinstance(ann, ast.Attribute) and isinstance(ann.value, ast.Name) and ann.value.id in TYPE_ALIASES:
        return TYPE_ALIASES[ann.value.id], ann.attr
    return None


def collect(source: str, filename: str = "<src>") -> list[Use]:
    """Every TensorRT / CUDA-runtime name used in `source` (see the module docstring)."""
    tree = ast.parse(source, filename)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    typed: dict[str, tuple[str, str]] = {}  # variable key -> (api, class); one namespace per file
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            key, cls = _var_key(node.target), _annotated_class(node.annotation)
            if key and cls:
                typed[key] = cls
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args + node.args.kwonlyargs:
                cls = _annotated_class(arg.annotation)
                if cls:
                    typed[arg.arg] = cls
    uses = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or node.attr in MODULE_DUNDERS:
            continue
        where = f"{Path(filename).name}:{node.lineno}"
        parent = parents.get(node)
        nargs = len(parent.args) if isinstance(parent, ast.Call) and parent.func is node else -1
        api = _module_ref(node.value)
        if api:
            uses.append(Use(api, "", node.attr, where, nargs if api == "cuda" else -1))
            continue
        inner = _module_ref(node.value.value) if isinstance(node.value, ast.Attribute) else None
        if inner:
            uses.append(Use(inner, node.value.attr, node.attr, where))
            continue
        key = _var_key(node.value)
        if key in typed:
            api, cls = typed[key]
            uses.append(Use(api, cls, node.attr, where))
    return uses


def load_manifest(path: Path = MANIFEST) -> dict:
    return json.loads(Path(path).read_text())


def _trt10_has(classes: dict, owner: str, name: str) -> bool:
    if not owner:
        return name in classes
    todo, seen = [owner], set()
    while todo:
        cls = todo.pop()
        if cls in seen or cls not in classes:
            continue
        seen.add(cls)
        if name in classes[cls]["members"]:
            return True
        todo.extend(b for b in classes[cls]["bases"] if b != "object")
    return False


def _trt11_has(identifiers: list, name: str) -> bool:
    # an exact string, or the tail of a longer one (the linker merges "num_errors" into
    # "get_num_errors"); a misspelled name is neither
    return name in identifiers or any(s.endswith(name) for s in identifiers)


def _arity(signature: str) -> tuple[int, int] | None:
    """(required, total) parameters of a cuda-python signature line like 'f(a, b=None)'."""
    if "(" not in signature:
        return None
    inner = signature[signature.index("(") + 1:signature.rindex(")")].strip()
    params = [p.strip() for p in inner.split(",")] if inner else []
    return sum("=" not in p for p in params), len(params)


def check(uses: list[Use], manifest: dict) -> Report:
    rep = Report(uses=uses)
    t10 = manifest["tensorrt_10"]["classes"]
    t11 = manifest["tensorrt_11"]["identifiers"]
    cuda = manifest["cuda_runtime"]
    v10, v11 = manifest["tensorrt_10"]["version"], manifest["tensorrt_11"]["version"]
    for u in uses:
        label = f"{u.owner + '.' if u.owner else ''}{u.name}"
        if u.api == "trt":
            if not _trt10_has(t10, u.owner, u.name):
                rep.problems.append(f"{u.where}: tensorrt.{label} is not in TensorRT {v10} (stubs)")
            if (u.owner, u.name) not in TRT10_ONLY and not all(
                    _trt11_has(t11, n) for n in filter(None, (u.owner.split(".")[-1], u.name))):
                rep.problems.append(f"{u.where}: tensorrt.{label} is not exported by TensorRT {v11}")
        else:
            if u.owner:
                ok = u.name in cuda["classes"].get(u.owner, [])
            else:
                ok = u.name in cuda["functions"] or u.name in cuda["classes"]
            if not ok:
                rep.problems.append(f"{u.where}: cuda runtime {label} is not in cuda-python "
                                    f"{cuda['version']}")
            elif u.nargs >= 0 and u.name in cuda["functions"]:
                ar = _arity(cuda["functions"][u.name])
                if ar and not ar[0] <= u.nargs <= ar[1]:
                    rep.problems.append(f"{u.where}: {u.name} called with {u.nargs} argument(s); "
                                        f"cuda-python has {cuda['functions'][u.name]}")
    return rep


def check_sources(paths=SOURCES, manifest: dict | None = None) -> Report:
    manifest = manifest or load_manifest()
    uses = [u for p in paths for u in collect(Path(p).read_text(), str(p))]
    return check(uses, manifest)


def main() -> int:
    m = load_manifest()
    rep = check_sources(manifest=m)
    print(f"checked against TensorRT {m['tensorrt_10']['version']} stubs, TensorRT "
          f"{m['tensorrt_11']['version']} bindings, cuda-python {m['cuda_runtime']['version']}")
    for key in sorted({(u.api, u.owner, u.name) for u in rep.uses}):
        api, owner, name = key
        prefix = "tensorrt" if api == "trt" else "cuda.bindings.runtime"
        only = "  (10.x only)" if (owner, name) in TRT10_ONLY else ""
        print(f"  {prefix}.{owner + '.' if owner else ''}{name}{only}")
    for p in rep.problems:
        print("MISSING", p)
    print(f"{len({(u.api, u.owner, u.name) for u in rep.uses})} names, {len(rep.problems)} problem(s)")
    return 1 if rep.problems else 0


if __name__ == "__main__":
    sys.exit(main())
