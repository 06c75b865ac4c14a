"""Runtime-only tests: build runtime_min and a hand-written fixture artifact with gcc, then test
the C library, ronn-run and the Python binding. Nothing here needs TVM or the compiler."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO / "runtime_min"
sys.path.insert(0, str(RUNTIME_DIR / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))

import make_fixture  # noqa: E402


@dataclass(frozen=True)
class RuntimeBuild:
    build_dir: Path
    library: Path
    static_library: Path
    ronn_run: Path


def make_runtime(build_dir: Path, *make_args: str) -> RuntimeBuild:
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={build_dir}", *make_args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"make failed:\n{proc.stdout}\n{proc.stderr}"
    return RuntimeBuild(build_dir, build_dir / "libronn_runtime.so", build_dir / "libronn_runtime.a",
                        build_dir / "ronn-run")


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeBuild]:
    """A fresh build of runtime_min; the Python binding is pointed at its library."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc and make are needed to build runtime_min")
    built = make_runtime(tmp_path_factory.mktemp("runtime") / "host")
    previous = os.environ.get("RONN_RUNTIME_LIBRARY")
    os.environ["RONN_RUNTIME_LIBRARY"] = str(built.library)
    yield built
    if previous is None:
        os.environ.pop("RONN_RUNTIME_LIBRARY", None)
    else:
        os.environ["RONN_RUNTIME_LIBRARY"] = previous


@pytest.fixture(scope="session")
def fixture_so(tmp_path_factory: pytest.TempPathFactory, runtime: RuntimeBuild) -> Path:
    return make_fixture.build(tmp_path_factory.mktemp("fixture") / "fixture.so")


@pytest.fixture
def artifact(fixture_so: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture that a test may corrupt."""
    copy = tmp_path / "model.so"
    shutil.copyfile(fixture_so, copy)
    return copy


def aligned_array(shape: tuple[int, ...], dtype: type, offset: int = 0) -> np.ndarray:
    """An uninitialised array whose data starts `offset` bytes after a 64-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    nbytes = int(np.prod(shape)) * itemsize
    raw = np.empty(nbytes + 128, dtype=np.uint8)
    start = -raw.ctypes.data % 64 + offset
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def random_input(seed: int = 0, offset: int = 0) -> np.ndarray:
    x = aligned_array((make_fixture.ROWS, make_fixture.COLS), np.float32, offset)
    x[...] = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)
    return x
