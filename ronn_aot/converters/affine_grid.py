"""AffineGrid (opset 20): the sampling grid of an affine transform, as one matmul of theta with a
homogeneous base grid that is a compile-time constant (`size` must be constant; the Backend
freezes it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._registry import ConvertContext, register_converter


def base_grid(spatial: list[int], align_corners: bool) -> np.ndarray:
    """[prod(spatial), rank + 1]: each point's normalised (x, y[, z], 1), x along the last axis."""
    axes = []
    for n in spatial:
        if align_corners:
            axes.append(np.linspace(-1.0, 1.0, n) if n > 1 else np.array([-1.0]))
        else:
            axes.append((2.0 * np.arange(n) + 1.0) / n - 1.0)
    mesh = np.meshgrid(*axes, indexing="ij")  # mesh[i] varies along spatial axis i
    coords = [m.reshape(-1) for m in reversed(mesh)] + [np.ones(int(np.prod(spatial)))]
    return np.stack(coords, axis=1)


@register_converter("AffineGrid", opsets=(20, None))
def affine_grid(ctx: ConvertContext, inputs: list[Any], attrs: dict[str, Any]) -> Any:
    from tvm import relax

    theta, size = inputs
    size_value = ctx.constant(size)
    if size_value is None:
        raise ctx.refuse("size is computed at run time; freeze it (--freeze-input) or export it as a constant")
    n, _, *spatial = [int(s) for s in size_value.reshape(-1)]
    if len(spatial) not in (2, 3) or ctx.shape(theta) != (n, len(spatial), len(spatial) + 1):
        raise ctx.refuse(f"theta {list(ctx.shape(theta))} and size {size_value.tolist()}: ONNX defines "
                         "(N, 2, 3) with (N, C, H, W) and (N, 3, 4) with (N, C, D, H, W)")
    dtype = ctx.dtype(theta)
    base = relax.const(base_grid(spatial, bool(int(attrs.get("align_corners", 0)))).astype(dtype), dtype)
    grid = ctx.emit(relax.op.matmul(base, relax.op.permute_dims(theta, [0, 2, 1])))  # [N, points, rank]
    return relax.op.reshape(grid, [n, *spatial, len(spatial)])
