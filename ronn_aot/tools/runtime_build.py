"""Build runtime_min (library + ronn-run) for a target with that target's toolchain."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .. import resources
from ..errors import ToolchainError
from ..targets import Target


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
    source = resources.runtime_source_dir()
    out = build_dir or source / "build" / target.name
    proc = subprocess.run(["make", "-s", "-C", str(source), f"CC={cc}", f"AR={target.toolchain.ar}",
                           f"STRIP={strip}", f"BUILD={out}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(f"building runtime_min for {target.name} failed:\n{proc.stderr.strip()[-2000:]}")
    return RuntimeBuild(out / "libronn_runtime.so", out / "libronn_runtime.a", out / "ronn-run")
