"""Every optimization level gives the same answers; higher levels give fewer, larger kernels.

Numerics: the light zoo's models against their reference outputs (tolerances of their data.json)
and EfficientNet-Lite0 against onnxruntime, at O0-O3. The default run covers SqueezeNet,
ResNet-50 and EfficientNet-Lite0; the other light models are marked slow (`pytest -m slow`).
Structure: the plan's kernel graph at O2 (no BatchNorm, no standalone epilogue after a conv)
and O3 (no layout transform between convolutions, no weight transformed at run time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

from helpers import onnxruntime_outputs, run_artifact
from helpers import LIGHT, LIGHT_MODELS, zoo_case
from kernel_graph import CONV, ELEMENTWISE, LAYOUT, KernelGraph, lowered_plan
from ronn_aot import models

LEVELS = [0, 1, 2, 3]
DEFAULT_ZOO = ["squeezenet", "resnet50"]
ZOO = DEFAULT_ZOO + [pytest.param(n, marks=pytest.mark.slow) for n in LIGHT_MODELS if n not in DEFAULT_ZOO]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", ZOO)
def test_light_zoo_matches_reference(name: str, level: int, compile_model: Any) -> None:
    model, feeds, expected, rtol, atol = zoo_case(name)
    art = compile_model(model, opt_level=level)
    (actual,) = run_artifact(art.path, feeds, threads=2)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=f"{name} at O{level}")


@pytest.fixture(scope="module")
def effnet_reference() -> tuple[dict[str, np.ndarray], np.ndarray]:
    x = models.preprocess(models.bundled_image_paths()["chelsea"])
    (expected,) = onnxruntime_outputs(onnx.load(str(models.default_model_path())), {"input": x})
    return {"input": x}, expected


@pytest.mark.parametrize("level", LEVELS)
def test_efficientnet_matches_onnxruntime(level: int, compile_model: Any, effnet_reference: Any) -> None:
    feeds, expected = effnet_reference
    art = compile_model(models.default_model_path(), opt_level=level)
    (logits,) = run_artifact(art.path, feeds, threads=2)
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-3, err_msg=f"O{level}")
    assert models.top_k(logits, 1)[0][1] == "Egyptian cat"


def _model_path(name: str) -> str:
    return str(models.default_model_path()) if name == "efficientnet_lite0" else str(LIGHT / f"light_{name}.onnx")


@pytest.fixture(scope="module")
def plans() -> dict[tuple[str, int, str], Any]:
    """(model, level, target) -> (plan, report), computed once per module (no code generation)."""
    return {}


def plan_of(plans: dict[tuple[str, int, str], Any], name: str, level: int, target: str = "x86_64-avx2") -> Any:
    if (name, level, target) not in plans:
        plans[(name, level, target)] = lowered_plan(_model_path(name), level, target)
    return plans[(name, level, target)]


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_lite0"])
def test_o2_folds_batch_norm_and_fuses_epilogues(name: str, plans: Any) -> None:
    plan, _ = plan_of(plans, name, 2)
    g = KernelGraph.of(plan)
    assert not [n for i, n in enumerate(g.names) if "batch_norm" in g.ops(i)], "BatchNorm survived O2"
    for i, producers in enumerate(g.inputs):
        if g.ops(i) <= ELEMENTWISE:
            after_conv = [g.names[p] for p in producers if p is not None and g.ops(p) & CONV]
            assert not after_conv, f"standalone {g.names[i]} after {after_conv}"


@pytest.mark.parametrize("name", ["resnet50", "efficientnet_lite0"])
def test_levels_reduce_kernel_steps(name: str, plans: Any) -> None:
    steps = [len(plan_of(plans, name, level)[0].steps) for level in LEVELS]
    assert steps[0] >= steps[1] > steps[2], steps
    assert plan_of(plans, name, 2)[1].converged


@pytest.fixture
def nhwc_on_x86() -> None:
    """x86-64 converts to NHWC at O3 (ronn_aot/passes/layout.py), so the layout machinery is
    checked on the machine that runs the tests."""
    from ronn_aot.passes import layout

    assert layout.CONV2D_LAYOUTS["x86_64"][0] == "NHWC"


@pytest.fixture
def nchw_on_x86(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other way round: x86-64 at O3 forced to keep NCHW (the NCHW rules stay in use for
    models compiled at O2 and below)."""
    from ronn_aot.passes import layout

    monkeypatch.delitem(layout.CONV2D_LAYOUTS, "x86_64")


def test_o2_keeps_nchw(plans: Any) -> None:
    g = KernelGraph.of(plan_of(plans, "efficientnet_lite0", 2)[0])
    assert not [n for i, n in enumerate(g.names) if g.ops(i) & LAYOUT]


@pytest.mark.parametrize("name,target", [("resnet50", "x86_64-avx2"), ("efficientnet_lite0", "x86_64-avx2"),
                                         ("efficientnet_lite0", "aarch64")])
def test_o3_layout_transforms_only_at_boundaries(name: str, target: str, nhwc_on_x86: None) -> None:
    plan, report = lowered_plan(_model_path(name), 3, target)
    assert report.ran("convert_layout"), "O3 did not run the layout pass"
    g = KernelGraph.of(plan)
    transforms = [i for i in range(len(g.names)) if g.ops(i) & LAYOUT]
    assert transforms, "no layout conversion happened at O3"
    for i in transforms:
        between = g.reaches(i, {"conv2d"}, downstream=False) and g.reaches(i, {"conv2d"}, downstream=True)
        assert not between, f"{g.names[i]} sits between two convolutions"
        assert not g.weight_inputs[i], f"{g.names[i]} transforms a weight at run time"


@pytest.mark.parametrize("name", ZOO + ["efficientnet_lite0"])
def test_nhwc_matches_reference(name: str, nhwc_on_x86: None, compile_model: Any, effnet_reference: Any) -> None:
    if name == "efficientnet_lite0":
        model, (feeds, expected), rtol, atol = models.default_model_path(), effnet_reference, 1e-3, 1e-3
    else:
        model, feeds, expected, rtol, atol = zoo_case(name)
    art = compile_model(model, opt_level=3)
    (actual,) = run_artifact(art.path, feeds, threads=2)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=f"{name} at O3, NHWC")
