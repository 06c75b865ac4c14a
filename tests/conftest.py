"""Shared test helpers: compile a model into a temporary artifact and compare it with onnxruntime."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFORMANCE_ENV = "RONN_TEST_CONFORMANCE_FULL"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: every onnx node case and the light zoo through the "
                                       "Backend (run with -m conformance; a fixed subset runs by default)")
    # tests/conformance builds its test classes at import: tell it whether the whole suite was asked for.
    if "conformance" in (config.option.markexpr or ""):
        os.environ[CONFORMANCE_ENV] = "1"



@pytest.fixture
def compile_model(tmp_path: Path) -> Any:
    """compile_model(model, opt_level=2, target="host", **input_shapes) -> Artifact in tmp_path."""
    import ronn_aot

    counter = [0]

    def _compile(model: Any, opt_level: int = 2, target: str = "host",
                 input_shapes: dict[str, tuple[int, ...]] | None = None) -> Any:
        counter[0] += 1
        opts = (ronn_aot.CompileOptions().with_target(target).with_optimization_level(opt_level)
                .with_output(tmp_path / f"model{counter[0]}-{target}-O{opt_level}.so"))
        for name, shape in (input_shapes or {}).items():
            opts = opts.with_input_shape(name, shape)
        return ronn_aot.compile(model, opts)

    return _compile