"""O3: data layout per target.

Convolutions are converted to the layout the target's kernels prefer and the layout is
propagated through the layout-agnostic ops around them (elementwise, pooling, concat, reductions)
by TVM's ConvertLayout, so `layout_transform` remains only where the graph enters and leaves the
converted region (normally the model's inputs and outputs). Weight transforms are constant
expressions: the fold_constant pass of the next round applies them at compile time.
"""

from __future__ import annotations

from typing import Any

from ._registry import register_pass

# Architecture (first field of the LLVM triple) -> desired conv2d layouts [data, weight]; an
# architecture not listed keeps NCHW/OIHW. Choose the layout the target's convolution schedules
# are written for: NHWC data with HWIO weights, for schedules/cpu/conv2d_nhwc.py, which
# vectorizes over output channels (contiguous in data, weights and output) and pre-packs the
# weights; against the NCHW rule (vectorized over output pixels) on this 2-core AVX-512 machine:
# light ResNet-50 50.4 -> 33.8 ms, EfficientNet-Lite0 7.2 -> 6.3 ms at 2 threads. aarch64 runs the
# same rules (channels innermost is also what NEON convolutions in XNNPACK and Arm Compute Library
# stream).
CONV2D_LAYOUTS: dict[str, list[str]] = {
    "x86_64": ["NHWC", "HWIO"],
    "aarch64": ["NHWC", "HWIO"],
}


def _current_arch() -> str:
    import tvm

    target = tvm.target.Target.current(allow_none=True)
    if target is None:
        return ""
    return str(target.attrs.get("mtriple", "")).split("-")[0]


@register_pass("convert_layout", 3, order=50)
def convert_layout() -> Any:
    """Convert conv2d to the target's preferred layout; transforms stay at the boundaries."""
    import tvm
    from tvm import relax

    layouts = CONV2D_LAYOUTS.get(_current_arch())
    if layouts is None:  # NCHW is this target's layout: nothing to convert
        return tvm.transform.Sequential([], name="convert_layout")
    convert = relax.transform.ConvertLayout({"relax.nn.conv2d": layouts})

    # Only where there is a convolution: ConvertLayout gains nothing elsewhere, and fails on some
    # graphs without one ("Invalid SLayout" on a variadic Max of 1-D tensors).
    @tvm.transform.module_pass(opt_level=0, name="convert_layout")
    def transform(mod: Any, ctx: Any) -> Any:
        return convert(mod) if _calls_op(mod, "relax.nn.conv2d") else mod

    return transform


def _calls_op(mod: Any, op_name: str) -> bool:
    from tvm import relax

    found = []

    def visit(expr: Any) -> None:
        if isinstance(expr, relax.Call) and isinstance(expr.op, tvm_op()) and expr.op.name == op_name:
            found.append(expr)

    for _, func in mod.functions_items():
        if isinstance(func, relax.Function):
            relax.analysis.post_order_visit(func.body, visit)
            if found:
                return True
    return False


def tvm_op() -> Any:
    import tvm

    return tvm.ir.Op


@register_pass("cancel_layout_transforms", 3, order=55)
def cancel_layout_transforms() -> Any:
    """Remove layout_transform pairs that undo each other (TVM's OptimizeLayoutTransform)."""
    from tvm import relax

    return relax.transform.OptimizeLayoutTransform()
