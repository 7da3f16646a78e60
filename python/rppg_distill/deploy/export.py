"""torch -> ONNX export of the video students, with the preprocessing contract and graph checks.

Needs torch (the ``train`` extra) and onnx; everything that *uses* the exported file does not.

    report = export_onnx(model, "student.onnx", Contract(frames=160), batch="dynamic")

writes ``student.onnx`` (contract in ``metadata_props``) and ``student.json`` (sidecar: contract,
op histogram, parity numbers), runs onnx.checker + the TensorRT op allowlist, and compares
onnxruntime against torch on random and (if given) real clips: max |ort - torch| / max |torch|
must be <= ``rtol`` (1e-4 default).
"""

from __future__ import annotations

import dataclasses
import pickle
import warnings
from pathlib import Path

import numpy as np

from .contract import CONTRACT_KEY, Contract, write_sidecar
from .graph_check import check_graph


class ParityError(AssertionError):
    """onnxruntime and torch disagree beyond the tolerance."""


@dataclasses.dataclass
class ExportReport:
    path: Path
    sidecar: Path
    contract: Contract
    exporter: str
    opset: int
    ops: dict
    parity: dict

    def to_dict(self) -> dict:
        return {"path": str(self.path), "sidecar": str(self.sidecar), "exporter": self.exporter,
                "opset": self.opset, "ops": self.ops, "parity": self.parity,
                "contract": self.contract.to_dict()}


def _torch_export(model, example, path: Path, batch, exporter: str, opset: int | None) -> str:
    import torch

    dynamic = batch == "dynamic"
    errors = []
    order = ["dynamo", "legacy"] if exporter == "auto" else [exporter]
    for kind in order:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "dynamo":
                    dyn = ({0: torch.export.Dim("batch", min=1, max=256)},) if dynamic else None
                    torch.onnx.export(model, (example,), str(path), dynamo=True, input_names=["video"],
                                      output_names=["bvp"], dynamic_shapes=dyn,
                                      opset_version=opset or 18, verbose=False, optimize=True)
                else:
                    axes = {"video": {0: "batch"}, "bvp": {0: "batch"}} if dynamic else None
                    torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["video"],
                                      output_names=["bvp"], dynamic_axes=axes,
                                      opset_version=opset or 17, do_constant_folding=True)
            return kind
        except Exception as err:  # try the other exporter, report both if neither works
            errors.append(f"{kind}: {type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}")
    raise RuntimeError("ONNX export failed: " + " | ".join(errors))


