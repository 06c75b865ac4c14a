"""All 9 models of onnx's bundled light zoo compile and match the zoo's reference outputs
within the rtol/atol of its data.json."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import LIGHT_MODELS, run_artifact, zoo_case


def test_zoo_has_nine_models() -> None:
    assert len(LIGHT_MODELS) == 9, LIGHT_MODELS


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name: str, compile_model) -> None:
    model, feeds, expected, rtol, atol = zoo_case(name)
    art = compile_model(model)
    (actual,) = run_artifact(art.path, feeds, threads=2)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
