"""Static shapes an ONNX graph declares, for the ONNX-level stages (onnx_fold, onnx_unroll)."""

from __future__ import annotations

import onnx


def static_shapes(model: onnx.ModelProto, initializers: bool = False) -> dict[str, tuple[int, ...]]:
    """Every value whose declared shape is fully static (value_info, inputs, outputs), by name;
    with `initializers`, the initializers' shapes too."""
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        tt = vi.type.tensor_type
        if tt.HasField("shape") and all(d.HasField("dim_value") for d in tt.shape.dim):
            shapes[vi.name] = tuple(d.dim_value for d in tt.shape.dim)
    if initializers:
        for init in model.graph.initializer:
            shapes[init.name] = tuple(init.dims)
    return shapes
