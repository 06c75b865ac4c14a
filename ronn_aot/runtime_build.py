"""Build runtime_min (library + ronn-run) for a target with that target's toolchain."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolchainError
from .targets import Target

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime_min"


@dataclass(frozen=True)
class RuntimeBuild:
    library: Path
    static_library: Path
    ronn_run: Path


def build_runtime(target: Target, build_dir: Path | None = None) -> RuntimeBuild:
    """`make -C runtime_min` with the target's cc/ar/strip into build/<target> (incremental)."""
    cc, strip = target.toolchain.require()
    if shutil.which("make") is None:
        raise ToolchainError("'make' was not found on PATH; install it with: apt-get install make")
    out = build_dir or RUNTIME_DIR / "build" / target.name
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"CC={cc}", f"AR={target.toolchain.ar}",
                           f"STRIP={strip}", f"BUILD={out}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building runtime_min for {target.name} failed:\n{proc.stderr.strip()[-2000:]}")
    return RuntimeBuild(out / "libronn_runtime.so", out / "libronn_runtime.a", out / "ronn-run")
