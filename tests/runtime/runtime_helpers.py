"""Helpers shared by the runtime tests. A uniquely named module: `from helpers import ...` is
ambiguous when pytest collects several test folders in one run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO / "runtime_min"
sys.path.insert(0, str(RUNTIME_DIR / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))

import make_fixture  # noqa: E402

ALLOWED_NEEDED = re.compile(r"(libc|libm|libpthread|libdl)\.so\.\d+|ld-linux[-\w.]*\.so\.\d+")
SIZE_BUDGET = 64 * 1024


@dataclass(frozen=True)
class RuntimeBuild:
    build_dir: Path
    library: Path
    static_library: Path
    ronn_run: Path


def extra_make_flags() -> list[str]:
    """make arguments from RONN_TEST_MAKE_FLAGS, for every build of the test session
    (`make check-asan` runs the runtime tests on a library built with sanitizers)."""
    return shlex.split(os.environ.get("RONN_TEST_MAKE_FLAGS", ""))


def make_runtime(build_dir: Path, *make_args: str) -> RuntimeBuild:
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={build_dir}", *make_args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"make failed:\n{proc.stdout}\n{proc.stderr}"
    return RuntimeBuild(build_dir, build_dir / "libronn_runtime.so", build_dir / "libronn_runtime.a",
                        build_dir / "ronn-run")


def needed(path: Path, readelf: str = "readelf") -> list[str]:
    out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def check_needed(path: Path, readelf: str = "readelf") -> None:
    libs = needed(path, readelf)
    assert libs, f"{path.name}: readelf found no NEEDED entries"
    bad = [lib for lib in libs if not ALLOWED_NEEDED.fullmatch(lib)]
    assert not bad, f"{path.name} needs {bad}; only libc/libm/libpthread/libdl are allowed"


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
