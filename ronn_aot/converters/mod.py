"""Mod of floats as onnx defines it: fmod=1 is C's fmod (the sign of the dividend), fmod=0 moves
the result into the divisor's sign as Python's % does (zero results take the divisor's sign).
TVM's converter computed x - floor(x / y) * y in the input type, which is NaN for an infinite
divisor (x - 0 * inf); here a finite x modulo an infinite y is x, and the quotient is truncated in
float64 (exact for float16/float32 inputs). TVM's LLVM backend has no fmod intrinsic. Integer Mod
goes to TVM's converter."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("Mod", opsets=(10, None))
def mod(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax, te, tirx

    x, y = inputs
    dtype = ctx.dtype(x)
    if not dtype.startswith("float"):
        if ctx.tvm_converter is None:
            raise ctx.refuse("integer Mod needs TVM's converter, which is missing")
        return ctx.tvm_converter(inputs)
    shape = tuple(int(d) for d in ctx.emit(relax.op.add(x, y)).ty.shape.values)  # the broadcast shape
    xb = ctx.emit(relax.op.broadcast_to(x, shape)) if ctx.shape(x) != shape else x
    yb = ctx.emit(relax.op.broadcast_to(y, shape)) if ctx.shape(y) != shape else y
    python_sign = not int(attrs.get("fmod", 0))
    zero = tirx.const(0, dtype)
    neg_zero = tirx.const(-0.0, dtype)

    def compute(a: Any, b: Any) -> Any:
        def body(*i: Any) -> Any:
            x64, y64 = a(*i).astype("float64"), b(*i).astype("float64")
            r = (x64 - tirx.trunc(x64 / y64) * y64).astype(dtype)
            r = tirx.Select(tirx.And(tirx.isinf(b(*i)), tirx.isfinite(a(*i))), a(*i), r)
            if not python_sign:
                return r
            y = b(*i)
            fix = tirx.Or(tirx.And(r < zero, y > zero), tirx.And(r > zero, y < zero))
            r = tirx.Select(fix, r + y, r)
            return tirx.Select(r == zero, tirx.Select(y < zero, neg_zero, zero), r)

        return te.compute(shape, body, name="fmod")

    return ctx.bb.emit_te(compute, xb, yb)
