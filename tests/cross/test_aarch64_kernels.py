"""The CPU rules on aarch64, numerically: small models whose kernels the rules schedule (dense,
3x3 and 1x1 NHWC convolutions, depthwise, pooling, softmax, Winograd), compiled at O3 for NEON,
run by the cross-built runtime under qemu-user on two threads, against onnxruntime on this machine.
The schedule report says which rule took each kernel: the test checks the rule, not only the result."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from graphs import make_model, w
from helpers import onnxruntime_outputs, zoo_case
from qemu_run import run_under_qemu

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedules"))
from kernels import CASES  # noqa: E402

pytestmark = pytest.mark.cross


def _mobile_block() -> object:
    """1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 project + residual: an inverted residual."""
    x = w(1, 16, 14, 14, seed=21, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["e"]),
             helper.make_node("Clip", ["e", "lo", "hi"], ["e6"]),
             helper.make_node("Conv", ["e6", "W2", "B2"], ["d"], group=64, pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["d", "lo", "hi"], ["d6"]),
             helper.make_node("Conv", ["d6", "W3"], ["p"]),
             helper.make_node("Add", ["p", "x"], ["y"])]
    inits = {"W1": w(64, 16, 1, 1, seed=22), "B1": w(64, seed=23), "W2": w(64, 1, 3, 3, seed=24),
             "B2": w(64, seed=25), "W3": w(16, 64, 1, 1, seed=26),
             "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    return make_model(nodes, {"x": x}, ["y"], inits)


def _conv3x3_large() -> object:
    """A 3x3 convolution whose im2col copy would exceed dense.REINDEX_MAX_BYTES (112x112 pixels x
    576): its GEMM tile broadcasts A instead of reading it by lane."""
    x = w(1, 64, 112, 112, seed=27, scale=1.0)
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    return make_model(nodes, {"x": x}, ["y"], {"W": w(64, 64, 3, 3, seed=28, scale=0.05), "B": w(64, seed=29)})


# case -> (model builder, rules that must appear in the schedule report)
MODELS = {
    "dense": (CASES["dense"][0], {"cpu.dense"}),
    "dense_ragged": (CASES["dense_ragged"][0], {"cpu.dense"}),
    "conv3x3": (CASES["conv2d_nhwc"][0], {"cpu.conv2d_nhwc"}),
    "conv3x3_stride2": (CASES["conv2d_nhwc_implicit_gemm"][0], {"cpu.conv2d_nhwc"}),
    "conv3x3_large": (_conv3x3_large, {"cpu.conv2d_nhwc"}),
    "depthwise": (CASES["depthwise_conv2d"][0], {"cpu.conv2d_nhwc"}),
    "mobile_block": (_mobile_block, {"cpu.conv2d_nhwc"}),
    "maxpool": (CASES["pooling"][0], {"cpu.pooling"}),
    "softmax": (CASES["reduction"][0], {"cpu.softmax"}),
    "winograd": (CASES["winograd_input"][0], {"cpu.winograd_input", "cpu.winograd_output", "cpu.dense"}),
}


def _feeds(model: object) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for inp in model.graph.input:  # type: ignore[attr-defined]
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


@pytest.mark.parametrize("case", sorted(MODELS))
def test_rule_kernels_match_onnxruntime(case: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    build, rules = MODELS[case]
    model = build()
    feeds = _feeds(model)
    art = compile_model(model, opt_level=3, target="aarch64")
    used = set(art.schedule_report.rule_of.values())
    assert rules <= used, f"{case}: rules {sorted(used)}, expected {sorted(rules)}"
    assert "none" not in used
    expected = onnxruntime_outputs(model, feeds)
    actual = run_under_qemu(*qemu_runtime, art.path, feeds, art.output_names, tmp_path, threads=2)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", ["mobile_block", "winograd", "dense"])
def test_dotprod_target_matches_onnxruntime(case: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    """aarch64-dotprod (Armv8.2-A, cortex-a76 code) under qemu's default CPU, which has dotprod."""
    build, rules = MODELS[case]
    model = build()
    feeds = _feeds(model)
    art = compile_model(model, opt_level=3, target="aarch64-dotprod")
    assert rules <= set(art.schedule_report.rule_of.values())
    expected = onnxruntime_outputs(model, feeds)
    actual = run_under_qemu(*qemu_runtime, art.path, feeds, art.output_names, tmp_path, threads=2)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["squeezenet", "shufflenet", "inception_v1"])
def test_light_zoo_on_aarch64(name: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    """onnx's light model zoo compiled at O3 for aarch64 (every kernel through the CPU rules) and
    run on two threads under qemu match onnxruntime."""
    model, feeds, _, rtol, atol = zoo_case(name)
    art = compile_model(model, opt_level=3, target="aarch64")
    assert "none" not in set(art.schedule_report.rule_of.values())
    expected = onnxruntime_outputs(model, feeds)
    actual = run_under_qemu(*qemu_runtime, art.path, feeds, art.output_names, tmp_path, threads=2)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=max(rtol, 1e-3), atol=max(atol, 1e-4))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bvlc_alexnet", "densenet121", "inception_v2", "resnet50", "vgg19", "zfnet512"])
def test_rest_of_the_light_zoo_on_aarch64(name: str, qemu_runtime, compile_model, tmp_path: Path) -> None:
    """The rest of onnx's light zoo (big convolutions and dense layers: minutes under qemu, -m slow)
    compiled for aarch64 and run on two threads under qemu match onnxruntime."""
    test_light_zoo_on_aarch64(name, qemu_runtime, compile_model, tmp_path)
