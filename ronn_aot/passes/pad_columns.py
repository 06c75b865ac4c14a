"""O3: a constant matmul weight whose column count no 8-wide vector divides gets zero columns.

The dense rule's register tiles divide N (schedules/cpu/dense.py: odd sizes get smaller tiles,
never predicated ones), so a classifier over 8,210 characters (2 x 5 x 821) ran 10-wide vectors.
Padding the constant weight [K, N] to a multiple of PAD_TO columns and slicing the product back
to N keeps full vectors; the slice fuses into the matmul's epilogue. The padding costs at most
PAD_TO - 1 columns of weights and work, so only weights wide enough for that to be small are
padded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import register_pass
from ._rewrite import Rule, const, const_array, dtype_of, rule_pass, static_shape

PAD_TO = 16  # one AVX-512 vector of float32, two of AVX2 or NEON
FULL_VECTOR = 8  # columns a multiple of this already run whole AVX2 / NEON-pair vectors
MIN_COLUMNS = 16 * PAD_TO  # below this the padding is a noticeable share of the work


def _pad_columns(_func: Any, _mod: Any) -> Rule:
    from tvm import relax
    from tvm.relax.dpl import is_const, is_op, wildcard

    pattern = is_op("relax.matmul")(wildcard(), is_const())

    def rewrite(expr: Any, _m: dict[Any, Any]) -> Any:
        data, weight = expr.args
        w = const_array(weight)
        shape = static_shape(data)
        if (w is None or w.ndim != 2 or shape is None or len(shape) < 2 or dtype_of(weight) != "float32"
                or dtype_of(data) != "float32"):
            return expr
        k, n = w.shape
        if n % FULL_VECTOR == 0 or n < MIN_COLUMNS:
            return expr
        padded = np.zeros((k, -(-n // PAD_TO) * PAD_TO), np.float32)
        padded[:, :n] = w
        product = relax.op.matmul(data, const(padded))
        return relax.op.strided_slice(product, axes=[len(shape) - 1], begin=[0], end=[n])

    return pattern, rewrite


@register_pass("pad_matmul_columns", 3, order=58, targets=("x86_64", "aarch64"))
def pad_matmul_columns() -> Any:
    """Pad a constant matmul weight's columns to a multiple of 16 (full vectors), slicing back."""
    return rule_pass("pad_matmul_columns", [_pad_columns])
