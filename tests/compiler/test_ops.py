"""Generated single-family graphs compiled at O0 and O2 match onnxruntime."""

from __future__ import annotations

import pytest

from helpers import assert_close, onnxruntime_outputs, run_artifact
from graphs import CASES


@pytest.mark.parametrize("opt_level", [0, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_onnxruntime(case: str, opt_level: int, compile_model) -> None:
    model, feeds = CASES[case]()
    art = compile_model(model, opt_level=opt_level)
    assert_close(run_artifact(art.path, feeds), onnxruntime_outputs(model, feeds), rtol=1e-4, atol=1e-5)
