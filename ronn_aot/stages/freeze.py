"""Compile-time constants for graph inputs: `--freeze-input NAME=FILE.npy`.

An ahead-of-time compiler cannot know shapes that depend on data (a Reshape's target, TopK's k, a
Slice's ends given as graph inputs); it can specialise on them. A frozen input becomes an
initializer, so the shape-arithmetic folding and TVM's importer see a constant; the artifact then
no longer takes that input. `shape_deciding_inputs` names the inputs whose values decide shapes
(or attributes TVM needs constant), which the onnx Backend freezes from the values it is given.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import InvalidModelError, ShapeError

# Operator -> positions of the inputs whose values decide an output's shape, or that TVM's
# importer takes only as constants (axes, k, pads and the pad value, repeats, sizes, scales,
# split, OneHot's values, ...).
SHAPE_INPUTS: dict[str, frozenset[int]] = {op: frozenset(pos) for op, pos in {
    "Reshape": (1,), "Expand": (1,), "Tile": (1,), "Pad": (1, 2, 3), "Slice": (1, 2, 3, 4), "TopK": (1,),
    "Resize": (1, 2, 3), "Upsample": (1,), "Split": (1,), "Squeeze": (1,), "Unsqueeze": (1,),
    "ConstantOfShape": (0,), "Range": (0, 1, 2), "OneHot": (1, 2), "CenterCropPad": (1,), "Col2Im": (1, 2),
    "DFT": (1, 2), "STFT": (1, 3), "CumSum": (1,), "CumProd": (1,), "Trilu": (1,), "MaxUnpool": (2,), "AffineGrid": (1,),
    "BlackmanWindow": (0,), "HannWindow": (0,), "HammingWindow": (0,), "MelWeightMatrix": (0, 1, 2, 3, 4),
    "SplitToSequence": (1,), "ReduceSum": (1,), "ReduceMean": (1,), "ReduceMax": (1,), "ReduceMin": (1,),
    "ReduceProd": (1,), "ReduceL1": (1,), "ReduceL2": (1,), "ReduceLogSum": (1,), "ReduceLogSumExp": (1,),
    "ReduceSumSquare": (1,), "NonMaxSuppression": (2, 3, 4), "Dropout": (1, 2), "Compress": (1,),
    "Loop": (0, 1),  # trip count and condition: a Loop of static length unrolls (onnx_unroll)
}.items()}


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The model's inputs that are not initializers (what a caller feeds)."""
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


# Nodes whose output depends on their input's shape only: what decides a shape stops there.
_SHAPE_ONLY = {"Shape", "Size", "EyeLike", "ConstantOfShape"}
_INTEGER_TYPES = {onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
                  onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64}


def shape_deciding_inputs(model: onnx.ModelProto) -> list[str]:
    """Graph inputs that some node reads at a position of SHAPE_INPUTS (main graph only), and
    integer graph inputs from which such a value is computed (CenterCropPad's expansion computes
    Pad's pads from its `shape` input)."""
    names = {i.name for i in graph_inputs(model)}
    integer = {i.name for i in graph_inputs(model) if i.type.tensor_type.elem_type in _INTEGER_TYPES}
    found: list[str] = []
    deciding: set[str] = set()
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        for pos in SHAPE_INPUTS.get(node.op_type, ()):
            if pos < len(node.input) and node.input[pos]:
                deciding.add(node.input[pos])
                if node.input[pos] in names and node.input[pos] not in found:
                    found.append(node.input[pos])
    producers = {o: n for n in model.graph.node for o in n.output}
    stack = list(deciding)
    while stack:
        node = producers.get(stack.pop())
        if node is None or node.op_type in _SHAPE_ONLY or node.domain not in ("", "ai.onnx"):
            continue
        for i in node.input:
            if i and i not in deciding:
                deciding.add(i)
                stack.append(i)
                if i in integer and i not in found:
                    found.append(i)
    return found


def freeze_inputs(model: onnx.ModelProto, values: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` in which each input named in `values` is an initializer holding it."""
    if not values:
        return model
    by_name = {i.name: i for i in graph_inputs(model)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ShapeError(f"--freeze-input names {', '.join(map(repr, unknown))}, which the model does not "
                         f"take as an input; its inputs are: {', '.join(map(repr, by_name))}")
    frozen = onnx.ModelProto()
    frozen.CopyFrom(model)
    for name, value in values.items():
        arr = np.asarray(value)
        tt = by_name[name].type.tensor_type
        want = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else arr.dtype
        if arr.dtype != want:
            raise InvalidModelError(f"--freeze-input {name}: the value is {arr.dtype}, the input is {want}; "
                                    f"save the array as {want}")
        if tt.HasField("shape"):
            declared = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if len(declared) != arr.ndim or any(d not in (None, 0, s) for d, s in zip(declared, arr.shape)):
                raise ShapeError(f"--freeze-input {name}: the value has shape {list(arr.shape)}, the input is "
                                 f"declared {['?' if d is None else d for d in declared]}")
        frozen.graph.initializer.append(numpy_helper.from_array(arr, name))
    kept = [i for i in frozen.graph.input if i.name not in values]
    del frozen.graph.input[:]
    frozen.graph.input.extend(kept)
    return frozen


def parse_freeze_input(text: str) -> tuple[str, np.ndarray]:
    """The CLI form NAME=FILE.npy -> (name, array)."""
    from ..errors import RonnError

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise RonnError(f"--freeze-input expects NAME=FILE.npy (e.g. shape=shape.npy), got {text!r}")
    try:
        return name, np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise RonnError(f"--freeze-input {name}: cannot read {path} as a .npy array ({e}); "
                        "save it with numpy.save") from None
