"""setuptools steps shared by the two wheels that carry runtime_min: `ronn-runtime` (built from
this folder) and `ronn-aot` (built from the checkout's root).

`build_py` runs `make` and puts the C library (and, for ronn-runtime, ronn-run) inside the
`ronn_runtime` package; `bdist_wheel` tags the wheel for the binaries actually built, read from
the library's ELF header, so a cross build (`CROSS_COMPILE=aarch64-linux-gnu-` in the
environment, which make reads) is tagged for aarch64 without a flag to keep in step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import Distribution
from setuptools.command.build_py import build_py as _build_py

from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel  # setuptools >= 70.1

RUNTIME_DIR = Path(__file__).resolve().parent
LIBRARY = "libronn_runtime.so"
RONN_RUN = "ronn-run"

# ELF e_machine -> the architecture name wheel platform tags use.
_ELF_MACHINES = {62: "x86_64", 183: "aarch64"}


def make(build_dir: Path) -> Path:
    """`make -C runtime_min` into `build_dir` (CC, AR, STRIP, CROSS_COMPILE and CFLAGS come from
    the environment); returns `build_dir`."""
    if shutil.which("make") is None:
        raise RuntimeError("building runtime_min needs 'make' and a C compiler (apt-get install make gcc)")
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={build_dir}", "all"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building runtime_min failed:\n{proc.stdout}{proc.stderr}")
    return build_dir


def platform_tag(library: Path) -> str:
    """`manylinux_2_<N>_<arch>` for an ELF shared library: the architecture from its header, N the
    newest glibc symbol version it needs (`linux_<arch>` when it names none)."""
    data = library.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise RuntimeError(f"{library} is not a little-endian 64-bit ELF file")
    machine = int.from_bytes(data[18:20], "little")
    if machine not in _ELF_MACHINES:
        raise RuntimeError(f"{library} is built for ELF machine {machine}, which no wheel tag here names "
                           f"(known: {', '.join(_ELF_MACHINES.values())})")
    arch = _ELF_MACHINES[machine]
    # The version names a library needs are strings of its .dynstr; only GLIBC_2.N ones matter.
    minors = [int(m) for m in re.findall(rb"GLIBC_2\.(\d+)", data)]
    return f"manylinux_2_{max(minors)}_{arch}" if minors else f"linux_{arch}"


def build_py_with_runtime(files: tuple[str, ...]) -> type[_build_py]:
    """A build_py that also builds runtime_min and copies `files` (names in the make output) into
    the built `ronn_runtime` package. Editable installs skip it: their binding finds
    runtime_min/build/host (`make -C runtime_min`)."""

    class build_py(_build_py):
        def run(self) -> None:
            editable = getattr(self, "editable_mode", False)
            if not editable:  # setuptools reuses build/lib: a module moved or deleted since would ship
                shutil.rmtree(self.build_lib, ignore_errors=True)
            super().run()
            if editable:
                return
            package = Path(self.build_lib) / "ronn_runtime"
            package.mkdir(parents=True, exist_ok=True)
            # A fresh build folder each time: make's incremental build would keep the objects of
            # a build for another architecture.
            with tempfile.TemporaryDirectory(prefix="runtime_min-") as tmp:
                built = make(Path(tmp))
                for name in files:
                    shutil.copy2(built / name, package / name)

    return build_py


class BinaryDistribution(Distribution):
    """Carries a native library: installed as platform-specific (platlib), never as pure Python."""

    def has_ext_modules(self) -> bool:
        return True


class bdist_wheel(_bdist_wheel):
    """A wheel for any Python 3 (the binding is ctypes, not a CPython extension) on the platform
    the library was built for."""

    def get_tag(self) -> tuple[str, str, str]:
        library = Path(self.get_finalized_command("build_py").build_lib) / "ronn_runtime" / LIBRARY
        if not library.is_file():  # an editable install: no library built, the interpreter's tag
            return super().get_tag()
        return "py3", "none", platform_tag(library)
