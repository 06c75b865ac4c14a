"""O1 no-op removal and canonicalization, as Relax pattern rules.

TVM's ONNX frontend keeps what an inference graph does not need: inference-mode Dropout
(`R.nn.dropout(x)[0]`), Cast to the type a tensor already has, transposes that cancel,
`broadcast_to` a tensor's own shape, and the n-ary `Sum` as broadcast + stack + reduce (so a
residual `Sum` of two tensors becomes a reduction kernel that nothing fuses into).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import register_pass
from ._rewrite import Rule, dtype_of, rule_pass, shape_values, static_shape


def _axes(call: Any, ndim: int) -> list[int]:
    axes = call.attrs.axes
    return list(range(ndim))[::-1] if axes is None else [int(a) for a in axes]


def _drop_dropout(_func: Any, _mod: Any) -> Rule:
    from tvm.relax.dpl import TupleGetItemPattern, is_op, wildcard

    x = wildcard()
    return TupleGetItemPattern(is_op("relax.nn.dropout")(x), 0), lambda expr, m: m[x]


def _drop_same_type_cast(_func: Any, _mod: Any) -> Rule:
    from tvm.relax.dpl import is_op, wildcard

    x = wildcard()

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        return m[x] if dtype_of(m[x]) == str(expr.attrs.dtype) else expr

    return is_op("relax.astype")(x), rewrite


def _drop_same_shape_broadcast(_func: Any, _mod: Any) -> Rule:
    from tvm.relax.dpl import is_op, wildcard

    x = wildcard()

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        shape = static_shape(m[x])
        return m[x] if shape is not None and shape == shape_values(expr.args[1]) else expr

    return is_op("relax.broadcast_to")(x, wildcard()), rewrite


def _merge_transposes(_func: Any, _mod: Any) -> Rule:
    """permute_dims(permute_dims(x, p), q) -> permute_dims(x, p[q]), or x when that is identity;
    a lone identity permute_dims -> x."""
    from tvm import relax
    from tvm.relax.dpl import is_op, wildcard

    x = wildcard()
    inner = is_op("relax.permute_dims")(x)
    pattern = is_op("relax.permute_dims")(inner) | inner

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        src = m[x]
        shape = static_shape(src)
        if shape is None:
            return expr
        identity = list(range(len(shape)))
        if expr.same_as(m[inner]):
            return src if _axes(expr, len(shape)) == identity else expr
        p, q = _axes(m[inner], len(shape)), _axes(expr, len(shape))
        axes = [p[a] for a in q]
        return src if axes == identity else relax.op.permute_dims(src, axes)

    return pattern, rewrite


def _nary_sum_to_add(func: Any, _mod: Any) -> Rule:
    """sum(stack([broadcast_to(a, S), broadcast_to(b, S), ...], axis=0), axis=0) -> a + b + ...
    (ONNX Sum as TVM's frontend imports it); a term may have lost its broadcast_to already."""
    import tvm
    from tvm import relax
    from tvm.relax.dpl import is_op, wildcard

    bindings = relax.analysis.get_var2val(func)
    items = wildcard()
    stack = is_op("relax.stack")(items)
    broadcast_op = tvm.ir.Op.get("relax.broadcast_to")

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        shape = static_shape(expr)
        attrs = expr.attrs
        if (shape is None or attrs.keepdims or attrs.axis is None or [int(a) for a in attrs.axis] != [0]
                or int(m[stack].attrs.axis) != 0):
            return expr
        fields = bindings.get(m[items], m[items])
        if not isinstance(fields, relax.Tuple):
            return expr
        operands = []
        for field in fields.fields:
            value = bindings.get(field, field)
            broadcast = isinstance(value, relax.Call) and value.op.same_as(broadcast_op)
            operands.append(value.args[0] if broadcast else field)
        shapes = [static_shape(o) for o in operands]
        if (len(operands) < 2 or any(s is None for s in shapes)
                or len({dtype_of(o) for o in operands} | {dtype_of(expr)}) != 1
                or np.broadcast_shapes(*shapes) != shape):
            return expr
        out = operands[0]
        for o in operands[1:]:
            out = relax.op.add(out, o)
        return out

    return is_op("relax.sum")(stack), rewrite


def _te_binary_as_op(_func: Any, mod: Any) -> Rule:
    """call_tir(f, (x, y)) -> R.maximum(x, y) when f is exactly what `emit_te(topi.maximum, x, y)`
    builds (and likewise for minimum): how TVM's frontend imports Clip (opset >= 11). As Relax
    ops they are visible to constant folding, layout conversion and fusion."""
    import tvm
    import tvm_ffi
    from tvm import relax, te, topi
    from tvm.relax.dpl import is_op, wildcard

    ops = {"maximum": (topi.maximum, relax.op.maximum), "minimum": (topi.minimum, relax.op.minimum)}
    callee, args = wildcard(), wildcard()

    def placeholder(e: Any, name: str) -> Any:
        shape = static_shape(e)
        if shape is None:
            return None
        return te.placeholder([tvm.tirx.IntImm("int64", d) for d in shape], dtype_of(e), name)

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        gv, tup = m[callee], m[args]
        if not isinstance(gv, tvm.ir.GlobalVar) or not isinstance(tup, relax.Tuple) or len(tup.fields) != 2:
            return expr
        func = mod[gv] if gv in mod.get_global_vars() else None
        a, b = placeholder(tup.fields[0], "A"), placeholder(tup.fields[1], "B")
        if not isinstance(func, tvm.tirx.PrimFunc) or a is None or b is None:
            return expr
        for te_op, relax_op in ops.values():
            expected = te.create_prim_func([a, b, te_op(a, b)]).without_attr("global_symbol")
            if tvm_ffi.structural_equal(expected, func):
                return relax_op(tup.fields[0], tup.fields[1])
        return expr

    return is_op("relax.call_tir")(callee, args), rewrite


@register_pass("te_ops_to_relax", 1, order=12)
def te_ops_to_relax() -> Any:
    """Turn the frontend's TE-built max/min kernels (ONNX Clip) back into Relax ops."""
    return rule_pass("te_ops_to_relax", [_te_binary_as_op])


@register_pass("remove_noops", 1, order=15)
def remove_noops() -> Any:
    """Drop inference Dropout, same-type Cast, same-shape broadcast_to, cancelling transposes."""
    return rule_pass("remove_noops", [_drop_dropout, _drop_same_type_cast, _drop_same_shape_broadcast,
                                      _merge_transposes])


@register_pass("remove_redundant_reshape", 1, order=16)
def remove_redundant_reshape() -> Any:
    """Merge reshape chains and drop reshapes to the tensor's own shape (TVM's pass)."""
    from tvm.relax.transform import RemoveRedundantReshape

    return RemoveRedundantReshape()


@register_pass("nary_sum_to_add", 1, order=17)
def nary_sum_to_add() -> Any:
    """Rewrite ONNX Sum (imported as broadcast + stack + sum) as a chain of broadcasting adds."""
    return rule_pass("nary_sum_to_add", [_nary_sum_to_add])
