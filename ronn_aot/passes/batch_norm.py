"""O2: inference BatchNormalization folded away at compile time.

`y = (x - mean) / sqrt(var + eps) * gamma + beta` is `x * s + t` with per-channel constants
s = gamma / sqrt(var + eps) and t = beta - mean * s. When x is produced by a convolution
(OIHW weights, NCHW data, optionally + a constant bias) or a matmul with a constant weight, and
nothing else reads x, s is multiplied into the weights and t becomes the bias: the batch norm
disappears. Any other inference batch norm becomes `x * s + t`, two elementwise ops that FuseOps
folds into the producing kernel's epilogue. Constants are computed with numpy here, so no
FoldConstant round is needed afterwards.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import register_pass
from ._rewrite import Rule, const, const_array, dtype_of, rule_pass, static_shape, use_counts


def _scale_shift(bn: Any) -> tuple[np.ndarray, np.ndarray] | None:
    gamma, beta, mean, var = (const_array(a) for a in bn.args[1:5])
    if gamma is None or beta is None or mean is None or var is None:
        return None
    a = bn.attrs
    if bool(a.training):
        return None
    if not bool(a.scale):
        gamma = np.ones_like(gamma)
    if not bool(a.center):
        beta = np.zeros_like(beta)
    s = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + float(a.epsilon))
    t = beta.astype(np.float64) - mean.astype(np.float64) * s
    return s, t


def _fold_into_producer(x: Any, bindings: dict[Any, Any], var_of: dict[Any, Any], uses: dict[Any, int],
                        s: np.ndarray, t: np.ndarray, axis: int) -> Any | None:
    """conv2d/matmul(+bias) producing `x` with s folded into its weights and t into its bias.

    `x` is a variable or (as the pattern matcher hands it over) the value bound to one; the
    producer is rewritten only when the batch norm is its one user.
    """
    import tvm
    from tvm import relax

    def single_use_value(e: Any) -> Any:
        var = e if isinstance(e, relax.Var) else var_of.get(e)
        return bindings.get(var) if var is not None and uses.get(var, 0) == 1 else None

    producer = single_use_value(x)
    ndim = len(static_shape(x) or ())
    bias = np.zeros_like(t)
    if isinstance(producer, relax.Call) and producer.op.same_as(tvm.ir.Op.get("relax.add")):
        b = const_array(producer.args[1])
        if b is None or b.size != t.size:
            return None
        bias = b.reshape(-1).astype(np.float64)
        producer = single_use_value(producer.args[0])
    if not isinstance(producer, relax.Call) or not isinstance(producer.op, tvm.ir.Op):
        return None
    weight = const_array(producer.args[1]) if len(producer.args) > 1 else None
    if weight is None or weight.dtype != np.float32:
        return None
    name = producer.op.name
    if name == "relax.nn.conv2d":
        at = producer.attrs
        if (str(at.data_layout) != "NCHW" or str(at.kernel_layout) != "OIHW" or str(at.out_layout) != "NCHW"
                or axis != 1 or weight.shape[0] != t.size or str(at.out_dtype or "float32") != "float32"):
            return None
        new_w = weight * s.reshape(-1, 1, 1, 1)
        out = relax.Call(producer.op, [producer.args[0], const(new_w.astype(np.float32))], producer.attrs)
        bias_shape = (1, t.size, 1, 1)
    elif name == "relax.matmul":
        if weight.ndim != 2 or axis != ndim - 1 or weight.shape[1] != t.size:
            return None
        new_w = weight * s.reshape(1, -1)
        out = relax.op.matmul(producer.args[0], const(new_w.astype(np.float32)))
        bias_shape = (t.size,)
    else:
        return None
    return relax.op.add(out, const((bias * s + t).astype(np.float32).reshape(bias_shape)))


def _fold_batch_norm(func: Any, _mod: Any) -> Rule:
    from tvm import relax
    from tvm.relax.dpl import TupleGetItemPattern, is_const, is_op, wildcard

    bindings = relax.analysis.get_var2val(func)
    uses = use_counts(func)
    var_of = {value: var for var, value in bindings.items()}
    x = wildcard()
    bn = is_op("relax.nn.batch_norm")(x, is_const(), is_const(), is_const(), is_const())

    def rewrite(expr: Any, m: dict[Any, Any]) -> Any:
        data = m[x]
        shape = static_shape(data)
        st = _scale_shift(m[bn])
        if st is None or shape is None or dtype_of(data) != "float32":
            return expr
        s, t = st
        axis = int(m[bn].attrs.axis) % len(shape)
        folded = _fold_into_producer(data, bindings, var_of, uses, s, t, axis)
        if folded is not None:
            return folded
        bshape = [1] * len(shape)
        bshape[axis] = shape[axis]
        return relax.op.add(relax.op.multiply(data, const(s.astype(np.float32).reshape(bshape))),
                            const(t.astype(np.float32).reshape(bshape)))

    return TupleGetItemPattern(bn, 0), rewrite


@register_pass("fold_batch_norm", 2, order=40)
def fold_batch_norm() -> Any:
    """Fold inference BatchNormalization into the preceding Conv/Gemm weights, else into x*s+t."""
    return rule_pass("fold_batch_norm", [_fold_batch_norm])
