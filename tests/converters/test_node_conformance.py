"""onnx's node conformance cases for the ops our converters handle, against their expected outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx.backend.test.case.node import collect_testcases

from conftest import ATOL, RTOL
from helpers import assert_close, run_artifact

# Cases that onnxruntime fails too are compared with onnx's expected outputs all the same.
PREFIXES = ("test_convtranspose",)


def _cases() -> dict[str, Any]:
    return {c.name: c for c in collect_testcases() if c.name.startswith(PREFIXES)}


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_node_case(name: str, compile_model: Any) -> None:
    case = CASES[name]
    model = case.model
    art = compile_model(model, opt_level=3)
    for inputs, expected in case.data_sets:
        feeds = {i.name: np.asarray(v) for i, v in zip(model.graph.input, inputs)}
        assert_close(run_artifact(art.path, feeds), [np.asarray(e) for e in expected], rtol=RTOL, atol=ATOL)
