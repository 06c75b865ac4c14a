"""Stage 1, import: load and validate an ONNX model, fix its input shapes, and import it into
Relax with TVM's ONNX frontend."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import onnx

from ..errors import CompilationError, InvalidModelError, RonnError, ShapeError, UnsupportedOperatorError
from .onnx_fold import fold_shape_arithmetic
from .onnx_functions import expand_functions

# Graph-input element types the artifact ABI can carry.
_ONNX_DTYPES = {
    onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64",
    onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.INT8: "int8",
    onnx.TensorProto.INT16: "int16", onnx.TensorProto.INT32: "int32",
    onnx.TensorProto.INT64: "int64", onnx.TensorProto.UINT8: "uint8",
    onnx.TensorProto.UINT16: "uint16", onnx.TensorProto.UINT32: "uint32",
    onnx.TensorProto.UINT64: "uint64", onnx.TensorProto.BFLOAT16: "bfloat16",
    onnx.TensorProto.BOOL: "bool",
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass
class ImportedModel:
    """A validated model with static input shapes, and its Relax module."""

    onnx_model: onnx.ModelProto
    inputs: list[TensorSpec]
    outputs: list[str]
    opset: int
    mod: Any  # tvm.IRModule


def load_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """Read a model from a path (or take a ModelProto) and run onnx's checker on it."""
    if isinstance(model, onnx.ModelProto):
        proto = model
    else:
        path = Path(model)
        if not path.is_file():
            raise InvalidModelError(f"model file {path} does not exist")
        try:
            proto = onnx.load(str(path))
        except Exception as e:  # protobuf raises several unrelated types on garbage input
            raise InvalidModelError(f"{path} is not a readable ONNX model ({e}); "
                                    "export it again with onnx or torch.onnx") from e
    if not proto.graph.node:
        raise InvalidModelError("the model's graph has no nodes; nothing to compile")
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as e:
        raise InvalidModelError(f"the model fails onnx's checker: {str(e).strip().splitlines()[0]}; "
                                "fix or re-export the model") from e
    except UnicodeDecodeError as e:  # the checker decodes names and strings as it reads them
        raise InvalidModelError(f"the model holds a name or string that is not valid UTF-8 ({e}); "
                                "the file is corrupted or was not written by an ONNX exporter") from e
    _check_initializers(proto)
    return proto


def _check_initializers(model: onnx.ModelProto) -> None:
    """Every initializer's data must match its dims and type (the checker does not look): the
    graph passes read them with numpy_helper, which would fail deep inside a pass instead."""
    from onnx import numpy_helper

    for init in model.graph.initializer:
        try:
            numpy_helper.to_array(init)
        except Exception as e:  # onnx raises ValueError, TypeError or KeyError by what is wrong
            raise InvalidModelError(
                f"initializer {init.name!r} (dims {list(init.dims)}, element type "
                f"{_elem_type_name(init.data_type)}) does not hold data of that shape and type ({e}); "
                "the file is corrupted: export the model again") from e


