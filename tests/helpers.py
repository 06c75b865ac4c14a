"""Helpers shared by the compiler tests: references and runners (import as `from helpers import ...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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


def run_artifact(path: Path, feeds: dict[str, np.ndarray], threads: int = 1) -> list[np.ndarray]:
    import ronn_runtime

    return ronn_runtime.InferenceSession(str(path), num_threads=threads).run(None, feeds)

