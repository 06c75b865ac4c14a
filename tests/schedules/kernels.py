"""Small kernels, one per schedule rule, taken from tiny ONNX graphs through ronn-aot's own
import and lowering (so they are exactly what the schedule stage sees), and the golden TVMScript
of each before and after its rule (`golden/<case>.py`).

Regenerate the golden files after changing a rule on purpose:
    .venv/bin/python tests/schedules/kernels.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from graphs import make_model, w  # noqa: E402

GOLDEN = Path(__file__).resolve().parent / "golden"
TARGET = "x86_64-avx2"  # golden schedules are for this target (8 float lanes, 16 registers)


def _conv_bias_relu() -> onnx.ModelProto:
    x = w(1, 8, 10, 10, seed=1, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(16, 8, 3, 3), "B": w(16, seed=2)})


def _conv1x1() -> onnx.ModelProto:
    x = w(1, 16, 8, 8, seed=3, scale=1.0)
    return make_model([helper.make_node("Conv", ["x", "W"], ["y"])], {"x": x}, ["y"], {"W": w(24, 16, 1, 1)})


def _conv1x1_stride2() -> onnx.ModelProto:
    # ResNet's downsampling shortcut: the rule first copies every other pixel into a compact buffer.
    x = w(1, 16, 8, 8, seed=13, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], strides=[2, 2])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(16, 16, 1, 1)})


def _conv3x3_stride2() -> onnx.ModelProto:
    # A stride-2 3x3 convolution: the rule stores the padded data as four phase planes.
    x = w(1, 4, 14, 14, seed=14, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(8, 4, 3, 3)})


def _conv3x3_streamed() -> onnx.ModelProto:
    # 1.3 MB of weights over 4x4 pixels (a late stage's shape): the rule slices the reduction
    # and streams the weights (conv2d_nhwc.stream_slice).
    x = w(1, 192, 4, 4, seed=15, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(192, 192, 3, 3, scale=0.05), "B": w(192, seed=16)})


def _conv_one_channel() -> onnx.ModelProto:
    # A first layer over a grayscale image (one input channel): padding per band of rows.
    x = w(1, 1, 12, 10, seed=20, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(16, 1, 3, 3), "B": w(16, seed=21)})


def _depthwise() -> onnx.ModelProto:
    x = w(1, 8, 16, 16, seed=4, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["y"], group=8, strides=[2, 2], pads=[1, 1, 1, 1])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(8, 1, 3, 3), "B": w(8, seed=5)})


def _dense() -> onnx.ModelProto:
    x = w(2, 32, seed=6, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(32, 48), "B": w(48, seed=7)})


def _conv3x3_s2_w7() -> onnx.ModelProto:
    # Stride 2 into 7x7 pixels: on AVX2 the direct tile is 7 pixels x 1 vector, the GEMM's 6 x 2
    # over ragged rows (conv2d_nhwc.implicit_gemm).
    x = w(1, 16, 14, 14, seed=17, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(32, 16, 3, 3), "B": w(32, seed=18)})


def _winograd() -> onnx.ModelProto:
    # O3 rewrites it as Winograd F(2x2, 3x3) (ronn_aot/passes/winograd.py): the cases are its
    # input transform and its output transform with the ReLU epilogue.
    x = w(1, 128, 10, 10, seed=19, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(128, 128, 3, 3, scale=0.05)})


def _dense_ragged() -> onnx.ModelProto:
    # 49 rows: on AVX2 the best tile (6 rows x 2 vectors) does not divide them (ragged rows).
    x = w(49, 64, seed=14, scale=1.0)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(64, 32, seed=15), "B": w(32, seed=16)})


def _elementwise() -> onnx.ModelProto:
    x, b = w(4, 64, seed=8, scale=1.0), w(4, 64, seed=9, scale=1.0)
    nodes = [helper.make_node("Add", ["x", "b"], ["s"]), helper.make_node("Sigmoid", ["s"], ["y"])]
    return make_model(nodes, {"x": x, "b": b}, ["y"])


def _transpose() -> onnx.ModelProto:
    # NHWC -> NCHW, what a model's NCHW output gets after O3's NHWC convolutions.
    x = w(1, 5, 16, 64, seed=17, scale=1.0)
    return make_model([helper.make_node("Transpose", ["x"], ["y"], perm=[0, 3, 1, 2])], {"x": x}, ["y"])


def _transpose_add() -> onnx.ModelProto:
    # A transpose with elementwise work fused into it, and extents no tile width divides evenly.
    x = w(1, 6, 12, 24, seed=18, scale=1.0)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Add", ["t", "B"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"B": w(24, 1, 1, seed=19)})


def _maxpool() -> onnx.ModelProto:
    x = w(1, 4, 18, 18, seed=10, scale=1.0)
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])]
    return make_model(nodes, {"x": x}, ["y"])


def _softmax() -> onnx.ModelProto:
    x = w(8, 64, seed=11, scale=1.0)
    return make_model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], {"x": x}, ["y"])


def _column_sum() -> onnx.ModelProto:
    # A reduction over the outer axis with a short inner axis: no specific rule fits it.
    x = w(64, 3, seed=12, scale=1.0)
    axes = np.array([0], np.int64)
    return make_model([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)], {"x": x}, ["y"],
                      {"axes": axes}, opset=18)


# case name -> (graph builder, the rule expected to schedule its (only or main) kernel, the
# optimization level it is lowered at: O3 gives x86-64 NHWC convolutions)
CASES: dict[str, tuple[Callable[[], onnx.ModelProto], str, int]] = {
    "conv2d_nchw": (_conv_bias_relu, "cpu.conv2d_nchw", 2),
    "conv2d_1x1": (_conv1x1, "cpu.conv2d_nchw", 2),
    "conv2d_1x1_stride2": (_conv1x1_stride2, "cpu.conv2d_nchw", 2),
    "conv2d_3x3_stride2": (_conv3x3_stride2, "cpu.conv2d_nchw", 2),
    "depthwise_conv2d": (_depthwise, "cpu.depthwise_conv2d", 2),
    "dense": (_dense, "cpu.dense", 2),
    "dense_ragged": (_dense_ragged, "cpu.dense", 2),
    "elementwise": (_elementwise, "cpu.elementwise", 2),
    "transpose": (_transpose, "cpu.transpose", 2),
    "transpose_add": (_transpose_add, "cpu.transpose", 2),
    "pooling": (_maxpool, "cpu.pooling", 2),
    "reduction": (_softmax, "cpu.reduction", 2),
    "fallback": (_column_sum, "cpu.fallback", 2),
    "conv2d_nhwc": (_conv_bias_relu, "cpu.conv2d_nhwc", 3),
    "conv2d_nhwc_1x1": (_conv1x1, "cpu.conv2d_nhwc", 3),
    "conv2d_nhwc_streamed": (_conv3x3_streamed, "cpu.conv2d_nhwc", 3),
    "conv2d_nhwc_implicit_gemm": (_conv3x3_s2_w7, "cpu.conv2d_nhwc", 3),
    "conv2d_nhwc_one_channel": (_conv_one_channel, "cpu.conv2d_nhwc_shallow", 3),
    "depthwise_conv2d_nhwc": (_depthwise, "cpu.conv2d_nhwc", 3),
    "winograd_input": (_winograd, "cpu.winograd_input", 3),
    "winograd_output": (_winograd, "cpu.winograd_output", 3),
}
# Cases whose kernel is not the model's convolution kernel: the name its kernel starts with.
KERNEL_PREFIX = {"winograd_input": "winograd_input", "winograd_output": "fused_winograd_output"}


def kernel(case: str, target_name: str = TARGET) -> Any:
    """The case's kernel PrimFunc (the one its rule is for), as the schedule stage receives it."""
    return kernel_of(CASES[case][0](), case, CASES[case][2], target_name)


