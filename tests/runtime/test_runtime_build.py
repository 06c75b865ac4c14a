"""What the build promises: a small library exporting only the public API, binaries that need
nothing but the C library, warning-free sources, and a Python binding that never touches TVM."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runtime_helpers import RUNTIME_DIR, SIZE_BUDGET, RuntimeBuild, check_needed, make_runtime, needed

def public_functions() -> set[str]:
    header = (RUNTIME_DIR / "include" / "ronn" / "runtime.h").read_text()
    return set(re.findall(r"\b(ronn_\w+)\(", header))


def test_binaries_need_only_the_c_library(runtime: RuntimeBuild, fixture_so: Path) -> None:
    for path in (runtime.library, runtime.ronn_run, fixture_so):
        check_needed(path)


def test_library_is_stripped_and_small(runtime: RuntimeBuild) -> None:
    size = runtime.library.stat().st_size
    assert size <= SIZE_BUDGET, f"libronn_runtime.so is {size} bytes, budget {SIZE_BUDGET}"
    sections = subprocess.run(["readelf", "-S", str(runtime.library)], capture_output=True, text=True,
                              check=True).stdout
    assert ".symtab" not in sections and ".debug" not in sections


def test_library_exports_exactly_the_public_api(runtime: RuntimeBuild) -> None:
    out = subprocess.run(["nm", "-D", "--defined-only", str(runtime.library)], capture_output=True,
                         text=True, check=True).stdout
    exported = {line.split()[-1] for line in out.splitlines() if line.split()[1] in "TtWw"}
    assert exported == public_functions()


def test_ronn_run_links_the_runtime_statically(runtime: RuntimeBuild) -> None:
    assert "libronn_runtime" not in " ".join(needed(runtime.ronn_run))


def test_sources_compile_without_warnings(tmp_path: Path) -> None:
    built = make_runtime(tmp_path / "werror", "CFLAGS=-O2 -Werror")
    assert built.library.exists() and built.ronn_run.exists()


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang is not installed")
def test_builds_with_clang(tmp_path: Path) -> None:
    built = make_runtime(tmp_path / "clang", "CC=clang", "CFLAGS=-Os -Werror")
    assert built.library.exists()


def test_make_install(runtime: RuntimeBuild, tmp_path: Path) -> None:
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={runtime.build_dir}",
                           f"PREFIX={tmp_path / 'prefix'}", "install"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    installed = tmp_path / "prefix" / "bin" / "ronn-run"
    assert os.access(installed, os.X_OK)
    assert subprocess.run([str(installed), "--help"], capture_output=True).returncode == 0


def test_binding_runs_where_tvm_cannot_be_imported(runtime: RuntimeBuild, fixture_so: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("tvm", "tvm_ffi", "ronn_aot"):
            sys.modules[blocked] = None  # any import of these now raises ImportError
        sys.path.insert(0, {str(RUNTIME_DIR / "python")!r})
        import numpy as np
        import ronn_runtime
        sess = ronn_runtime.InferenceSession({str(fixture_so)!r}, num_threads=2)
        x = np.ones((4, 256), np.float32)
        y, z, info = sess.run(None, {{"x": x}})
        assert info[0] == 2
        loaded = [m for m, v in sys.modules.items() if v is not None and m.split(".")[0] in ("tvm", "tvm_ffi", "ronn_aot")]
        assert not loaded, loaded
        print(float(y.sum()))
    """)
    env = dict(os.environ, RONN_RUNTIME_LIBRARY=str(runtime.library))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    import make_fixture
    import numpy as np

    assert float(proc.stdout) == pytest.approx(float(make_fixture.reference(np.ones((4, 256), np.float32))[0].sum()))


def test_binding_finds_the_in_tree_build_without_the_environment(runtime: RuntimeBuild) -> None:
    """Editable installs find runtime_min/build/host/libronn_runtime.so relative to the source."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(RUNTIME_DIR / "python")!r})
        import ronn_runtime
        print(ronn_runtime.library_path())
    """)
    env = {k: v for k, v in os.environ.items() if k != "RONN_RUNTIME_LIBRARY"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    in_tree = RUNTIME_DIR / "build" / "host" / "libronn_runtime.so"
    if in_tree.exists():
        assert proc.returncode == 0 and proc.stdout.strip() == str(in_tree)
    else:
        assert proc.returncode != 0 and "make -C runtime_min" in proc.stderr

