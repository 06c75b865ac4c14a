"""CUDA-target tests: artifacts are compiled here (nvcc at build time, no GPU) and checked
structurally; the runtime's behaviour without a driver is checked too. Compiled artifacts are
shared by all tests of a session (compiling is the slow part)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def cuda_compile(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Any, str], Any]:
    """cuda_compile(key, model, target) -> ronn_aot Artifact, compiled once per (key, target)."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc (the CUDA toolkit) is needed to build CUDA artifacts")
    import ronn_aot

    out = tmp_path_factory.mktemp("cuda_artifacts")
    cache: dict[tuple[str, str], Any] = {}

    def compile_(key: str, model: Any, target: str) -> Any:
        if (key, target) not in cache:
            opts = ronn_aot.CompileOptions().with_target(target).with_output(out / f"{key}-{target}.so")
            cache[(key, target)] = ronn_aot.compile(model, opts)
        return cache[(key, target)]

    return compile_
