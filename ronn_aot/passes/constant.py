"""O1: constant folding with numpy for the common cheap ops.

TVM's FoldConstant evaluates each constant call by building a kernel with LLVM (tens of ms per
distinct op and shape): EfficientNet-Lite0's 66 `where(isnan(c), inf, c)` clip bounds and O3's
weight transposes cost it seconds. This pass evaluates the ops below with numpy first and inlines
constants into their uses; TVM's fold_constant (run next) handles whatever is left.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._registry import register_pass
from ._rewrite import const_array, shape_values


def _attr_axes(call: Any) -> list[int] | None:
    axes = call.attrs.axes
    return None if axes is None else [int(a) for a in axes]


# op name -> f(call, numpy args) -> value. A value whose dtype or shape differs from what Relax
# inferred for the call (numpy's type promotion, integer division) is not used.
_FOLDERS: dict[str, Callable[[Any, list[Any]], np.ndarray | None]] = {
    "relax.isnan": lambda c, a: np.isnan(a[0]),
    "relax.where": lambda c, a: np.where(a[0], a[1], a[2]),
    "relax.add": lambda c, a: a[0] + a[1],
    "relax.subtract": lambda c, a: a[0] - a[1],
    "relax.multiply": lambda c, a: a[0] * a[1],
    "relax.divide": lambda c, a: a[0] / a[1],
    "relax.maximum": lambda c, a: np.maximum(a[0], a[1]),
    "relax.minimum": lambda c, a: np.minimum(a[0], a[1]),
    "relax.sqrt": lambda c, a: np.sqrt(a[0]),
    "relax.negative": lambda c, a: -a[0],
    "relax.astype": lambda c, a: a[0].astype(str(c.attrs.dtype)),
    "relax.reshape": lambda c, a: a[0].reshape(a[1]),
    "relax.broadcast_to": lambda c, a: np.broadcast_to(a[0], a[1]),
    "relax.permute_dims": lambda c, a: np.transpose(a[0], _attr_axes(c)),
    "relax.expand_dims": lambda c, a: np.expand_dims(a[0], tuple(int(x) for x in c.attrs.axis)),
}


def _result_matches(call: Any, value: np.ndarray) -> bool:
    """The numpy result has exactly the dtype and shape Relax inferred for the call."""
    from tvm import relax

    ty = call.ty
    if not isinstance(ty, relax.TensorType) or ty.shape is None:
        return False
    shape = shape_values(ty.shape)
    return shape == tuple(value.shape) and str(ty.dtype) == str(value.dtype)


def _evaluate(folder: Callable[[Any, list[Any]], Any], call: Any, values: list[Any]) -> np.ndarray | None:
    """The folded value, or None where numpy refuses (the call is then left to TVM's FoldConstant)."""
    try:
        with np.errstate(all="ignore"):
            return np.array(folder(call, values), order="C")
    except (ValueError, TypeError, AttributeError):
        return None


def _numpy_fold_pass() -> Any:
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class _Folder(PyExprMutator):  # type: ignore[misc]
        def _arg(self, e: Any) -> Any:
            if isinstance(e, relax.Var):
                bound = self.lookup_binding(e)
                if isinstance(bound, tvm.ir.GenericConst):
                    return bound
            return e

        def visit_call_(self, call: Any) -> Any:
            call = super().visit_call_(call)
            if not isinstance(call.op, tvm.ir.Op):
                return call
            args = [self._arg(a) for a in call.args]
            folder = _FOLDERS.get(call.op.name)
            if folder is not None:
                values = []
                for a in args:
                    v = const_array(a)
                    if v is None and isinstance(a, relax.ShapeExpr):
                        v = shape_values(a)
                    if v is None:
                        break
                    values.append(v)
                else:
                    result = _evaluate(folder, call, values)
                    if result is not None and _result_matches(call, result):
                        return relax.const(result, str(result.dtype))
            if any(not a.same_as(b) for a, b in zip(args, call.args)):
                return relax.Call(call.op, args, call.attrs, call.ty_args)
            return call

    def transform(func: Any, mod: Any, _ctx: Any) -> Any:
        if not isinstance(func, relax.Function):
            return func
        return _Folder(mod).visit_expr(func)

    return relax.transform.function_pass(transform, opt_level=0, name="fold_constant_numpy")


@register_pass("fold_constant_numpy", 1, order=5)
def fold_constant_numpy() -> Any:
    """Evaluate cheap constant expressions (elementwise, reshape, transpose) with numpy."""
    return _numpy_fold_pass()
