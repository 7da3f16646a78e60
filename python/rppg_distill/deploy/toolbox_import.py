"""Released rPPG-Toolbox checkpoint -> self-describing checkpoint and/or ONNX with its contract.

    report = import_toolbox("PURE_PhysNet_DiffNormalized.pth", onnx_path="physnet.onnx")

The model comes from :func:`rppg_distill.models.toolbox_import.load_toolbox_checkpoint` (weights
only, names mapped, architecture checked); the ONNX from :func:`rppg_distill.deploy.export.
export_onnx` (graph checks, onnxruntime-vs-torch parity); the contract carries the toolbox's
test-time preprocessing: normalization, chunk length, pulse or pulse derivative, face box
coefficient, detection policy, 30 fps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .contract import Contract, read_sidecar, sidecar_path, write_sidecar


def toolbox_contract(info: dict, frames: int | None = None) -> Contract:
    """The preprocessing contract of an imported model (``info`` from load_toolbox_checkpoint)."""
    p = info["preprocessing"]
    return Contract(model=info["model_name"], frames=int(frames or p["frames"]),
                    height=int(p["size"]), width=int(p["size"]),
                    normalization=p["normalization"], fs=float(p["fs"]), output=p["output"],
                    face_box_coef=float(p["face_box_coef"]), detect_every=int(p["detect_every"]))


def import_toolbox(checkpoint: str | Path, onnx_path: str | Path | None = None, *,
                   arch: str | None = None, checkpoint_out: str | Path | None = None,
                   frames: int | None = None, batch: int | str = "dynamic",
                   exporter: str = "auto") -> dict:
    """Import ``checkpoint``; write the ONNX (``onnx_path``) and/or a self-describing torch
    checkpoint (``checkpoint_out``). At least one output is needed.

    Returns a report dict: arch, model_name, model_kwargs, contract, the outputs written and the
    ONNX export report (op histogram, onnxruntime-vs-torch parity).
    """
    from rppg_distill.models.toolbox_import import (
        load_toolbox_checkpoint,
        save_imported_checkpoint,
    )

    if onnx_path is None and checkpoint_out is None:
        raise ValueError("import_toolbox: give onnx_path and/or checkpoint_out")
    if onnx_path is not None and Path(onnx_path).suffix.lower() != ".onnx":
        raise ValueError(f"{onnx_path}: the ONNX output must end in .onnx")
    model, info = load_toolbox_checkpoint(checkpoint, arch)
    contract = toolbox_contract(info, frames)
    report = {"arch": info["arch"], "model_name": info["model_name"],
              "model_kwargs": info["model_kwargs"], "contract": contract.to_dict(),
              "source": info["source"]}
    if checkpoint_out is not None:
        report["checkpoint"] = str(save_imported_checkpoint(model, info, checkpoint_out,
                                                            contract.to_dict()))
    if onnx_path is not None:
        from .export import export_onnx

        rep = export_onnx(model, onnx_path, contract, batch=batch, exporter=exporter)
        side = read_sidecar(rep.path)
        extra = _sidecar_extra(rep.path)
        extra["toolbox_import"] = {"arch": info["arch"], "source": info["source"],
                                   "model_kwargs": info["model_kwargs"],
                                   "face_detector": info["preprocessing"]["face_detector"]}
        write_sidecar(rep.path, side or contract, extra)
        report["onnx"] = rep.to_dict()
        report["contract"] = dataclasses.asdict(rep.contract) | {"band": list(rep.contract.band)}
    return report


def _sidecar_extra(model_path: Path) -> dict:
    import json

    payload = json.loads(sidecar_path(model_path).read_text())
    payload.pop("contract", None)
    return payload
