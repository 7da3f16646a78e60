"""Per-layer error of int8 Q/DQ models against fp32, per quantization setting, on this CPU.

    python bench/int8_layers.py [--out bench/results/int8_layers.json] [--configs a,b,...]
                                [--train-steps N]

The model and clips are those of tests/deploy/precision_data.py (EfficientPhys-C, T=60, 36x36,
seeded random weights; pulse videos at 60/75/90/105 bpm, calibration on every other clip) plus
held-out clips from four other recordings (66/84/96/114 bpm, other seeds). ``--train-steps N``
instead trains a small student for N steps first (see ``build_model_and_clips``).

For each setting the int8 model is run twice in onnxruntime (CPU):
- ``kernel``: the session as users run it (ORT_ENABLE_ALL: Q/DQ fused into QLinearConv / QGemm,
  MLAS int8 kernels of this CPU); per layer, the model cut after that layer (see ``measure``);
- ``exact``: graph optimizations off, so each DequantizeLinear -> float Conv -> QuantizeLinear runs
  in float: the same integers with exact accumulation, i.e. what an int32-accumulating kernel
  (VNNI / AMX CPU, TensorRT) computes up to float rounding of the requantization.
Every quantized tensor (the output of each QuantizeLinear, dequantized here) is compared with the
same tensor of the fp32 model: relative RMS error ||q - f|| / ||f|| and Pearson correlation. The
gap between ``kernel`` and ``exact`` at a layer is the kernel's own error (saturation), the
``exact`` error is quantization alone. The end metrics are those of ``precision.validate_precision``
(BVP correlation, |HR_int8 - HR_fp32| per clip).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))
sys.path.insert(0, str(ROOT / "python"))

CONFIGS = {
    # name: target, then Int8Settings fields (explicit, whatever the target's defaults are)
    "s8s8_sym_full": {"target": "tensorrt"},  # the previous default (what CI failed with)
    "s8s8_sym_reduce": {"target": "ort-cpu", "reduce_range": True},  # the ort-cpu default
    "u8s8_asym_full": {"target": "ort-cpu", "reduce_range": False, "activation_type": "uint8",
                       "activation_symmetric": False},
    "u8s8_asym_reduce": {"target": "ort-cpu", "reduce_range": True, "activation_type": "uint8",
                         "activation_symmetric": False},
    "u8u8_asym_full": {"target": "ort-cpu", "reduce_range": False, "activation_type": "uint8",
                       "activation_symmetric": False, "weight_type": "uint8", "weight_symmetric": False},
    "s8s8_sym_full_conv1_float": {"target": "tensorrt", "nodes_to_exclude": ("/motion_conv1/Conv",)},
}


def build_model_and_clips(workdir: Path, train_steps: int = 0):
    """fp32 ONNX, calibration clips, held-out clips, their true HR.

    ``train_steps`` 0: the test's model (seeded random weights, widths 32/64/128; its HR is not
    the video's). Otherwise a student of widths 8/16/32 trained that many full-batch Adam steps
    (negative Pearson against the pulse) on eight other recordings, so that its fp32 HR is right
    and the HR drift of int8 means something.
    """
    import cv2
    import torch
    from helpers import pulse_frames

    from rppg_distill.deploy import precision
    from rppg_distill.deploy.contract import Contract
    from rppg_distill.deploy.export import export_onnx
    from rppg_distill.models import build_model

    c = Contract(model="efficientphys_c", frames=60, height=36, width=36, normalization="standardized")

    def clips_of(hrs, seeds):
        out, hr_true, waves = [], [], []
        for hr, seed in zip(hrs, seeds):
            frames, t = pulse_frames(hr, seconds=4.0, size=(64, 48), seed=seed)
            crops = np.stack([cv2.resize(f[:, 8:56], (36, 36), interpolation=cv2.INTER_AREA)
                              for f in frames])
            out.append(precision.clips_from_crops(crops, c, stride=30))
            hr_true += [float(hr)] * len(out[-1])
            wave = np.sin(2 * np.pi * hr / 60.0 * t).astype(np.float32)
            waves += [wave[i * 30:i * 30 + 60] for i in range(len(out[-1]))]
        return np.concatenate(out), np.asarray(hr_true), np.stack(waves)

    torch.manual_seed(0)
    if train_steps:
        model = build_model("efficientphys_c", frame_depth=10, img_size=36, nb_filters1=8,
                            nb_filters2=16, nb_dense=32)
        x, _, wave = clips_of([55, 62, 70, 78, 86, 95, 104, 115], range(20, 28))
        x, wave = torch.from_numpy(x), torch.from_numpy(wave)
        wave = wave - wave.mean(1, keepdim=True)
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        for _ in range(train_steps):
            model.train()
            opt.zero_grad()
            y = model(x)
            y = y - y.mean(1, keepdim=True)
            loss = 1 - ((y * wave).sum(1) / (y.norm(dim=1) * wave.norm(dim=1) + 1e-8)).mean()
            loss.backward()
            opt.step()
    else:
        model = build_model("efficientphys_c", frame_depth=10, img_size=36)
    export_onnx(model.eval(), workdir / "fp32.onnx", c, exporter="legacy")
    test_clips, test_hr, _ = clips_of([60, 75, 90, 105], range(4))
    other, other_hr, _ = clips_of([66, 84, 96, 114], range(10, 14))
    return (workdir / "fp32.onnx", test_clips[::2], np.concatenate([test_clips[1::2], other]),
            np.concatenate([test_hr[1::2], other_hr]))


def _with_outputs(model, names_types):
    """A copy of ``model`` with extra graph outputs [(name, onnx elem type)]."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name, elem in names_types:
        if name not in have:
            m.graph.output.append(helper.make_tensor_value_info(name, elem, None))
    return m


