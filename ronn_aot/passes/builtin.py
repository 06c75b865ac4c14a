"""The built-in passes that are TVM Relax passes as they are: one registration each.

Our own passes live beside this file, one concern per module (simplify.py, batch_norm.py,
layout.py).
"""

from __future__ import annotations

from typing import Any

from ._registry import register_pass


def _relax() -> Any:
    from tvm import relax

    return relax.transform


@register_pass("fold_constant", 1, order=10)
def fold_constant() -> Any:
    """Evaluate subgraphs whose inputs are all constants at compile time."""
    return _relax().FoldConstant()


@register_pass("canonicalize_bindings", 1, order=80)
def canonicalize_bindings() -> Any:
    """Replace variables bound to other variables (left by the rewrites) by their values."""
    return _relax().CanonicalizeBindings()


@register_pass("eliminate_common_subexpr", 1, order=85)
def eliminate_common_subexpr() -> Any:
    """Compute identical expressions once."""
    return _relax().EliminateCommonSubexpr()


@register_pass("dead_code_elimination", 1, order=90)
def dead_code_elimination() -> Any:
    """Drop bindings whose results nothing uses."""
    return _relax().DeadCodeElimination()


@register_pass("fold_constant_tir", 1, phase="fuse", order=10)
def fold_constant_tir() -> Any:
    """After legalization constant subgraphs are TIR calls; evaluate them at compile time."""
    return _relax().FoldConstant()


@register_pass("fuse_ops", 2, phase="fuse", order=20)
def fuse_ops() -> Any:
    """Group each kernel with the elementwise/broadcast/reduction ops around it (epilogues)."""
    return _relax().FuseOps()


@register_pass("fuse_tir", 2, phase="fuse", order=30)
def fuse_tir() -> Any:
    """Merge each group into one PrimFunc: one kernel per group."""
    return _relax().FuseTIR()


@register_pass("dead_code_elimination_tir", 1, phase="fuse", order=40)
def dead_code_elimination_tir() -> Any:
    """Drop PrimFuncs and bindings left unused by fusion."""
    return _relax().DeadCodeElimination()
