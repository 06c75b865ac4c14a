"""runtime_min cross-built for aarch64 (the `qemu_runtime` fixture); qemu_run.py runs artifacts with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import qemu_ronn_run
from ronn_aot.targets import get_target

TARGET = get_target("aarch64")


@pytest.fixture(scope="session")
def qemu_runtime() -> tuple[list[str], Path]:
    """(qemu argv prefix, aarch64 ronn-run); skips when qemu or the cross toolchain is missing."""
    return qemu_ronn_run("aarch64")
