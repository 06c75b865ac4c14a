"""ReduceMax and ReduceMin of floats with onnx's identities, -inf and +inf.

TVM's reductions start from the lowest (highest) finite value, so the max of a row that is all
-inf comes out -3.4e38, not -inf: onnx's Attention definition tests `max == -inf` to find fully
masked rows and zero them, and got NaN rows instead; a reduction over an empty axis gave a finite
number too. Integer reductions, and axes computed at run time, go to TVM's converter.
"""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter


@register_converter("ReduceMax", opsets=(1, None))
def reduce_max(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    return _reduce(ctx, inputs, attrs, largest=True)


@register_converter("ReduceMin", opsets=(1, None))
def reduce_min(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    return _reduce(ctx, inputs, attrs, largest=False)


def _reduce(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any], largest: bool) -> Any:
    from tvm import te, tirx

    x = inputs[0]
    dtype = ctx.dtype(x)
    if ctx.opset >= 18 and len(inputs) > 1 and inputs[1] is not None:
        value = ctx.constant(inputs[1])
        axes = None if value is None else [int(a) for a in value.reshape(-1)]
        computed = value is None
    else:
        axes = [int(a) for a in attrs["axes"]] if "axes" in attrs else None
        computed = False
    if dtype == "bool" and not computed:  # max = any, min = all: through int8, which TVM reduces
        from tvm import relax

        as_int = ctx.emit(relax.op.astype(x, "int8"))
        reduced = _reduce(ctx, [as_int, *inputs[1:]], attrs, largest)
        return relax.op.astype(ctx.emit(reduced), "bool")
    if not dtype.startswith("float") or computed:
        if ctx.tvm_converter is None:
            raise ctx.refuse("this form needs TVM's converter, which is missing")
        return ctx.tvm_converter(inputs)
    shape = ctx.shape(x)
    rank = len(shape)
    if not axes:
        if int(attrs.get("noop_with_empty_axes", 0)):
            return x
        axes = list(range(rank))
    axes = sorted({a % rank for a in axes})
    keep = bool(attrs.get("keepdims", 1))
    out_shape = [1 if d in axes else n for d, n in enumerate(shape) if keep or d not in axes]
    bound = float("-inf") if largest else float("inf")
    pick = tirx.max if largest else tirx.min
    reducer = te.comm_reducer(lambda a, b: pick(a, b), lambda t: tirx.const(bound, t), name="extreme")

    def compute(t: Any) -> Any:
        red = {d: te.reduce_axis((0, shape[d]), f"r{d}") for d in axes}

        def body(*idx: Any) -> Any:
            it = iter(idx)
            full = []
            for d in range(rank):
                if d in axes:
                    if keep:
                        next(it)
                    full.append(red[d])
                else:
                    full.append(next(it))
            return reducer(t(*full), axis=[red[d] for d in axes])

        return te.compute(out_shape, body, name="reduce_max" if largest else "reduce_min")

    return ctx.bb.emit_te(compute, x)
