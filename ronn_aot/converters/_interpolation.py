"""Per-axis interpolation taps for Resize and Upsample, computed at compile time.

ONNX's Resize is separable: along each resized axis, output position y reads a few input
positions (its taps) with weights that depend only on y, the sizes, the scale and the attributes.
`axis_taps` computes them with numpy (ONNX's coordinate transformations, nearest / linear / cubic
coefficients, antialiasing, exclude_outside, tf_crop_and_resize's extrapolated positions); the
converter gathers the taps with `take` and sums them with the weights, one axis after the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AxisTaps:
    index: np.ndarray  # [out, taps] int64 input positions, clamped into the axis (edge padding)
    weight: np.ndarray  # [out, taps] float64
    extrapolated: np.ndarray | None  # [out] bool: tf_crop_and_resize positions outside the input


def source_coordinates(mode: str, y: np.ndarray, scale: float, n_in: int, n_out: int,
                       roi: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """ONNX's coordinate_transformation_mode: output positions `y` -> input coordinates (and the
    positions tf_crop_and_resize extrapolates)."""
    out_width = scale * n_in  # ONNX uses the unrounded output length here
    if mode == "align_corners":
        return (np.zeros_like(y) if out_width == 1 else y * (n_in - 1) / (out_width - 1)), None
    if mode == "asymmetric":
        return y / scale, None
    if mode == "tf_crop_and_resize":
        lo, hi = roi if roi is not None else (0.0, 1.0)
        x = (np.full_like(y, (hi - lo) * (n_in - 1) / 2) if out_width == 1
             else y * (hi - lo) * (n_in - 1) / (out_width - 1))
        x = x + lo * (n_in - 1)
        return x, (x < 0) | (x > n_in - 1)
    if mode == "pytorch_half_pixel":
        return (np.full_like(y, -0.5) if out_width == 1 else (y + 0.5) / scale - 0.5), None
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5, None
    if mode == "half_pixel_symmetric":
        offset = n_in / 2 * (1 - n_out / out_width)
        return offset + (y + 0.5) / scale - 0.5, None
    raise ValueError(f"coordinate_transformation_mode {mode!r}")


def _nearest(ratio: np.ndarray, nearest_mode: str) -> np.ndarray:
    right = {"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5,
             "floor": np.zeros_like(ratio, dtype=bool), "ceil": np.ones_like(ratio, dtype=bool)}[nearest_mode]
    right = right | (ratio == 1.0)  # an integer coordinate (ratio 1) is the right-hand tap itself
    return np.stack([~right, right], axis=1).astype(np.float64)


def _cubic(ratio: np.ndarray, a: float) -> np.ndarray:
    def kernel(x: np.ndarray) -> np.ndarray:
        x = np.abs(x)
        near = ((a + 2) * x - (a + 3)) * x * x + 1
        far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
        return np.where(x <= 1, near, np.where(x < 2, far, 0.0))

    return np.stack([kernel(ratio + 1), kernel(ratio), kernel(1 - ratio), kernel(2 - ratio)], axis=1)


def _antialiased(ratio: np.ndarray, scale: float, support: int, kernel: str, a: float) -> np.ndarray:
    """Linear (support 1) or cubic (support 2) filters widened by 1/scale when downsampling."""
    scale = min(scale, 1.0)
    start = int(np.floor(-support / scale) + 1)
    args = (np.arange(start, 2 - start)[None, :] - ratio[:, None]) * scale
    if kernel == "linear":
        w = np.clip(1 - np.abs(args), 0, 1)
    else:
        x = np.abs(args)
        w = np.where(x <= 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                     np.where(x < 2, ((a * x - 5 * a) * x + 8 * a) * x - 4 * a, 0.0))
    return w / w.sum(axis=1, keepdims=True)


def axis_taps(n_in: int, n_out: int, scale: float, mode: str, coordinate_mode: str, nearest_mode: str,
              cubic_a: float, exclude_outside: bool, antialias: bool,
              roi: tuple[float, float] | None) -> AxisTaps:
    """The taps of one resized axis of length `n_in` -> `n_out` at `scale`, as ONNX defines them."""
    y = np.arange(n_out, dtype=np.float64)
    x, extrapolated = source_coordinates(coordinate_mode, y, scale, n_in, n_out, roi)
    floor = np.floor(x)
    ratio = np.where(x == floor, 1.0, x - floor)  # ONNX prefers the left pixel: ratio in (0, 1]
    if mode == "nearest":
        weight = _nearest(ratio, nearest_mode)
    elif antialias:
        weight = _antialiased(ratio, scale, 1 if mode == "linear" else 2, mode, cubic_a)
    elif mode == "linear":
        weight = np.stack([1 - ratio, ratio], axis=1)
    elif mode == "cubic":
        weight = _cubic(ratio, cubic_a)
    else:
        raise ValueError(f"mode {mode!r}")
    taps = weight.shape[1]
    # The `taps` positions nearest x (ties to the smaller), as onnx's reference picks them on an
    # edge-padded axis; clamping into the axis is the same edge padding.
    pad = int(np.ceil(taps / 2))
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if taps % 2 == 0:
        offset = np.where(frac == 0, -(taps // 2), -(taps // 2) + 1)
    else:
        offset = np.where(frac <= 0.5, -((taps - 1) // 2), -((taps - 1) // 2) + 1)
    index = (p + offset)[:, None] + np.arange(taps)[None, :] - pad
    if exclude_outside:
        weight = np.where((index < 0) | (index >= n_in), 0.0, weight)
        total = weight.sum(axis=1, keepdims=True)
        weight = weight / np.where(total == 0, 1.0, total)
    index = np.clip(index, 0, n_in - 1)
    if extrapolated is not None and not extrapolated.any():
        extrapolated = None
    return AxisTaps(index, weight, extrapolated)


def output_sizes(shape: tuple[int, ...], axes: list[int], scales: list[float] | None,
                 sizes: list[int] | None, policy: str) -> tuple[list[float], list[int]]:
    """Per-axis scales and output lengths of the resized `axes`, as ONNX derives them from
    `scales` or from `sizes` and keep_aspect_ratio_policy."""
    if sizes is not None:
        scale_list = [sizes[i] / shape[a] for i, a in enumerate(axes)]
        if policy == "stretch":
            return scale_list, list(sizes)
        s = min(scale_list) if policy == "not_larger" else max(scale_list)
        return [s] * len(axes), [int(s * shape[a] + 0.5) for a in axes]
    assert scales is not None
    return list(scales), [int(np.floor(s * shape[a])) for s, a in zip(scales, axes)]
