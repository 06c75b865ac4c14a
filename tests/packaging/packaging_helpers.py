"""Helpers of the packaging tests: build a wheel with pip, make a venv that sees only what a test
lets it see, install into it. A uniquely named module (see tests/runtime/runtime_helpers.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DIR = REPO / "runtime_min"
EM_X86_64, EM_AARCH64 = 62, 183


def build_wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    """`pip wheel` of `source` into `out` (build isolation as a user gets it; the build backend
    comes from pip's cache or PyPI); returns the wheel."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"pip wheel {source} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    (wheel,) = out.glob("*.whl")
    return wheel


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def platform_tag(wheel: Path) -> str:
    """The platform part of a wheel file name (`name-version-py-abi-platform.whl`)."""
    return wheel.name.removesuffix(".whl").split("-")[-1]


def elf_machine(path: Path) -> int:
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(data[18:20], "little")


def make_venv(root: Path, site_dirs: list[Path]) -> Path:
    """A venv without pip whose only imports beyond the standard library are what gets installed
    into it and `site_dirs` (one .pth line each: their own .pth files are not read, so an
    editable install of the checkout there stays invisible); returns its python."""
    venv.create(root, with_pip=False, symlinks=True)
    python = root / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "ronn_test_paths.pth").write_text("".join(f"{d}\n" for d in site_dirs))
    return python


def pip_install(python: Path, wheel: Path, *args: str) -> None:
    """Install `wheel` into the venv of `python` with this interpreter's pip, offline."""
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "-q",
                           *args, str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"installing {wheel.name} failed:\n{proc.stdout}\n{proc.stderr}"


def numpy_only_dir(root: Path) -> Path:
    """A folder holding (links to) NumPy and its metadata, nothing else: a venv given it sees
    NumPy as installed, and no TVM, onnx or ronn_aot."""
    package = Path(np.__file__).resolve().parent
    site = package.parent
    root.mkdir(parents=True)
    for entry in [package, *site.glob("numpy.libs"), *site.glob(f"numpy-{np.__version__}.dist-info")]:
        (root / entry.name).symlink_to(entry)
    return root


def run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def glibc_tag(tag: str, arch: str) -> bool:
    return re.fullmatch(rf"(manylinux_2_\d+|linux)_{arch}", tag) is not None