def kernel_of(model: onnx.ModelProto, name: str = "model", level: int = 2, target_name: str = TARGET) -> Any:
    """The only kernel PrimFunc of `model` (at O3: the only convolution kernel beside the layout
    transforms at the boundaries, or the kernel KERNEL_PREFIX names for the case), as the schedule
    stage receives it."""
    from ronn_aot.stages.frontend import import_model
    from ronn_aot.stages.lower import lower
    from ronn_aot.stages.plan_builder import build_plan
    from ronn_aot.targets import get_target

    target = get_target(target_name)
    imported = import_model(model, {})
    mod, _ = lower(imported.mod, target.tvm_target(2), target.name, level)
    kernels = build_plan(mod, imported.inputs, imported.outputs, {}).kernels
    if name in KERNEL_PREFIX:
        kernels = [k for k in kernels if k.startswith(KERNEL_PREFIX[name])]
    elif len(kernels) > 1 and level >= 3:
        kernels = [k for k in kernels if "conv2d" in k]
    if len(kernels) != 1:
        raise AssertionError(f"case {name} lowers to {len(kernels)} kernels ({kernels}); expected one")
    return mod[kernels[0]]


def tvm_target(name: str = TARGET) -> Any:
    from ronn_aot.targets import get_target

    return get_target(name).tvm_target(2)


def run_kernel(func: Any, target: Any, args: list[np.ndarray]) -> np.ndarray:
    """Build one PrimFunc as the compile builds kernels (ronn_aot/backends/tir_pipeline.py), call it on
    `args` (the output last) and return the output."""
    import tvm

    from ronn_aot.backends import tir_pipeline

    lib = tir_pipeline.build(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}), target)
    tensors = [tvm.runtime.tensor(a, tvm.cpu()) for a in args]
    lib["main"](*tensors)
    return tensors[-1].numpy()


def load_golden(case: str) -> tuple[Any, Any]:
    """(before, expected) PrimFuncs parsed from golden/<case>.py."""
    import tvm

    text = (GOLDEN / f"{case}.py").read_text()
    before_src, expected_src = text.split("# ---- expected ----\n")
    return tvm.script.from_source(before_src), tvm.script.from_source(expected_src)


def regenerate() -> None:
    from ronn_aot.schedules import get_rule

    GOLDEN.mkdir(exist_ok=True)
    target = tvm_target()
    for case, (_, rule, _) in CASES.items():
        func = kernel(case)
        with target:
            sch = get_rule(rule).rule.apply(func, target, False)
        assert sch is not None, f"{rule} does not apply to {case}"
        header = f"# Golden TVMScript for {rule} on {TARGET}; regenerate with tests/schedules/kernels.py\n"
        (GOLDEN / f"{case}.py").write_text(header + func.script() + "\n# ---- expected ----\n"
                                           + sch.mod["main"].script() + "\n")
        print(f"wrote {GOLDEN / case}.py")


if __name__ == "__main__":
    regenerate()
