"""FP32 ONNX export and INT8 static quantisation (QDQ) with onnxruntime.

- FP32: legacy TorchScript exporter, opset 17, input `video` [B, T, 3, H, W],
  outputs `logits` [B, C] and `region_attn` [B, T, 2, h*w]; B is 1, or the
  symbolic `batch` for a file that takes several clips at once.
- INT8 `qdq-full`: every supported operator quantised, for TensorRT explicit
  quantisation: symmetric int8 activations (zero point 0), per-channel
  symmetric int8 weights within 7 bits (see `quantize_int8`), and no Q/DQ on
  graph outputs.
- INT8 `qdq-conv`: only convolutions quantised. tract computes quantised
  Softmax and MatMul wrongly; this variant is the one it runs.
- FP32 `frames`: the FP32 graph with every convolution wider than 1x1 split
  into one convolution per frame (same weights). tract runs batch-1
  convolutions without materialising their im2col matrix (lazy im2col);
  this variant is the FP32 file it runs, always with batch 1. onnxruntime
  is faster on the batched graph.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from .model import Art, ExportModel

OPSET = 17
INPUT = "video"
OUTPUTS = ("logits", "region_attn")
#: Name of the symbolic batch dimension of a file that takes several clips.
BATCH = "batch"


def export_fp32(model: Art, path: Path, batch: bool = False) -> None:
    """Exports the deployed graph of `model` with batch 1, or with the symbolic
    batch dimension `BATCH` on its input and outputs when `batch`, and checks
    it with onnx.checker."""
    pre = model.config.preprocess
    wrapper = ExportModel(model).eval()
    dummy = torch.zeros(1, pre.frames, 3, pre.height, pre.width)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
            dynamic_axes={name: {0: BATCH} for name in (INPUT, *OUTPUTS)} if batch else None,
        )
        shapes = [tuple(t.shape) for t in wrapper(dummy)]
    if batch:
        _fix_output_dims(path, shapes)
    compact_names(path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def _fix_output_dims(path: Path, shapes: list[tuple[int, ...]]) -> None:
    """Writes every output dimension but the batch as the number it is: the
    exporter leaves some of them symbolic once the batch is."""
    m = onnx.load(str(path))
    for out, shape in zip(m.graph.output, shapes, strict=True):
        for dim, size in zip(list(out.type.tensor_type.shape.dim)[1:], shape[1:], strict=True):
            dim.Clear()
            dim.dim_value = size
    onnx.save(m, str(path))


def pin_batch(src: Path, dst: Path) -> None:
    """Writes `src` with batch 1 in place of a symbolic batch dimension, and
    without the intermediate shapes that carry the symbol: the graph tract
    runs (it cannot unify the symbol with its batch-1 input)."""
    m = onnx.load(str(src))
    for value in (*m.graph.input, *m.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = 1
    del m.graph.value_info[:]
    onnx.save(m, str(dst))
    onnx.checker.check_model(onnx.load(str(dst)), full_check=True)


def split_frame_convs(src: Path, dst: Path) -> int:
    """Writes `src` with each convolution whose kernel is wider than 1x1 and whose
    input holds several images replaced by Split -> one Conv per image -> Concat.
    Returns how many convolutions were split."""
    m = onnx.shape_inference.infer_shapes(onnx.load(str(src)), data_prop=True)
    g = m.graph
    batch = {v.name: v.type.tensor_type.shape.dim[0].dim_value for v in (*g.value_info, *g.input) if v.type.tensor_type.shape.dim}
    kernels = {i.name: list(i.dims) for i in g.initializer}
    nodes, split = [], 0
    for node in g.node:
        is_conv = node.op_type == "Conv"
        n = batch.get(node.input[0], 0) if is_conv else 0
        kernel = kernels.get(node.input[1], []) if is_conv else []
        if n <= 1 or len(kernel) != 4 or kernel[2] * kernel[3] == 1:
            nodes.append(node)
            continue
        sizes = f"{node.name}_frames"
        g.initializer.append(onnx.numpy_helper.from_array(np.ones(n, dtype=np.int64), sizes))
        parts = [f"{node.output[0]}_in{i}" for i in range(n)]
        nodes.append(onnx.helper.make_node("Split", [node.input[0], sizes], parts, name=f"{node.name}_split", axis=0))
        for i, part in enumerate(parts):
            conv = onnx.helper.make_node("Conv", [part, *node.input[1:]], [f"{node.output[0]}_out{i}"], name=f"{node.name}_{i}")
            conv.attribute.extend(node.attribute)
            nodes.append(conv)
        nodes.append(onnx.helper.make_node("Concat", [f"{node.output[0]}_out{i}" for i in range(n)], [node.output[0]], name=f"{node.name}_concat", axis=0))
        split += 1
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    onnx.save(m, str(dst))
    compact_names(dst)
    onnx.checker.check_model(onnx.load(str(dst)), full_check=True)
    return split


def compact_names(path: Path) -> None:
    """Renames nodes to `<op>_<k>` and intermediate tensors to `t<k>[_<j>]` (k: the
    producing node's index; `_` appended on a clash), keeping the graph's input,
    output and weight names.

    The exporter's scope-path names ("/model/backbone/layers.0/attn/...") repeated
    on every Q/DQ node made up a quarter of the INT8 file.
    """
    m = onnx.load(str(path))
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {i.name for i in g.initializer}
    rename: dict[str, str] = {}
    for k, node in enumerate(g.node):
        node.name = f"{node.op_type}_{k}"
        node.doc_string = ""
        for j, out in enumerate(node.output):
            if out and out not in keep:
                new = f"t{k}" if j == 0 else f"t{k}_{j}"
                while new in keep:
                    new += "_"
                rename[out] = new
    for node in g.node:
        for seq in (node.input, node.output):
            for j, name in enumerate(seq):
                if name in rename:
                    seq[j] = rename[name]
    for vi in g.value_info:
        vi.name = rename.get(vi.name, vi.name)
    m.doc_string = ""
    onnx.save(m, str(path))


class ClipReader(CalibrationDataReader):
    """Feeds preprocessed clips float32 [N, T, 3, H, W] one at a time to the calibrator."""

    def __init__(self, inputs: np.ndarray):
        self.inputs = inputs
        self.pos = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.pos >= len(self.inputs):
            return None
        x = self.inputs[self.pos : self.pos + 1]
        self.pos += 1
        return {INPUT: x}

    def rewind(self) -> None:
        self.pos = 0


def _output_producers(model_path: Path) -> list[str]:
    """Names of the nodes whose outputs are graph outputs (kept in float)."""
    m = onnx.load(str(model_path))
    outs = {o.name for o in m.graph.output}
    return [n.name for n in m.graph.node if outs.intersection(n.output)]


#: Default percentile of each activation's magnitudes that sets its INT8 range.
CALIB_PERCENTILE = 99.99


def quantize_int8(
    fp32_path: Path, out_path: Path, calib_inputs: np.ndarray, conv_only: bool, percentile: float = CALIB_PERCENTILE, log=print
) -> None:
    """Static INT8 QDQ quantisation of `fp32_path`, calibrated on `calib_inputs` [N, T, 3, H, W].

    Each activation's symmetric range is the `percentile` of its magnitudes over
    the calibration clips, so that a few outliers do not coarsen every other
    value's step; 100 takes the full range (MinMax).

    Weights are held to 7 bits (-64..64, `reduce_range`). On x86 CPUs without
    VNNI (AVX2, AVX-512F) onnxruntime's integer kernels add pairs of
    activation x weight products in 16 bits, and 255 x 127 x 2 overflows it:
    with 8-bit weights those CPUs computed another function than the QDQ
    graph (logits off by up to 1.25 on the default bundle's golden clips).
    With 7-bit weights no pair can overflow (255 x 64 x 2 < 32768), so every
    CPU kernel, tract and TensorRT compute the graph's own arithmetic.

    onnxruntime's percentile calibrator cannot histogram an activation whose
    magnitude is the same to within float precision over every calibration
    clip (the norm of a LayerNorm output before that LayerNorm has trained,
    say); such a model is calibrated with the full ranges instead, and `log`
    says so."""
    if not 0 < percentile <= 100:
        raise ValueError(f"calibration percentile {percentile} must be in (0, 100]")
    try:
        _quantize_static(fp32_path, out_path, calib_inputs, conv_only, percentile)
    except ValueError as err:
        if percentile == 100 or "finite-sized bins" not in str(err):
            raise
        log(f"{out_path.name}: percentile calibration failed ({err}): an activation is constant over the calibration clips; calibrating with the full ranges")
        _quantize_static(fp32_path, out_path, calib_inputs, conv_only, 100.0)
    per_tensor_left_weights(out_path)
    compact_names(out_path)
    onnx.checker.check_model(onnx.load(str(out_path)), full_check=True)
    check_qdq(out_path)


def _quantize_static(fp32_path: Path, out_path: Path, calib_inputs: np.ndarray, conv_only: bool, percentile: float) -> None:
    """onnxruntime's static QDQ quantisation with this project's settings."""
    method = CalibrationMethod.MinMax if percentile == 100 else CalibrationMethod.Percentile
    with tempfile.TemporaryDirectory() as tmp:
        prep = Path(tmp) / "prep.onnx"
        quant_pre_process(str(fp32_path), str(prep), skip_symbolic_shape=True)
        quantize_static(
            str(prep),
            str(out_path),
            ClipReader(calib_inputs),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            calibrate_method=method,
            op_types_to_quantize=["Conv"] if conv_only else None,
            nodes_to_exclude=_output_producers(prep),
            extra_options={
                "ActivationSymmetric": True,
                "WeightSymmetric": True,
                "QDQKeepRemovableActivations": False,
                "CalibPercentile": percentile,
            },
        )


#: Largest magnitude of a quantised weight (7 bits; see `quantize_int8`).
WEIGHT_QMAX = 64


def _left_weight_dequantizers(m: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The DequantizeLinear nodes that feed a weight (an initializer) into
    the left input of a MatMul."""
    inits = {i.name for i in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}
    found = []
    for node in m.graph.node:
        if node.op_type != "MatMul":
            continue
        dq = producers.get(node.input[0])
        if dq is not None and dq.op_type == "DequantizeLinear" and dq.input[0] in inits:
            found.append(dq)
    return found


def per_tensor_left_weights(path: Path) -> None:
    """Requantises per tensor every weight that is the left input of a
    MatMul (the text bank's projections multiply activations from the left).

    onnxruntime fuses a MatMul between Q/DQ pairs into QLinearMatMul, whose
    Arm kernels accept a per-column zero point for the right input only: with
    a per-channel left weight they refuse the whole model ("QLinearMatMul:
    input zero point must be a scalar or 1D tensor of size 1"), so a Jetson's
    CPU could not run it. One scale over the whole tensor, 7 bits and a zero
    point of 0, keeps TensorRT's rules."""
    m = onnx.load(str(path))
    inits = {i.name: i for i in m.graph.initializer}
    changed = False
    for dq in _left_weight_dequantizers(m):
        weight, scale = inits[dq.input[0]], inits[dq.input[1]]
        if not scale.dims:
            continue
        q = onnx.numpy_helper.to_array(weight).astype(np.float32)
        s = onnx.numpy_helper.to_array(scale).astype(np.float32)
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        shape = [1] * q.ndim
        shape[axis] = -1
        w = q * s.reshape(shape)
        step = np.float32(max(float(np.abs(w).max()), 1e-12) / WEIGHT_QMAX)
        requantised = np.clip(np.round(w / step), -WEIGHT_QMAX, WEIGHT_QMAX).astype(np.int8)
        weight.CopyFrom(onnx.numpy_helper.from_array(requantised, weight.name))
        scale.CopyFrom(onnx.numpy_helper.from_array(np.array(step, dtype=s.dtype), scale.name))
        if len(dq.input) >= 3 and dq.input[2]:
            zp = inits[dq.input[2]]
            zp.CopyFrom(onnx.numpy_helper.from_array(np.array(0, dtype=np.int8), zp.name))
        for a in [a for a in dq.attribute if a.name == "axis"]:
            dq.attribute.remove(a)
        changed = True
    if changed:
        onnx.save(m, str(path))


def check_qdq(path: Path) -> None:
    """Asserts the TensorRT explicit-quantisation rules (zero points all 0, no
    Q/DQ node producing a graph output), 7-bit weights, and no per-channel
    weight on a MatMul's left input (onnxruntime's Arm kernels refuse it; see
    `per_tensor_left_weights`). Raises ValueError naming the tensor."""
    m = onnx.load(str(path))
    inits = {i.name: i for i in m.graph.initializer}
    for dq in _left_weight_dequantizers(m):
        if inits[dq.input[1]].dims:
            raise ValueError(f"{path}: weight `{dq.input[0]}` is quantised per channel on a MatMul's left input")
    outs = {o.name for o in m.graph.output}
    for node in m.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if outs.intersection(node.output):
            raise ValueError(f"{path}: {node.op_type} `{node.name}` produces a graph output")
        if len(node.input) >= 3 and node.input[2]:
            zp = inits.get(node.input[2])
            if zp is not None and np.any(onnx.numpy_helper.to_array(zp) != 0):
                raise ValueError(f"{path}: {node.op_type} `{node.name}` has a non-zero zero point")
        weight = inits.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if weight is not None and weight.data_type == onnx.TensorProto.INT8:
            peak = int(np.abs(onnx.numpy_helper.to_array(weight).astype(np.int16)).max(initial=0))
            if peak > WEIGHT_QMAX:
                raise ValueError(f"{path}: weight `{weight.name}` reaches {peak}, beyond 7 bits (+-{WEIGHT_QMAX})")


def session(path: Path) -> ort.InferenceSession:
    """An onnxruntime CPU session with one thread (steady on a busy machine)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs an exported model clip by clip: (logits [N, C], region_attn [N, T, 2, h*w])."""
    sess = session(path)
    logits, attn = [], []
    for i in range(len(inputs)):
        lo, ra = sess.run(list(OUTPUTS), {INPUT: inputs[i : i + 1]})
        logits.append(lo)
        attn.append(ra)
    return np.concatenate(logits), np.concatenate(attn)
