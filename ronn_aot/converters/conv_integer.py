"""ConvInteger and QLinearConv: an int32 convolution of the zero-point-shifted operands (padding
after the shift, so padded pixels contribute nothing, as onnx's reference pads), QLinearConv then
requantized like QLinearMatMul (per-output-channel weight scales and zero points, int32 bias).
1-D, 2-D and 3-D, every auto_pad, groups and dilations."""

from __future__ import annotations

from typing import Any

from ._registry import ConvertContext, register_converter
from .qlinear_matmul import round_half_even, saturate


def _shifted(ctx: ConvertContext, x: Any, zero_point: Any, channel_axis_shape: list[int] | None) -> Any:
    from tvm import relax

    wide = ctx.emit(relax.op.astype(x, "int32"))
    if zero_point is None:
        return wide
    zp = ctx.emit(relax.op.astype(zero_point, "int32"))
    if channel_axis_shape is not None and len(ctx.shape(zero_point)) == 1 and ctx.shape(zero_point)[0] > 1:
        zp = ctx.emit(relax.op.reshape(zp, channel_axis_shape))
    elif len(ctx.shape(zero_point)) == 1:
        zp = ctx.emit(relax.op.reshape(zp, []))
    return ctx.emit(relax.op.subtract(wide, zp))


def _padding(ctx: ConvertContext, attrs: dict[str, Any], spatial: tuple[int, ...], kernel: list[int],
             strides: list[int], dilations: list[int]) -> list[int]:
    d = len(spatial)
    auto_pad = str(attrs.get("auto_pad", "NOTSET"))
    if auto_pad in ("NOTSET", ""):
        return [int(p) for p in attrs.get("pads", [0] * (2 * d))]
    if auto_pad == "VALID":
        return [0] * (2 * d)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ctx.refuse(f"auto_pad={auto_pad!r}")
    begin, end = [], []
    for n, k, s, dl in zip(spatial, kernel, strides, dilations):
        total = max(0, (-(-n // s) - 1) * s + (k - 1) * dl + 1 - n)
        small, large = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else large)
        end.append(large if auto_pad == "SAME_UPPER" else small)
    return begin + end


def integer_conv(ctx: ConvertContext, x: Any, w: Any, attrs: dict[str, Any]) -> Any:
    """The int32 convolution of int32 `x` and `w` with the node's attributes."""
    from tvm import relax

    rank = len(ctx.shape(x))
    d = rank - 2
    if d not in (1, 2, 3):
        raise ctx.refuse(f"a {d}-D convolution; ronn-aot converts 1-D, 2-D and 3-D")
    kernel = [int(k) for k in attrs.get("kernel_shape", ctx.shape(w)[2:])]
    strides = [int(s) for s in attrs.get("strides", [1] * d)]
    dilations = [int(v) for v in attrs.get("dilations", [1] * d)]
    pads = _padding(ctx, attrs, ctx.shape(x)[2:], kernel, strides, dilations)
    conv = {1: relax.op.nn.conv1d, 2: relax.op.nn.conv2d, 3: relax.op.nn.conv3d}[d]
    layouts = {1: ("NCW", "OIW"), 2: ("NCHW", "OIHW"), 3: ("NCDHW", "OIDHW")}[d]
    return ctx.emit(conv(x, w, strides=strides, padding=pads, dilation=dilations, groups=int(attrs.get("group", 1)),
                         data_layout=layouts[0], kernel_layout=layouts[1], out_dtype="int32"))


@register_converter("ConvInteger", opsets=(10, None))
def conv_integer(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    x, w, x_zp, w_zp = (inputs + [None] * 4)[:4]
    w_rank = len(ctx.shape(w))
    return integer_conv(ctx, _shifted(ctx, x, x_zp, None), _shifted(ctx, w, w_zp, [-1] + [1] * (w_rank - 1)), attrs)


@register_converter("QLinearConv", opsets=(10, None))
def qlinear_conv(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias = (inputs + [None] * 9)[:9]
    out_dtype = ctx.dtype(y_zp) if y_zp is not None else ctx.dtype(x)
    if out_dtype not in ("int8", "uint8"):
        raise ctx.refuse(f"output type {out_dtype}; QLinearConv produces int8 or uint8")
    rank = len(ctx.shape(x))
    per_channel = [1, -1] + [1] * (rank - 2)
    acc = integer_conv(ctx, _shifted(ctx, x, x_zp, None), _shifted(ctx, w, w_zp, [-1] + [1] * (rank - 1)), attrs)
    if bias is not None:
        acc = ctx.emit(relax.op.add(acc, relax.op.reshape(ctx.emit(relax.op.astype(bias, "int32")), per_channel)))

    def channel(v: Any) -> Any:
        v = ctx.emit(relax.op.astype(v, "float64"))
        if len(ctx.shape(v)) == 1 and ctx.shape(v)[0] > 1:
            return ctx.emit(relax.op.reshape(v, per_channel))
        return ctx.emit(relax.op.reshape(v, [])) if len(ctx.shape(v)) == 1 else v

    scale = ctx.emit(relax.op.divide(relax.op.multiply(channel(x_scale), channel(w_scale)), channel(y_scale)))
    y = relax.op.multiply(relax.op.astype(acc, "float64"), scale)
    if y_zp is not None:
        y = relax.op.add(y, channel(y_zp))
    return saturate(ctx, round_half_even(ctx, ctx.emit(y)), out_dtype)