def _session(model, optimize: bool):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def quantized_tensors(qmodel):
    """[(float tensor name, Q output name, scale array, zero point array, elem type)] per Q node."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in qmodel.graph.initializer}
    out = []
    for n in qmodel.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[0] not in inits:
            zp = inits[n.input[2]]
            elem = 3 if zp.dtype == np.int8 else 2  # TensorProto.INT8 / UINT8
            out.append((n.input[0], n.output[0], inits[n.input[1]], zp, elem))
    return out


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(relative RMS error of b against a, Pearson correlation), over all elements."""
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    rel = float(np.linalg.norm(b - a) / max(np.linalg.norm(a), 1e-30))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return rel, corr


def _truncated(model, output: str):
    """A copy of ``model`` whose only output is ``output`` (nodes it does not need removed)."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    producer = {o: n for n in m.graph.node for o in n.output}
    keep, stack = set(), [output]
    while stack:
        name = stack.pop()
        n = producer.get(name)
        if n is None or id(n) in keep:
            continue
        keep.add(id(n))
        stack.extend(i for i in n.input if i)
    nodes = [n for n in m.graph.node if id(n) in keep]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    del m.graph.output[:]
    m.graph.output.append(helper.make_tensor_value_info(output, 1, None))
    return m


def measure(fp32_path: Path, int8_path: Path, held: np.ndarray, hr_true: np.ndarray) -> dict:
    """Per-layer and end errors of an int8 model against its fp32 source on ``held`` clips.

    Exposing a quantized tensor as a graph output changes how onnxruntime fuses the graph (an
    int8 Q output that is a graph output is not converted to uint8), so the ``kernel`` figure of a
    layer comes from the model cut right after that layer's DequantizeLinear: everything upstream
    runs exactly as in the full model.
    """
    import onnx

    from rppg_distill.deploy.contract import contract_from_onnx
    from rppg_distill.deploy.precision import clip_hr

    c = contract_from_onnx(fp32_path)
    fmodel = onnx.load(str(fp32_path))
    qmodel = onnx.load(str(int8_path))
    fvalues = {o for n in fmodel.graph.node for o in n.output}
    tensors = [t for t in quantized_tensors(qmodel) if t[0] in fvalues]
    dq_of = {n.input[0]: n.output[0] for n in qmodel.graph.node if n.op_type == "DequantizeLinear"}
    x = {fmodel.graph.input[0].name: held}
    fout = fmodel.graph.output[0].name
    fs = _session(_with_outputs(fmodel, [(t[0], 1) for t in tensors]), True)
    fnames = [fout] + [t[0] for t in tensors]
    fres = dict(zip(fnames, fs.run(fnames, x)))
    qx = {qmodel.graph.input[0].name: held}
    qout = qmodel.graph.output[0].name
    y_kernel = _session(qmodel, True).run([qout], qx)[0]
    qnames = [qout] + [dq_of[t[1]] for t in tensors]
    exact = dict(zip(qnames, _session(_with_outputs(qmodel, [(n, 1) for n in qnames[1:]]), False)
                     .run(qnames, qx)))
    layers = []
    for fname, qname, scale, zp, _ in tensors:
        f = fres[fname]
        deq = {"exact": exact[dq_of[qname]],
               "kernel": _session(_truncated(qmodel, dq_of[qname]), True).run(None, qx)[0]}
        row = {"tensor": fname, "scale": float(np.max(scale)), "zero_point": int(np.max(zp))}
        for mode in ("kernel", "exact"):
            row[f"{mode}_rel"], row[f"{mode}_corr"] = compare(f, deq[mode])
        row["kernel_vs_exact_rel"] = compare(deq["exact"], deq["kernel"])[0]
        layers.append(row)
    y_ref = fres[fout]
    end = {}
    for mode, y in (("kernel", y_kernel), ("exact", exact[qout])):
        corr = [float(np.corrcoef(a, b)[0, 1]) for a, b in zip(y_ref, y)]
        hr_ref, hr_q = clip_hr(y_ref, c.fs, c.band), clip_hr(y, c.fs, c.band)
        end[mode] = {"bvp_corr_mean": float(np.mean(corr)), "bvp_corr_min": float(np.min(corr)),
                     "hr_abs_diff_mean_bpm": float(np.mean(np.abs(hr_q - hr_ref))),
                     "hr_abs_diff_max_bpm": float(np.max(np.abs(hr_q - hr_ref))),
                     "mae_fp32_bpm": float(np.mean(np.abs(hr_ref - hr_true))),
                     "mae_drift_bpm": float(np.mean(np.abs(hr_q - hr_true)) - np.mean(np.abs(hr_ref - hr_true)))}
    return {"layers": layers, "end": end}


def print_report(name: str, rep: dict) -> None:
    print(f"\n## {name}")
    print("| tensor | exact rel | kernel rel | kernel corr | kernel vs exact |")
    print("|---|---|---|---|---|")
    for r in rep["layers"]:
        print(f"| {r['tensor']} | {r['exact_rel']:.3f} | {r['kernel_rel']:.3f} | {r['kernel_corr']:.3f} "
              f"| {r['kernel_vs_exact_rel']:.3f} |")
    for mode, e in rep["end"].items():
        print(f"{mode}: BVP corr mean {e['bvp_corr_mean']:.3f} (min {e['bvp_corr_min']:.3f}), "
              f"|HR diff| mean {e['hr_abs_diff_mean_bpm']:.2f} max {e['hr_abs_diff_max_bpm']:.2f} bpm, "
              f"MAE drift {e['mae_drift_bpm']:+.2f} bpm (fp32 MAE {e['mae_fp32_bpm']:.2f})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "int8_layers.json"))
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of " + ", ".join(CONFIGS))
    ap.add_argument("--train-steps", type=int, default=0,
                    help="0: the test's random-weight model; N: a small student trained N steps")
    args = ap.parse_args(argv)
    import onnxruntime

    from rppg_distill.deploy import cpu_features, precision
    from rppg_distill.deploy.int8_settings import settings_for_target

    flags = cpu_features.cpu_flags()
    meta = {"date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "machine": platform.machine(),
            "cpu": _cpu_model(), "cpu_flags": cpu_features.describe(flags),
            "onnxruntime": onnxruntime.__version__, "loadavg": _loadavg()}
    print(json.dumps(meta))
    results = {"meta": meta, "configs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fp32, calib, held, hr_true = build_model_and_clips(tmp, args.train_steps)
        meta.update(calibration_clips=len(calib), heldout_clips=len(held), train_steps=args.train_steps)
        for name in [n.strip() for n in args.configs.split(",") if n.strip()]:
            over = dict(CONFIGS[name])
            settings = settings_for_target(over.pop("target"), **over)
            q = precision.to_int8(fp32, tmp / f"{name}.onnx", calib, settings=settings)
            rep = measure(fp32, q, held, hr_true)
            rep["settings"] = settings.to_dict()
            results["configs"][name] = rep
            print_report(name, rep)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _loadavg():
    try:
        return [round(v, 2) for v in __import__("os").getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    sys.exit(main())
