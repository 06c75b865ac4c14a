"""Packaging tests: the wheels are built as a user builds them (`pip wheel`), installed into
fresh venvs and used from folders outside the checkout."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from packaging_helpers import REPO, RUNTIME_DIR, build_wheel  # noqa: E402

CROSS = "aarch64-linux-gnu-"


@pytest.fixture(scope="session")
def compiler_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None or shutil.which("gcc") is None:
        pytest.skip("building the wheels needs make and gcc")
    return build_wheel(REPO, tmp_path_factory.mktemp("compiler_wheel"))


@pytest.fixture(scope="session")
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None or shutil.which("gcc") is None:
        pytest.skip("building the wheels needs make and gcc")
    return build_wheel(RUNTIME_DIR, tmp_path_factory.mktemp("runtime_wheel"))


@pytest.fixture(scope="session")
def runtime_wheel_aarch64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [t for t in (f"{CROSS}gcc", f"{CROSS}ar", f"{CROSS}strip") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the aarch64 wheel needs {', '.join(missing)}: apt-get install gcc-aarch64-linux-gnu")
    return build_wheel(RUNTIME_DIR, tmp_path_factory.mktemp("runtime_wheel_aarch64"), {"CROSS_COMPILE": CROSS})