def opset_of(model: onnx.ModelProto) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def resolve_input_specs(model: onnx.ModelProto,
                        overrides: Mapping[str, tuple[int, ...]]) -> list[TensorSpec]:
    """Static shape and dtype of every graph input; symbolic dims must be given in `overrides`."""
    inputs = _graph_inputs(model)
    names = [i.name for i in inputs]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ShapeError(f"--input-shape names {', '.join(map(repr, unknown))}, which the model "
                         f"does not have; its inputs are: {', '.join(map(repr, names))}")
    specs = []
    for vi in inputs:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise InvalidModelError(f"input {vi.name!r} is not a tensor; only tensor inputs are supported")
        dtype = _ONNX_DTYPES.get(tt.elem_type)
        if dtype is None:
            raise InvalidModelError(
                f"input {vi.name!r} has element type {_elem_type_name(tt.elem_type)}, "
                f"which the runtime cannot take; supported: {sorted(set(_ONNX_DTYPES.values()))}")
        declared = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                    for d in tt.shape.dim]
        if vi.name in overrides:
            shape = overrides[vi.name]
            if tt.HasField("shape") and len(shape) != len(declared):
                raise ShapeError(f"--input-shape {vi.name}= gives {len(shape)} dims but the input "
                                 f"has rank {len(declared)} ({_fmt(declared)})")
            for i, (given, decl) in enumerate(zip(shape, declared)):
                if isinstance(decl, int) and decl > 0 and decl != given:
                    raise ShapeError(f"--input-shape {vi.name}: dimension {i} is fixed to {decl} "
                                     f"by the model, got {given}")
        else:
            if not tt.HasField("shape"):
                raise ShapeError(f"input {vi.name!r} has no shape; give one with "
                                 f"--input-shape {vi.name}=D0,D1,...")
            for i, d in enumerate(declared):
                if not isinstance(d, int) or d <= 0:
                    what = f"symbolic dimension '{d}'" if d else "an unknown dimension"
                    raise ShapeError(
                        f"input {vi.name!r} has {what} at index {i} (shape {_fmt(declared)}); "
                        f"fix it with --input-shape {vi.name}="
                        + ",".join(str(x) if isinstance(x, int) and x > 0 else "N" for x in declared))
            shape = tuple(int(d) for d in declared)  # type: ignore[arg-type]
        specs.append(TensorSpec(vi.name, dtype, tuple(shape)))
    return specs


def _elem_type_name(code: int) -> str:
    """onnx's name of an element type code, or the number when onnx has none (a corrupted model)."""
    try:
        return str(onnx.TensorProto.DataType.Name(code))
    except ValueError:
        return f"{code} (not an ONNX element type)"


def _fmt(dims: list[Any]) -> str:
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


def _with_static_inputs(model: onnx.ModelProto, specs: list[TensorSpec]) -> onnx.ModelProto:
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    by_name = {s.name: s for s in specs}
    for vi in fixed.graph.input:
        if vi.name in by_name:
            dims = vi.type.tensor_type.shape.dim
            del dims[:]
            for d in by_name[vi.name].shape:
                dims.add().dim_value = d
    # Intermediate value_info may carry stale symbolic dims; shape inference recomputes them.
    del fixed.graph.value_info[:]
    return fixed


def supported_operators(opset: int) -> set[str]:
    """Standard-domain operators that our converters or TVM's ONNX frontend convert."""
    from tvm.relax.frontend.onnx.onnx_frontend import _get_convert_map

    from ..converters import registered_ops

    return set(_get_convert_map()) | registered_ops(opset) | {"Constant", "If"}


# Element types onnx has that no kernel or artifact here can hold.
_UNSUPPORTED_TYPES = {t for t in onnx.TensorProto.DataType.values()
                      if t not in _ONNX_DTYPES and t != onnx.TensorProto.UNDEFINED}


def check_dtypes(model: onnx.ModelProto) -> None:
    """Fail early, naming the node, for tensors of an element type that ronn-aot cannot compute in
    (float8, float4, int4/uint4, int2, string, complex): a clear refusal, not a failure deep inside."""
    types = {vi.name: vi.type.tensor_type.elem_type
             for vi in list(model.graph.value_info) + list(model.graph.output) + list(model.graph.input)
             if vi.type.HasField("tensor_type")}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    opset = opset_of(model)
    for node in model.graph.node:
        named = [(n, types.get(n)) for n in list(node.input) + list(node.output) if n]
        cast_to = [a.i for a in node.attribute if a.name == "to" and node.op_type == "Cast"]
        bad = [(n, t) for n, t in named + [("to", t) for t in cast_to] if t in _UNSUPPORTED_TYPES]
        if bad:
            name, t = bad[0]
            raise UnsupportedOperatorError(
                node.op_type, node.name, opset,
                f"{name!r} has element type {onnx.TensorProto.DataType.Name(t)}, which ronn-aot cannot "
                f"compute in (supported: {', '.join(sorted(set(_ONNX_DTYPES.values())))}); convert the "
                f"model to one of those types")


