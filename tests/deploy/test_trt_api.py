"""The TensorRT and CUDA-runtime names the deploy code uses exist in the real APIs.

tests/deploy/data/trt_api.json holds the real APIs, recorded by tools/trt_api_manifest.py from
NVIDIA's TensorRT 11.4 binding wheel (names read from the extension, not loaded), the TensorRT
10.13 type stubs and cuda-python's runtime module. tools/trt_api_check.py collects every name the
code uses (module chains, annotated TensorRT objects, CUDA calls with their arity) and checks them.
With mypy and tensorrt-stubs installed, mypy also checks the calls' signatures against 10.x.
The mock-based tests in test_tensorrt.py cover the control flow only.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "python" / "rppg_distill" / "deploy"


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve their module by name
    spec.loader.exec_module(mod)
    return mod


api = _tool("trt_api_check")
manifest_tool = _tool("trt_api_manifest")
MANIFEST = api.load_manifest()


def test_deploy_code_uses_only_real_names():
    rep = api.check_sources(manifest=MANIFEST)
    assert not rep.problems, "\n".join(rep.problems)
    used = {(u.api, u.owner, u.name) for u in rep.uses}
    # the collector sees the calls that matter (a broken collector would pass vacuously)
    for key in [("trt", "Builder", "create_network"), ("trt", "IBuilderConfig", "set_memory_pool_limit"),
                ("trt", "IExecutionContext", "execute_async_v3"), ("trt", "OnnxParser", "num_errors"),
                ("trt", "BuilderFlag", "FP16"), ("trt", "Runtime", "deserialize_cuda_engine"),
                ("cuda", "", "cudaMemcpyAsync"), ("cuda", "cudaDeviceProp", "major")]:
        assert key in used, key
    assert len(used) >= 60


def test_misspelled_attribute_fails_the_check():
    src = (DEPLOY / "trt_build.py").read_text()
    bad = src.replace("config.set_memory_pool_limit(", "config.set_memory_pool_limt(")
    bad = bad.replace("trt.BuilderFlag.GPU_FALLBACK", "trt.BuilderFlag.GPU_FALLBAK")
    assert bad != src
    rep = api.check(api.collect(bad, "trt_build.py"), MANIFEST)
    text = "\n".join(rep.problems)
    assert "IBuilderConfig.set_memory_pool_limt is not in TensorRT 10" in text
    assert "IBuilderConfig.set_memory_pool_limt is not exported by TensorRT 11" in text
    assert "BuilderFlag.GPU_FALLBAK is not in TensorRT 10" in text
    runner = (DEPLOY / "trt_runner.py").read_text()
    bad = runner.replace("cud.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d, self.stream)",
                         "cud.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d)")
    bad = bad.replace("self.cudart.cudaMalloc(nbytes)", "self.cudart.cudaMallocManaged2(nbytes)")
    assert bad != runner
    text = "\n".join(api.check(api.collect(bad, "trt_runner.py"), MANIFEST).problems)
    assert "cudaMemcpyAsync called with 4 argument(s)" in text
    assert "cudaMallocManaged2 is not in cuda-python" in text


def test_version_specific_names_match_the_real_apis():
    t10 = MANIFEST["tensorrt_10"]["classes"]
    t11 = MANIFEST["tensorrt_11"]["identifiers"]
    # FP16 builder flag: in 10.x, gone in 11 (the code sets it only on weakly typed 10.x networks)
    assert "FP16" in t10["BuilderFlag"]["members"] and "FP16" not in t11
    assert ("BuilderFlag", "FP16") in api.TRT10_ONLY
    # strongly typed creation flag and the DLA API exist in both (DLA is back in 11.4)
    for name in ("STRONGLY_TYPED", "num_DLA_cores", "DLA_core", "GPU_FALLBACK", "execute_async_v3"):
        assert name in t11, name
    assert MANIFEST["tensorrt_11"]["version"].startswith("11.4")


def test_stub_sanitizer_repairs_only_the_invalid_lines():
    fixed = manifest_tool.sanitize_stub(
        "    def f(self, in: list[int], out: list[int]) -> None:\n"
        "    def g(self, a: int = None, b: int) -> int:\n"
        "    def h(self, a: dict[str, int] = {}, *args) -> None:")
    assert "in_: list[int], out: list[int]" in fixed
    assert "a: int = None, b: int = ..." in fixed
    assert "*args)" in fixed and "*args = ..." not in fixed


def test_cuda_calls_against_installed_cuda_python():
    """Where cuda-python is installed (it imports without a GPU), the real module itself."""
    runtime = pytest.importorskip("cuda.bindings.runtime")
    for u in api.check_sources(manifest=MANIFEST).uses:
        if u.api != "cuda":
            continue
        owner = getattr(runtime, u.owner) if u.owner else runtime
        assert hasattr(owner, u.name), f"{u.where}: cuda.bindings.runtime {u.owner}.{u.name}"
        if u.nargs >= 0 and not u.owner:
            sig = (getattr(runtime, u.name).__doc__ or "").strip().split("\n")[0]
            lo, hi = api._arity(sig)
            assert lo <= u.nargs <= hi, f"{u.where}: {sig} called with {u.nargs} argument(s)"


def _stub_site() -> Path | None:
    """Folder holding tensorrt_bindings/tensorrt.pyi: $RPPG_TRT_STUBS or the installed
    tensorrt-stubs (`pip install --no-deps tensorrt-stubs==10.13.0.35.1`)."""
    if os.environ.get("RPPG_TRT_STUBS"):
        return Path(os.environ["RPPG_TRT_STUBS"])
    try:
        dist = importlib.metadata.distribution("tensorrt-stubs")
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(dist.locate_file(""))


def test_mypy_against_tensorrt10_stubs(tmp_path):
    site = _stub_site()
    if site is None or not (site / "tensorrt_bindings" / "tensorrt.pyi").exists():
        pytest.skip("needs the TensorRT 10.x stubs: pip install '.[typecheck]' && "
                    "pip install --no-deps tensorrt-stubs==10.13.0.35.1 (or RPPG_TRT_STUBS=DIR)")
    pytest.importorskip("mypy")
    stubs = tmp_path / "stubs"
    for pkg in ("tensorrt", "tensorrt_bindings"):
        (stubs / pkg).mkdir(parents=True)
        for f in (site / pkg).glob("*.pyi"):
            (stubs / pkg / f.name).write_text(manifest_tool.sanitize_stub(f.read_text()))
    cfg = tmp_path / "mypy.ini"
    cfg.write_text("[mypy]\nfollow_imports = silent\nignore_missing_imports = True\n"
                   "cache_dir = " + str(tmp_path / "cache") + "\n"
                   "[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]\n"
                   "ignore_errors = True\n")  # the generated stubs' own typing slips
    control = tmp_path / "control.py"  # proves the stubs are in use: a misspelling must fail
    control.write_text("import tensorrt as trt\n\n\ndef f(b: trt.Builder) -> None:\n"
                       "    b.create_builder_config().set_memory_pool_limt(trt.MemoryPoolType.WORKSPACE, 1)\n")
    files = [DEPLOY / "trt_build.py", DEPLOY / "trt_runner.py", DEPLOY / "engine_file.py"]
    env = {**os.environ, "MYPYPATH": str(stubs)}
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(cfg), "--no-error-summary",
                        *map(str, files), str(control)], capture_output=True, text=True, env=env,
                       timeout=600, check=False)
    lines = [ln for ln in r.stdout.splitlines() if ": error:" in ln]
    assert any("control.py" in ln and "set_memory_pool_limt" in ln for ln in lines), r.stdout + r.stderr
    assert [ln for ln in lines if "control.py" not in ln] == [], r.stdout
