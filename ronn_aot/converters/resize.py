"""Resize (opset 10+) and Upsample (opset 7-9).

TVM's converter handles 4-D resizes of all spatial axes by whole output sizes; the rest is ours
(`_interpolation.py`: the per-axis taps ONNX defines, gathered with `take` and weighted, one axis
after the other): other ranks (1-D, 3-D, 5-D), the `axes` attribute, keep_aspect_ratio_policy,
antialias, and linear/cubic scales whose output size is not input * scale (ONNX then maps
coordinates with the scale; TVM maps them with output / input size, which samples other points).
Scales, sizes and roi must be compile-time constants (the Backend freezes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._interpolation import axis_taps, output_sizes
from ._registry import ConvertContext, register_converter

_COORDINATE_MODES = ("half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                     "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _constant(ctx: ConvertContext, expr: Any, what: str) -> np.ndarray | None:
    if expr is None:
        return None
    value = ctx.constant(expr)
    if value is None:
        raise ctx.refuse(f"{what} is computed at run time; freeze it (--freeze-input) or export it as a constant")
    return value if value.size else None


@register_converter("Resize", opsets=(10, None))
def resize(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    x = inputs[0]
    shape = ctx.shape(x)
    rank = len(shape)
    if ctx.opset < 11:
        roi, scales, sizes = None, _constant(ctx, inputs[1], "scales"), None
    else:
        ins = inputs + [None] * (4 - len(inputs))
        roi = _constant(ctx, ins[1], "roi")
        scales = _constant(ctx, ins[2], "scales")
        sizes = _constant(ctx, ins[3], "sizes")
    axes = [int(a) % rank for a in attrs.get("axes", range(rank))]
    if len(set(axes)) != len(axes):
        raise ctx.refuse(f"axes {list(attrs['axes'])} repeat an axis")
    if (scales is None) == (sizes is None):
        raise ctx.refuse("exactly one of scales and sizes must be given")
    given = scales if scales is not None else sizes
    if given.size != len(axes):
        raise ctx.refuse(f"{given.size} scales/sizes for {len(axes)} axes")
    policy = str(attrs.get("keep_aspect_ratio_policy", "stretch")) if ctx.opset >= 18 else "stretch"
    scale_list, out_sizes = output_sizes(shape, axes, None if scales is None else scales.astype(np.float64).tolist(),
                                         None if sizes is None else [int(s) for s in sizes.tolist()], policy)
    mode = str(attrs.get("mode", "nearest"))
    coordinate_mode = str(attrs.get("coordinate_transformation_mode", "half_pixel" if ctx.opset >= 11 else "asymmetric"))
    antialias = bool(int(attrs.get("antialias", 0)))
    if mode == "nearest" and antialias:
        raise ctx.refuse("antialias=1 with mode=nearest is undefined in ONNX")

    whole = all(abs(shape[a] * s - n) <= 1e-5 * max(n, 1) for a, s, n in zip(axes, scale_list, out_sizes))
    if (rank == 4 and "axes" not in attrs and policy == "stretch" and not antialias and (whole or mode == "nearest")
            and ctx.tvm_converter is not None):
        return ctx.tvm_converter(inputs)

    roi_pairs: dict[int, tuple[float, float]] = {}
    if coordinate_mode == "tf_crop_and_resize" and roi is not None:
        k = len(axes)
        if roi.size != 2 * k:
            raise ctx.refuse(f"roi has {roi.size} values for {k} axes; ONNX wants 2 * {k}")
        flat = roi.astype(np.float64).reshape(-1)
        roi_pairs = {a: (float(flat[i]), float(flat[k + i])) for i, a in enumerate(axes)}
    return interpolate(ctx, x, dict(zip(axes, zip(scale_list, out_sizes))), mode, coordinate_mode,
                       str(attrs.get("nearest_mode", "round_prefer_floor")), float(attrs.get("cubic_coeff_a", -0.75)),
                       bool(int(attrs.get("exclude_outside", 0))), antialias, roi_pairs,
                       float(attrs.get("extrapolation_value", 0.0)))


def interpolate(ctx: ConvertContext, x: Any, resized: dict[int, tuple[float, int]], mode: str,
                coordinate_mode: str, nearest_mode: str, cubic_a: float, exclude_outside: bool,
                antialias: bool, roi: dict[int, tuple[float, float]], extrapolation: float) -> Any:
    """`x` resized along the axes of `resized` ({axis: (scale, output length)}), axis by axis."""
    from tvm import relax

    if mode not in ("nearest", "linear", "cubic"):
        raise ctx.refuse(f"mode={mode!r}; ONNX defines nearest, linear and cubic")
    if coordinate_mode not in _COORDINATE_MODES:
        raise ctx.refuse(f"coordinate_transformation_mode={coordinate_mode!r}; ONNX defines {', '.join(_COORDINATE_MODES)}")
    if mode == "nearest" and nearest_mode not in _NEAREST_MODES:
        raise ctx.refuse(f"nearest_mode={nearest_mode!r}; ONNX defines {', '.join(_NEAREST_MODES)}")
    dtype = ctx.dtype(x)
    if mode != "nearest" and not dtype.startswith(("float", "bfloat")) and dtype not in ("int8", "uint8", "int16", "int32"):
        raise ctx.refuse(f"{mode} interpolation of {dtype}")
    compute = dtype if dtype in ("float32", "float64") else "float32"
    shape = list(ctx.shape(x))
    y = x if mode == "nearest" or compute == dtype else ctx.emit(relax.op.astype(x, compute))
    for axis, (scale, n_out) in resized.items():
        n_in = shape[axis]
        if scale == 1.0 and n_out == n_in and axis not in roi:
            continue
        taps = axis_taps(n_in, n_out, scale, mode, coordinate_mode, nearest_mode, cubic_a, exclude_outside,
                         antialias, roi.get(axis))
        if mode == "nearest":  # one tap of weight 1
            pick = np.take_along_axis(taps.index, np.argmax(taps.weight, axis=1)[:, None], axis=1)[:, 0]
            y = ctx.emit(relax.op.take(y, relax.const(pick.astype(np.int64)), axis=axis))
        else:
            k = taps.index.shape[1]
            gathered = ctx.emit(relax.op.take(y, relax.const(taps.index.reshape(-1).astype(np.int64)), axis=axis))
            split = [*shape[:axis], n_out, k, *shape[axis + 1:]]
            gathered = ctx.emit(relax.op.reshape(gathered, split))
            w_shape = [1] * axis + [n_out, k] + [1] * (len(shape) - axis - 1)
            weight = relax.const(taps.weight.reshape(w_shape).astype(compute), compute)
            y = ctx.emit(relax.op.sum(relax.op.multiply(gathered, weight), axis=[axis + 1]))
        if taps.extrapolated is not None:
            m_shape = [1] * axis + [n_out] + [1] * (len(shape) - axis - 1)
            y = ctx.emit(relax.op.where(relax.const(taps.extrapolated.reshape(m_shape)),
                                        relax.const(extrapolation, ctx.dtype(y)), y))
        shape[axis] = n_out
    if ctx.dtype(y) == dtype:
        return y
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(np.dtype(dtype))
        y = ctx.emit(relax.op.clip(relax.op.round(y), float(info.min), float(info.max)))
    return relax.op.astype(y, dtype)


@register_converter("Upsample", opsets=(7, 9))
def upsample(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    x = inputs[0]
    shape = ctx.shape(x)
    scales = (np.asarray(attrs["scales"], dtype=np.float32) if "scales" in attrs
              else _constant(ctx, inputs[1] if len(inputs) > 1 else None, "scales"))
    if scales is None or scales.size != len(shape):
        raise ctx.refuse(f"Upsample needs one scale per axis ({len(shape)})")
    mode = str(attrs.get("mode", "nearest"))
    if mode == "bilinear":
        mode = "linear"
    resized = {a: (float(s), int(np.floor(float(s) * n))) for a, (s, n) in enumerate(zip(scales.tolist(), shape))}
    return interpolate(ctx, x, resized, mode, "asymmetric", "floor", -0.75, False, False, {}, 0.0)
