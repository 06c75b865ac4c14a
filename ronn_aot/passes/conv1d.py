"""O2: 1-D convolutions run as 2-D convolutions of height 1.

Conv1d (NCW data, OIW weights) becomes expand_dims -> conv2d (NCHW, OIHW, H = 1) -> squeeze, so
the conv2d layout conversion, weight packing and schedule rules (schedules/cpu/conv2d_*.py) apply
to it; there is no conv1d rule, and TVM's default conv1d kernel is a scalar loop nest. The weight's
expand_dims is a constant expression that the next fold_constant round applies. On Silero VAD (an
STFT conv1d of 258 filters x 256 taps, then four small conv1d layers) the conv1d kernels took 97%
of a run.
"""

from __future__ import annotations

from typing import Any

from ._registry import register_pass
from ._rewrite import Rule, rule_pass, static_shape


def _conv1d_as_conv2d(_func: Any, _mod: Any) -> Rule:
    from tvm import relax
    from tvm.relax.dpl import is_op, wildcard

    pattern = is_op("relax.nn.conv1d")(wildcard(), wildcard())

    def rewrite(expr: Any, _m: dict[Any, Any]) -> Any:
        a = expr.attrs
        if str(a.data_layout) != "NCW" or str(a.kernel_layout) != "OIW" or str(a.out_layout) != "NCW":
            return expr
        data, weight = expr.args
        if static_shape(data) is None or static_shape(weight) is None:
            return expr
        (stride,), (dilation,) = (int(v) for v in a.strides), (int(v) for v in a.dilation)
        left, right = (int(v) for v in a.padding)
        out_dtype = a.out_dtype if a.out_dtype is not None and str(a.out_dtype) not in ("", "void") else None
        conv = relax.op.nn.conv2d(
            relax.op.expand_dims(data, 2), relax.op.expand_dims(weight, 2),
            strides=(1, stride), padding=(0, left, 0, right), dilation=(1, dilation),
            groups=int(a.groups), data_layout="NCHW", kernel_layout="OIHW", out_dtype=out_dtype)
        return relax.op.squeeze(conv, [2])

    return pattern, rewrite


@register_pass("conv1d_as_conv2d", 2, order=30)
def conv1d_as_conv2d() -> Any:
    """Run Conv1d as a height-1 Conv2d, so the 2-D layouts, weight packing and schedules apply."""
    return rule_pass("conv1d_as_conv2d", [_conv1d_as_conv2d])
