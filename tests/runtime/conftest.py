"""Runtime-only tests: build runtime_min and a hand-written fixture artifact with gcc, then test
the C library, ronn-run and the Python binding. Nothing here needs TVM or the compiler."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runtime_helpers import RuntimeBuild, extra_make_flags, make_fixture, make_runtime  # noqa: E402


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeBuild]:
    """A fresh build of runtime_min; the Python binding is pointed at its library.
    RONN_TEST_MAKE_FLAGS adds make arguments (`make check-asan` builds with sanitizers)."""
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc and make are needed to build runtime_min")
    built = make_runtime(tmp_path_factory.mktemp("runtime") / "host", *extra_make_flags())
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
