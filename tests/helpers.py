"""Helpers shared by the compiler tests: references and runners (import as `from helpers import ...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
REAL = Path(onnx.__file__).parent / "backend" / "test" / "data" / "real"
LIGHT_MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))

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



def zoo_case(name: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray], np.ndarray, float, float]:
    """A light-zoo model, its inputs as onnx's backend runner makes them (arange / n, see
    onnx.backend.test.runner.Runner.generate_dummy_data), its reference output, rtol and atol."""
    model = onnx.load(str(LIGHT / f"light_{name}.onnx"))
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for x in model.graph.input:
        if x.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        feeds[x.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    tol = json.loads((REAL / f"test_{name}" / "data.json").read_text())
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    return model, feeds, expected, float(tol["rtol"]), float(tol["atol"])


def cpu_has_vnni() -> bool:
    """Whether this machine can run AVX-512 VNNI code (the x86_64-avx512 BitNet VNNI kernels)."""
    try:
        return "avx512_vnni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def qemu_ronn_run(target_name: str = "aarch64") -> tuple[list[str], Path]:
    """(qemu argv prefix for `target_name`, runtime_min's ronn-run cross-built for aarch64); skips
    the calling test when qemu-user or the cross toolchain is missing. Every aarch64 target runs the
    same runtime C."""
    import pytest

    from ronn_aot.errors import ToolchainError
    from ronn_aot.targets import get_target
    from ronn_aot.tools.runtime_build import build_runtime

    target = get_target(target_name)
    prefix = target.run.command_prefix(target.arch)
    if prefix is None:
        pytest.skip(f"{target.run.qemu} not found; install it with: apt-get install {target.run.qemu_package}")
    try:
        return prefix, build_runtime(get_target("aarch64")).ronn_run
    except ToolchainError as e:
        pytest.skip(str(e))
