"""Shared test helpers: compile a model into a temporary artifact and compare it with onnxruntime."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parent.parent


def onnxruntime_outputs(model: Any, feeds: dict[str, np.ndarray], threads: int = 1) -> list[np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    data = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(actual: list[np.ndarray], expected: list[np.ndarray], rtol: float, atol: float) -> None:
    assert len(actual) == len(expected), f"{len(actual)} outputs, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, f"output {i}: shape {a.shape}, expected {e.shape}"
        assert a.dtype == e.dtype, f"output {i}: dtype {a.dtype}, expected {e.dtype}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"output {i}")


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


def run_artifact(path: Path, feeds: dict[str, np.ndarray], threads: int = 1) -> list[np.ndarray]:
    import ronn_runtime

    return ronn_runtime.InferenceSession(str(path), num_threads=threads).run(None, feeds)
