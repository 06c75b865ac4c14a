"""The converter registry: `@register_converter(op, opsets=(lo, hi))`, and the context manager that
puts the converters registered for a model's opset in front of TVM's ONNX frontend."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import RonnError, UnsupportedOperatorError

# A converter: (context, inputs, attributes) -> a Relax expression (a Tuple for several outputs).
# `inputs` holds one Relax expression per ONNX input, None where the input is omitted.
ConverterFn = Callable[["ConvertContext", list[Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class ConverterInfo:
    op_type: str
    opsets: tuple[int, int | None]  # inclusive range of model opsets; None: no upper bound
    fn: ConverterFn

    def covers(self, opset: int) -> bool:
        lo, hi = self.opsets
        return lo <= opset and (hi is None or opset <= hi)


@dataclass
class ConvertContext:
    """What a converter knows about the node it converts."""

    bb: Any  # tvm.relax.BlockBuilder
    op_type: str
    node_name: str
    opset: int
    # TVM's own converter of this node (inputs -> Relax, with the node's attributes), or None
    # where TVM has none: for converters that fix some attribute combinations and delegate the rest.
    tvm_converter: Callable[[list[Any]], Any] | None = None

    def emit(self, expr: Any) -> Any:
        """Bind `expr` to a new variable (so that reusing it does not recompute it)."""
        return self.bb.emit(expr)

    def refuse(self, detail: str) -> UnsupportedOperatorError:
        """The error for an attribute combination this converter does not handle."""
        return UnsupportedOperatorError(self.op_type, self.node_name, self.opset, detail)

    @staticmethod
    def constant(expr: Any) -> np.ndarray | None:
        """The value of `expr` if it is a compile-time constant, else None."""
        import tvm

        if isinstance(expr, tvm.ir.GenericConst) and hasattr(expr.value, "numpy"):
            return np.asarray(expr.value.numpy())
        return None

    @staticmethod
    def shape(expr: Any) -> tuple[int, ...]:
        """The static shape of a tensor expression (import fixes every input shape)."""
        return tuple(int(d) for d in expr.ty.shape.values)

    @staticmethod
    def dtype(expr: Any) -> str:
        return str(expr.ty.dtype)


_REGISTRY: dict[str, list[ConverterInfo]] = {}


def register_converter(op_type: str, opsets: tuple[int, int | None] = (1, None)
                       ) -> Callable[[ConverterFn], ConverterFn]:
    """Register `fn` as the converter of ONNX `op_type` for models whose opset is in `opsets`
    (inclusive; None: no upper bound). Registered converters take precedence over TVM's."""
    lo, hi = opsets
    if lo < 1 or (hi is not None and hi < lo):
        raise RonnError(f"converter {op_type}: invalid opset range {opsets!r}")

    def wrap(fn: ConverterFn) -> ConverterFn:
        entries = _REGISTRY.setdefault(op_type, [])
        clash = [e for e in entries if _overlap(e.opsets, opsets)]
        if clash:
            raise RonnError(f"converter {op_type} for opsets {opsets} overlaps the one registered for "
                            f"{clash[0].opsets} ({clash[0].fn.__module__}); unregister it first")
        entries.append(ConverterInfo(op_type, (lo, hi), fn))
        return fn

    return wrap


def unregister_converter(op_type: str) -> None:
    """Remove every converter registered for `op_type` (TVM's frontend converts it again)."""
    _REGISTRY.pop(op_type, None)


def _overlap(a: tuple[int, int | None], b: tuple[int, int | None]) -> bool:
    inf = 1 << 30
    return a[0] <= (b[1] or inf) and b[0] <= (a[1] or inf)


def converter_for(op_type: str, opset: int) -> ConverterInfo | None:
    """Our converter for `op_type` in a model of `opset`, or None (TVM's frontend converts it)."""
    return next((e for e in _REGISTRY.get(op_type, []) if e.covers(opset)), None)


def registered_ops(opset: int) -> set[str]:
    """The ONNX op types our registry converts at `opset`."""
    return {op for op in _REGISTRY if converter_for(op, opset) is not None}


def _decoded(value: Any) -> Any:
    """Attribute strings as str (the frontend leaves them bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, tuple) and value and isinstance(value[0], bytes):
        return tuple(v.decode() for v in value)
    return value


def _adapter(info: ConverterInfo, opset: int, tvm_class: Any) -> type:
    """An OnnxOpConverter subclass calling `info.fn`, shaped as TVM's frontend expects."""
    from tvm.relax.frontend.onnx.onnx_frontend import OnnxOpConverter, onnx_input

    def impl(cls: type, bb: Any, inputs: Any, attr: dict[str, Any], params: Any) -> Any:
        name = attr.get("tvm_custom", {}).get("name", "") or f"<{info.op_type}>"
        attrs = {k: _decoded(v) for k, v in attr.items() if k != "tvm_custom"}
        tvm_converter = None
        if tvm_class is not None:
            def tvm_converter(ins: list[Any]) -> Any:
                wrapped = onnx_input()  # TVM's converters read missing trailing inputs as None
                for i in ins:
                    wrapped.append(i)
                return tvm_class.get_converter(opset)(bb, wrapped, dict(attr), params)
        return info.fn(ConvertContext(bb, info.op_type, name, opset, tvm_converter), list(inputs), attrs)

    return type(f"Ronn{info.op_type}", (OnnxOpConverter,), {"_impl_v1": classmethod(impl)})


@contextlib.contextmanager
def converters_installed(opset: int) -> Iterator[None]:
    """For the duration of the block, TVM's ONNX frontend converts the ops our registry covers
    at `opset` with our converters (its `_get_convert_map` is patched, then restored)."""
    from tvm.relax.frontend.onnx import onnx_frontend

    original = onnx_frontend._get_convert_map
    tvm_map = original()
    ours = {op: _adapter(info, opset, tvm_map.get(op)) for op in _REGISTRY if (info := converter_for(op, opset))}

    def merged() -> dict[str, Any]:
        return {**original(), **ours}

    onnx_frontend._get_convert_map = merged
    try:
        yield
    finally:
        onnx_frontend._get_convert_map = original
