"""All 9 models of onnx's bundled light zoo compile and match the zoo's reference outputs
within the rtol/atol of its data.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from helpers import run_artifact

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
REAL = Path(onnx.__file__).parent / "backend" / "test" / "data" / "real"
MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))


def zoo_inputs(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """The inputs onnx's backend runner uses for light models (arange / n, as in
    onnx.backend.test.runner.Runner.generate_dummy_data)."""
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for x in model.graph.input:
        if x.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        feeds[x.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    return feeds


def test_zoo_has_nine_models() -> None:
    assert len(MODELS) == 9, MODELS


@pytest.mark.parametrize("name", MODELS)
def test_light_model(name: str, compile_model) -> None:
    model = onnx.load(str(LIGHT / f"light_{name}.onnx"))
    tol = json.loads((REAL / f"test_{name}" / "data.json").read_text())
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    art = compile_model(model)
    (actual,) = run_artifact(art.path, zoo_inputs(model), threads=2)
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"])