def check_required_inputs(model: onnx.ModelProto) -> None:
    """An empty input name means "omitted", which only optional inputs may be: onnx's checker lets
    `Concat(t, "")` through, and TVM's importer then crashes the process on the missing tensor."""
    opset = opset_of(model)
    optional = onnx.defs.OpSchema.FormalParameterOption.Optional
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or all(node.input):
            continue
        try:
            formals = onnx.defs.get_schema(node.op_type, opset, "").inputs
        except onnx.defs.SchemaError:
            continue  # check_operators names unknown operators
        for i, name in enumerate(node.input):
            if not name and formals and formals[min(i, len(formals) - 1)].option != optional:
                formal = formals[min(i, len(formals) - 1)].name
                raise InvalidModelError(
                    f"node {node.name or node.output[0] if node.output else node.op_type!r} ({node.op_type}): "
                    f"input {i} ({formal}) is empty, but only optional inputs may be omitted; fix or "
                    "re-export the model")


def check_operators(model: onnx.ModelProto) -> None:
    """Fail early, naming the node, for operators neither our converters nor TVM's ONNX frontend
    can convert."""
    opset = opset_of(model)
    supported = supported_operators(opset)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or node.op_type not in supported:
            op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
            raise UnsupportedOperatorError(op, node.name, opset)


def import_model(model: str | Path | onnx.ModelProto,
                 input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> ImportedModel:
    """Load, validate and import `model` into a Relax IRModule with static shapes."""
    proto = load_model(model)
    specs = resolve_input_specs(proto, input_shapes or {})
    proto = _with_static_inputs(proto, specs)
    try:
        proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except Exception as e:
        raise ShapeError(f"onnx shape inference failed with the given input shapes: "
                         f"{str(e).strip().splitlines()[-1]}") from e
    proto = expand_functions(proto, opset_of(proto), supported_operators(opset_of(proto)))
    check_dtypes(proto)
    check_required_inputs(proto)
    proto = fold_shape_arithmetic(proto)
    check_operators(proto)

    from tvm.relax.frontend.onnx import from_onnx

    from ..converters import converters_installed

    try:
        with converters_installed(opset_of(proto)):
            mod = from_onnx(proto, shape_dict={s.name: list(s.shape) for s in specs},
                            dtype_dict={s.name: s.dtype for s in specs}, opset=opset_of(proto),
                            keep_params_in_input=False)
    except RonnError:  # a converter of ours refused the node, with its own message
        raise
    except Exception as e:
        text = str(e).strip()
        # TVM prefixes the converter's error with "Error converting operator Conv, with inputs: ..."
        node = re.search(r"Error converting operator (\w+)", text)
        raise CompilationError(
            f"TVM's ONNX frontend could not import the model"
            + (f" at its {node.group(1)} node" if node else "")
            + f": {text.splitlines()[-1] if text else type(e).__name__}. Mismatched shapes or "
            "attributes in the model cause this; if onnxruntime runs the model, it is a ronn-aot bug: "
            "please report it with the model") from e
    outputs = [o.name for o in proto.graph.output]
    return ImportedModel(proto, specs, outputs, opset_of(proto), mod)


def reference_inputs(specs: list[TensorSpec], seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random inputs matching `specs` (for demos, benchmarks and checks)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for s in specs:
        if s.dtype.startswith("float"):
            feeds[s.name] = rng.standard_normal(s.shape).astype(s.dtype)
        elif s.dtype == "bool":
            feeds[s.name] = rng.integers(0, 2, s.shape).astype(bool)
        else:
            feeds[s.name] = rng.integers(0, 2, s.shape).astype(s.dtype)
    return feeds
