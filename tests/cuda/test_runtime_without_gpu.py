"""Without the NVIDIA driver a CUDA artifact still loads (its inputs, outputs and metadata are
readable), and creating a session fails with RONN_UNAVAILABLE and a message that says why,
through the Python binding and through ronn-run; nothing crashes."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graphs import attention_block

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))
from runtime_helpers import RuntimeBuild, check_needed, make_runtime  # noqa: E402


def _driver_present() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(_driver_present(), reason="an NVIDIA driver is installed here")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> RuntimeBuild:
    return make_runtime(tmp_path_factory.mktemp("runtime_cuda") / "host")


@pytest.fixture(scope="module")
def artifact(cuda_compile: Any) -> Path:
    model, _ = attention_block()
    return Path(cuda_compile("attention", model, "cuda-sm90").path)


def test_runtime_links_no_cuda_library(runtime: RuntimeBuild) -> None:
    check_needed(runtime.library)
    check_needed(runtime.ronn_run)


def test_python_binding_reports_unavailable(runtime: RuntimeBuild, artifact: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RONN_RUNTIME_LIBRARY", str(runtime.library))
    import ronn_runtime

    with pytest.raises(ronn_runtime.RonnRuntimeError) as info:
        ronn_runtime.InferenceSession(str(artifact))
    message = str(info.value)
    assert "UNAVAILABLE" in message and "libcuda.so.1" in message and "NVIDIA" in message


def test_ronn_run_reports_unavailable(runtime: RuntimeBuild, artifact: Path) -> None:
    info = subprocess.run([str(runtime.ronn_run), str(artifact), "--info"], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "cuda-sm90" in info.stdout and "x: [1,16,32] float32" in info.stdout
    run = subprocess.run([str(runtime.ronn_run), str(artifact)], capture_output=True, text=True)
    assert run.returncode == 5, (run.returncode, run.stderr)
    assert "cannot create a session: UNAVAILABLE" in run.stderr and "libcuda.so.1" in run.stderr
