"""Helpers shared by our own Relax passes: static shapes, constants, and a pass built from
pattern rules (tvm.relax.dpl)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

Rewriter = Callable[[Any, dict[Any, Any]], Any]  # (matched expr, matches) -> replacement
Rule = tuple[Any, Rewriter]  # (DFPattern, rewriter)
RuleFactory = Callable[[Any, Any], Rule]  # called with the current relax.Function and IRModule


def static_shape(expr: Any) -> tuple[int, ...] | None:
    """The static shape of a tensor-typed expression, or None when unknown or symbolic."""
    from tvm import relax

    ty = getattr(expr, "ty", None)
    if not isinstance(ty, relax.TensorType) or ty.shape is None:
        return None
    dims = []
    for d in ty.shape.values:
        if not hasattr(d, "value"):
            return None
        dims.append(int(d.value))
    return tuple(dims)


def shape_values(shape_expr: Any) -> tuple[int, ...] | None:
    """The integer values of a relax.ShapeExpr, or None when any is symbolic."""
    try:
        return tuple(int(v.value) for v in shape_expr.values)
    except AttributeError:
        return None


def dtype_of(expr: Any) -> str | None:
    ty = getattr(expr, "ty", None)
    return str(ty.dtype) if ty is not None and hasattr(ty, "dtype") else None


def const_array(expr: Any) -> np.ndarray | None:
    """The value of a Relax constant as a numpy array, or None when `expr` is not a constant."""
    import tvm

    return expr.value.numpy() if isinstance(expr, tvm.ir.GenericConst) else None


def const(arr: np.ndarray) -> Any:
    from tvm import relax

    return relax.const(np.array(arr, order="C"))  # (ascontiguousarray would make 0-d arrays 1-d)


def use_counts(func: Any) -> dict[Any, int]:
    """How many times each variable of `func` is used (bindings and the function's result)."""
    from tvm import relax
    from tvm.relax.expr_functor import PyExprVisitor, visitor

    counts: dict[Any, int] = {}

    @visitor
    class _Counter(PyExprVisitor):  # type: ignore[misc]
        def visit_var_(self, var: Any) -> None:
            counts[var] = counts.get(var, 0) + 1

        def visit_dataflow_var_(self, var: Any) -> None:
            counts[var] = counts.get(var, 0) + 1

    if isinstance(func, relax.Function):
        _Counter().visit_expr(func.body)
    return counts


def rule_pass(name: str, rules: Sequence[RuleFactory]) -> Any:
    """A Relax function pass that applies pattern rules, in order, each until it no longer matches.

    Each rule factory is called with the function as it stands before that rule runs and the
    module (so a rule can look at use counts, bindings or callees) and returns (pattern, rewriter); a rewriter returns the
    replacement, or the matched expression itself when the rule does not apply after all.
    """
    import tvm
    from tvm import relax
    from tvm.relax.dpl import rewrite_call

    def transform(func: Any, mod: Any, _ctx: Any) -> Any:
        if not isinstance(func, relax.Function) or _is_primitive(func):
            return func
        for make_rule in rules:
            pattern, rewriter = make_rule(func, mod)
            func = rewrite_call(pattern, rewriter, func)
        return func

    return tvm.relax.transform.function_pass(transform, opt_level=0, name=name)


def _is_primitive(func: Any) -> bool:
    attrs = func.attrs
    return attrs is not None and "Primitive" in attrs.keys() and int(attrs["Primitive"]) != 0


def mutator_pass(name: str, mutator_cls: Any) -> Any:
    """A module pass that runs a relax PyExprMutator class (made with @mutator) over every Relax
    function of the module; the mutator's builder collects any PrimFuncs it emits (call_te)."""
    import tvm
    from tvm import relax

    @tvm.transform.module_pass(opt_level=0, name=name)
    def transform(mod: Any, _ctx: Any) -> Any:
        rewriter = mutator_cls(mod)
        for gv, func in mod.functions_items():
            if isinstance(func, relax.Function):
                rewriter.builder_.update_func(gv, rewriter.visit_expr(func))
        return rewriter.builder_.get()

    return transform