def _attach_metadata(path: Path, contract: Contract) -> None:
    import onnx

    model = onnx.load(str(path))
    # the dynamo exporter may name the graph I/O after the Python arguments; enforce ours
    _rename_io(model, contract)
    keep = [p for p in model.metadata_props if p.key != CONTRACT_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key, entry.value = CONTRACT_KEY, contract.to_json()
    model.producer_name = "rppg-distill"
    model.doc_string = (f"rPPG student {contract.model}: input '{contract.input_name}' float32 "
                        f"[B,{contract.channels},{contract.frames},{contract.height},{contract.width}] "
                        f"({contract.normalization}, {contract.fs} fps) -> '{contract.output_name}' [B,T]")
    onnx.save(model, str(path), save_as_external_data=False)  # one self-contained file
    Path(str(path) + ".data").unlink(missing_ok=True)  # the exporter's external weights


def _rename_io(model, contract: Contract) -> None:
    g = model.graph
    if len(g.input) != 1 or len(g.output) != 1:
        raise RuntimeError(f"exported graph has {len(g.input)} inputs / {len(g.output)} outputs; "
                           "expected one video input and one pulse output")
    renames = {g.input[0].name: contract.input_name, g.output[0].name: contract.output_name}
    for old, new in renames.items():
        if old == new:
            continue
        for node in g.node:
            node.input[:] = [new if n == old else n for n in node.input]
            node.output[:] = [new if n == old else n for n in node.output]
    g.input[0].name = contract.input_name
    g.output[0].name = contract.output_name


def relative_error(ref: np.ndarray, got: np.ndarray) -> float:
    """max |got - ref| / max |ref| (scale-relative; per-element relative error is meaningless at
    zero crossings of a pulse wave)."""
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    if ref.shape != got.shape:
        raise ParityError(f"shape mismatch: torch {ref.shape} vs onnxruntime {got.shape}")
    scale = max(float(np.max(np.abs(ref))), 1e-12)
    return float(np.max(np.abs(got - ref)) / scale)


def check_parity(model, onnx_path, inputs: dict[str, np.ndarray], rtol: float = 1e-4) -> dict:
    """Run torch and onnxruntime (CPU) on each named input batch; raise ParityError past rtol."""
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = {}
    for key, x in inputs.items():
        x = np.ascontiguousarray(x, np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).float().numpy()
        got = sess.run(None, {name: x})[0]
        err = relative_error(ref, got)
        out[key] = {"rel_err": err, "batch": int(x.shape[0])}
        if not np.isfinite(got).all():
            raise ParityError(f"onnxruntime produced non-finite output on '{key}'")
        if err > rtol:
            raise ParityError(f"onnxruntime vs torch on '{key}': max rel err {err:.3g} > {rtol:g}")
    return out


def random_clips(contract: Contract, batch: int, seed: int = 0) -> np.ndarray:
    """Random inputs shaped and scaled like the contract's normalization."""
    from .runtime.preprocess import normalize_window

    rng = np.random.default_rng(seed)
    T, H, W = contract.frames, contract.height, contract.width
    # smooth random video: a bright face-like base plus small temporal variation
    base = rng.uniform(60, 200, size=(1, 1, H, W, 3))
    wave = np.sin(2 * np.pi * rng.uniform(0.8, 2.5, size=(batch, 1, 1, 1, 1)) *
                  np.arange(T)[None, :, None, None, None] / contract.fs)
    frames = base + 3.0 * wave + rng.normal(0, 2.0, size=(batch, T, H, W, 3))
    frames = np.clip(frames, 0, 255).astype(np.uint8)
    return np.stack([normalize_window(f, contract.normalization) for f in frames])


def export_onnx(model, path, contract: Contract, *, batch: int | str = "dynamic",
                exporter: str = "auto", opset: int | None = None, check: bool = True,
                parity_clips: np.ndarray | None = None, rtol: float = 1e-4, seed: int = 0
                ) -> ExportReport:
    """Export ``model`` (an nn.Module: [B,C,T,H,W] -> [B,T]) to ``path`` with its contract.

    Args:
        batch: an int for a fixed batch (TensorRT builds fastest), or "dynamic".
        exporter: "auto" (torch.export-based, falling back to TorchScript), "dynamo", "legacy".
        parity_clips: optional float32 [N,C,T,H,W] real preprocessed clips for the parity check
            (random clips are always checked).
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if batch != "dynamic":
        batch = int(batch)
        if batch < 1:
            raise ValueError(f"batch must be >= 1 or 'dynamic', got {batch}")
    contract = dataclasses.replace(contract, batch=batch, precision="fp32")
    model = model.eval().float()
    example_b = batch if isinstance(batch, int) else 2
    example = torch.from_numpy(random_clips(contract, example_b, seed))
    with torch.no_grad():
        out = model(example)
    if tuple(out.shape) != (example_b, contract.frames):
        raise ValueError(f"model maps {tuple(example.shape)} to {tuple(out.shape)}; the contract "
                         f"needs [B, T={contract.frames}]")
    tmp = path.with_suffix(".onnx.tmp")
    try:
        kind = _torch_export(model, example, tmp, batch, exporter, opset)
        _attach_metadata(tmp, contract)
        report = check_graph(tmp) if check else {"ops": {}, "opset": 0}
        parity = {}
        if check:
            inputs = {"random": random_clips(contract, example_b, seed + 1)}
            if batch == "dynamic":
                inputs["random_b1"] = random_clips(contract, 1, seed + 2)
                inputs["random_b3"] = random_clips(contract, 3, seed + 3)
            if parity_clips is not None and len(parity_clips):
                clips = np.asarray(parity_clips, np.float32)
                if isinstance(batch, int):
                    n = (len(clips) // batch) * batch
                    clips = clips[:n] if n else np.repeat(clips[:1], batch, 0)
                    for i in range(0, len(clips), batch):
                        inputs[f"clips_{i // batch}"] = clips[i:i + batch]
                else:
                    inputs["clips"] = clips
            parity = check_parity(model, tmp, inputs, rtol)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    side = write_sidecar(path, contract, {"exporter": kind, "opset": report["opset"],
                                          "ops": report["ops"], "parity": parity})
    return ExportReport(path, side, contract, kind, report["opset"], report["ops"], parity)


def _accepts(arch: str, name: str) -> bool:
    """Whether the model class behind ``arch`` takes the constructor argument ``name``."""
    import inspect

    from rppg_distill.models import MODELS

    cls = MODELS.get(arch.lower())
    if cls is None:
        return True  # let build_model report the unknown name
    params = inspect.signature(cls).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def load_checkpoint_model(checkpoint: str | Path | None, arch: str | None = None, **model_kwargs):
    """Build a model from a trainer checkpoint (or random weights when ``checkpoint`` is None).

    Understands checkpoints that describe themselves: the trainer's (weights in
    ``modules["model"]``, ``config["model"] = {"name", "kwargs"}``, ``config["data"]["img_size"]``),
    or a dict with "state_dict" / "model" / "student" weights and "config" / "model_name" /
    "model_kwargs", or a bare state dict. Loaded with ``weights_only=True`` (no arbitrary objects).
    Returns (model, info dict from the checkpoint).

    Raises:
        ValueError: the file holds no model weights (never silently exports random weights).
    """
    import torch

    from rppg_distill.models import build_model

    info: dict = {}
    state = None
    if checkpoint is not None:
        # weights_only: a checkpoint is user input; trainer checkpoints hold only plain types
        try:
            ckpt = torch.load(str(checkpoint), map_location="cpu", weights_only=True)
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise
        except (EOFError, RuntimeError, OSError, pickle.UnpicklingError) as err:
            why = ("the weights-only loader refused its content"
                   if isinstance(err, pickle.UnpicklingError)
                   else (str(err).strip().splitlines() or [type(err).__name__])[0][:200])
            raise ValueError(f"{checkpoint}: not a readable checkpoint (empty, truncated, or not "
                             f"a plain-data torch file): {why}") from err
        if not isinstance(ckpt, dict):
            raise ValueError(f"{checkpoint}: not a rppg-distill checkpoint (got {type(ckpt).__name__})")
        modules = ckpt.get("modules") if isinstance(ckpt.get("modules"), dict) else {}
        state = (modules.get("model") or ckpt.get("state_dict") or ckpt.get("model")
                 or ckpt.get("student"))
        if state is None and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            state = ckpt
        if not isinstance(state, dict) or not state:
            raise ValueError(f"{checkpoint}: no model weights found (looked for modules['model'], "
                             f"state_dict, model, student, or a bare state dict)")
        cfg = ckpt.get("config") or {}
        info = {"config": cfg, **{k: ckpt[k] for k in ("step", "metrics", "versions") if k in ckpt}}
        mcfg = cfg.get("model", {}) if isinstance(cfg, dict) else {}
        if isinstance(mcfg, str):
            mcfg = {"name": mcfg}
        arch = arch or ckpt.get("model_name") or mcfg.get("name") or cfg.get("student")
        model_kwargs = {**(ckpt.get("model_kwargs") or mcfg.get("kwargs") or {}), **model_kwargs}
        dcfg = cfg.get("data") if isinstance(cfg, dict) else None
        if isinstance(dcfg, dict) and "img_size" in dcfg:
            model_kwargs.setdefault("img_size", int(dcfg["img_size"]))
    arch = arch or "efficientphys_c"
    if "img_size" in model_kwargs and not _accepts(arch, "img_size"):
        model_kwargs.pop("img_size")  # e.g. PhysNet: size-agnostic
    model = build_model(arch, **model_kwargs)
    if state is not None:
        # strip a DDP / compile prefix
        state = {k.removeprefix("module.").removeprefix("_orig_mod."): v for k, v in state.items()}
        model.load_state_dict(state)
    info["arch"] = arch
    return model.eval(), info


def export_checkpoint(checkpoint: str | Path | None, path, *, arch: str | None = None,
                      frames: int | None = None, size: int | None = None,
                      normalization: str | None = None, fs: float | None = None,
                      batch: int | str = "dynamic", exporter: str = "auto",
                      parity_clips: np.ndarray | None = None, **model_kwargs) -> ExportReport:
    """Trainer checkpoint -> ONNX with the contract ``Contract.from_train_config`` derives from the
    config stored in the checkpoint (the one path the CLI, the demo and the Python API share).

    Args:
        checkpoint: trainer checkpoint, or None for random weights (tests).
        arch, frames, size, normalization, fs: overrides of what the checkpoint says.
        batch, exporter, parity_clips: see :func:`export_onnx`.
        **model_kwargs: constructor overrides for the model.
    """
    if size:
        model_kwargs["img_size"] = int(size)
    model, info = load_checkpoint_model(checkpoint, arch, **model_kwargs)
    contract = Contract.from_train_config(info.get("config"), arch=info["arch"], frames=frames,
                                          size=size or getattr(model, "img_size", None),
                                          normalization=normalization, fs=fs)
    return export_onnx(model, path, contract, batch=batch, exporter=exporter, parity_clips=parity_clips)
