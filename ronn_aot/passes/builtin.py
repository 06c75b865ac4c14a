"""The built-in passes. Each is one line of registration around a TVM Relax pass."""

from __future__ import annotations

from typing import Any

from . import register_pass


def _relax() -> Any:
    from tvm import relax

    return relax.transform


@register_pass("fold_constant", 1, order=10)
def fold_constant() -> Any:
    return _relax().FoldConstant()


@register_pass("eliminate_common_subexpr", 1, order=20)
def eliminate_common_subexpr() -> Any:
    return _relax().EliminateCommonSubexpr()


@register_pass("dead_code_elimination", 1, order=30)
def dead_code_elimination() -> Any:
    return _relax().DeadCodeElimination()


@register_pass("fold_constant_tir", 1, phase="fuse", order=10)
def fold_constant_tir() -> Any:
    # After legalization constant subgraphs are TIR calls; FoldConstant evaluates them at compile time.
    return _relax().FoldConstant()


@register_pass("fuse_ops", 2, phase="fuse", order=20)
def fuse_ops() -> Any:
    return _relax().FuseOps()


@register_pass("fuse_tir", 2, phase="fuse", order=30)
def fuse_tir() -> Any:
    return _relax().FuseTIR()


@register_pass("dead_code_elimination_tir", 1, phase="fuse", order=40)
def dead_code_elimination_tir() -> Any:
    return _relax().DeadCodeElimination()
