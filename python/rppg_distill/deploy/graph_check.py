"""Static checks on an exported graph: onnx.checker, and only ops TensorRT builds well.

The allowlist is the subset of the ONNX-TensorRT parser's operator table (TensorRT 10.x/11.x) that
a video pulse model needs; anything else is rejected with the node name so that the export is fixed
at the source (e.g. EfficientPhys' ``aten::diff`` or a TSM written with in-place slice assignment,
which exports as ScatterND). Q/DQ and Cast are allowed (fp16 and int8 graphs).
"""

from __future__ import annotations

from pathlib import Path

# ONNX ops that the TensorRT ONNX parser supports and that are fine for this model family.
TRT_ALLOWED_OPS = frozenset("""
Abs Add And ArgMax ArgMin AveragePool BatchNormalization Cast Ceil Clip Concat Constant
ConstantOfShape Conv ConvTranspose Cos CumSum DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp
Expand Flatten Floor Gather GatherElements Gemm GlobalAveragePool GlobalMaxPool Greater
GreaterOrEqual GroupNormalization HardSigmoid HardSwish Identity InstanceNormalization
LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax MatMul Max MaxPool Mean Min Mod Mul Neg
Not Or Pad Pow PRelu QuantizeLinear Range Reciprocal ReduceL1 ReduceL2 ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize Selu Shape Sigmoid
Sign Sin Size Slice Softmax Softplus Softsign Split Sqrt Squeeze Sub Sum Tan Tanh Tile TopK
Transpose Unsqueeze Where Xor
""".split())

# Ops we refuse with a reason (most are parseable by some TensorRT version, but slow, version-
# dependent, or a symptom of an export bug).
TRT_DENIED_OPS = {
    "ScatterND": "in-place slice assignment (e.g. a TSM shift written as x[..] = ..); rewrite with "
                 "Slice + Concat",
    "ScatterElements": "scatter; rewrite with Concat/Where",
    "NonZero": "data-dependent shape",
    "Loop": "control flow; unroll it",
    "If": "control flow; trace with static shapes",
    "SequenceConstruct": "sequence ops are not supported",
    "SequenceAt": "sequence ops are not supported",
    "SplitToSequence": "sequence ops are not supported",
    "Unique": "data-dependent shape",
}


class GraphCheckError(ValueError):
    """The exported graph fails a deployment check."""


def op_histogram(model) -> dict[str, int]:
    hist: dict[str, int] = {}
    graphs = [model.graph]
    while graphs:
        g = graphs.pop()
        for node in g.node:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            hist[key] = hist.get(key, 0) + 1
            for attr in node.attribute:
                if attr.g is not None and attr.g.node:
                    graphs.append(attr.g)
    return hist


def unsupported_ops(model, allowed=TRT_ALLOWED_OPS) -> dict[str, str]:
    """op -> reason, for every op in the graph that is not on the TensorRT allowlist."""
    bad = {}
    for op in op_histogram(model):
        if op in TRT_DENIED_OPS:
            bad[op] = TRT_DENIED_OPS[op]
        elif op not in allowed:
            bad[op] = "not on the TensorRT-supported allowlist (deploy.graph_check.TRT_ALLOWED_OPS)"
    return bad


def check_graph(path_or_model, *, allowed=TRT_ALLOWED_OPS) -> dict:
    """Run onnx.checker (full check, shape inference) and the TensorRT op allowlist.

    Returns a report dict {"ops": histogram, "opset": int, "nodes": int}. Raises GraphCheckError.
    """
    import onnx

    model = onnx.load(str(path_or_model)) if isinstance(path_or_model, (str, Path)) else path_or_model
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as err:
        raise GraphCheckError(f"onnx.checker rejected the graph: {err}") from err
    bad = unsupported_ops(model, allowed)
    if bad:
        lines = "; ".join(f"{op}: {why}" for op, why in sorted(bad.items()))
        raise GraphCheckError(f"graph uses ops TensorRT will not build well: {lines}")
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    hist = op_histogram(model)
    return {"ops": hist, "opset": int(opset), "nodes": int(sum(hist.values()))}
