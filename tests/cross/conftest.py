"""runtime_min cross-built for aarch64 (the `qemu_runtime` fixture); qemu_run.py runs artifacts with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ronn_aot.errors import ToolchainError
from ronn_aot.tools.runtime_build import build_runtime
from ronn_aot.targets import get_target

TARGET = get_target("aarch64")


@pytest.fixture(scope="session")
def qemu_runtime() -> tuple[list[str], Path]:
    """(qemu argv prefix, aarch64 ronn-run); skips when qemu or the cross toolchain is missing."""
    prefix = TARGET.run.command_prefix(TARGET.arch)
    if prefix is None:
        pytest.skip(f"{TARGET.run.qemu} not found; install it with: apt-get install {TARGET.run.qemu_package}")
    try:
        built = build_runtime(TARGET)
    except ToolchainError as e:
        pytest.skip(str(e))
    return prefix, built.ronn_run
