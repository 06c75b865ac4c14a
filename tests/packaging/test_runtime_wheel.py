"""The ronn-runtime wheel (runtime_min/: library, binding, ronn-run; numpy only) for x86-64 and,
cross-built, for aarch64 (run under qemu-user); `make install` for C users."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from packaging_helpers import (EM_AARCH64, RUNTIME_DIR, elf_machine, glibc_tag, make_venv, numpy_only_dir,
                               pip_install, platform_tag, run, wheel_names)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "fixtures"))
import make_fixture  # noqa: E402

pytestmark = pytest.mark.packaging

SYSROOT = Path("/usr/aarch64-linux-gnu")
BINARIES = ("ronn_runtime/libronn_runtime.so", "ronn_runtime/ronn-run")
WHEEL_BUDGET = 200 * 1024


def _input(tmp_path: Path) -> tuple[np.ndarray, Path]:
    x = np.random.default_rng(0).standard_normal((make_fixture.ROWS, make_fixture.COLS)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return x, tmp_path / "x.npy"


def _check_outputs(x: np.ndarray, out: Path) -> None:
    y, z = make_fixture.reference(x)
    np.testing.assert_array_equal(np.load(out / "y.npy"), y)
    np.testing.assert_array_equal(np.load(out / "z_reversed.npy"), z)


def test_runtime_wheel_runs_an_artifact_in_a_venv_without_tvm(runtime_wheel: Path, tmp_path: Path) -> None:
    assert runtime_wheel.stat().st_size < WHEEL_BUDGET
    assert glibc_tag(platform_tag(runtime_wheel), platform.machine()), runtime_wheel.name
    names = wheel_names(runtime_wheel)
    assert set(BINARIES) <= names and not any(n.startswith("ronn_aot") for n in names)
    with zipfile.ZipFile(runtime_wheel) as z:
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert [line for line in metadata.splitlines() if line.startswith("Requires-Dist")] == ["Requires-Dist: numpy>=1.21"]

    python = make_venv(tmp_path / "venv", [numpy_only_dir(tmp_path / "numpy_only")])
    pip_install(python, runtime_wheel)  # offline: resolves its numpy dependency to the one it sees
    artifact = make_fixture.build(tmp_path / "fixture.so")
    x, x_npy = _input(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    script = textwrap.dedent(f"""
        import importlib.util, numpy as np, ronn_runtime
        assert importlib.util.find_spec("tvm") is None and importlib.util.find_spec("ronn_aot") is None
        print(ronn_runtime.library_path())
        outs = ronn_runtime.InferenceSession({str(artifact)!r}).run(None, {{"x": np.load({str(x_npy)!r})}})
        np.save("y.npy", outs[0]); np.save("z_reversed.npy", outs[1])
    """)
    env = {k: v for k, v in os.environ.items() if k != "RONN_RUNTIME_LIBRARY"}
    proc = subprocess.run([str(python), "-c", script], cwd=work, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve().is_relative_to((tmp_path / "venv").resolve())
    _check_outputs(x, work)

    proc = subprocess.run([str(python.parent / "ronn-run"), str(artifact), "--input", f"x={x_npy}",
                           "--output-dir", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    _check_outputs(x, tmp_path / "out")
    usage = subprocess.run([str(python.parent / "ronn-run")], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: ronn-run" in usage.stderr  # the C tool's own exit code


def test_aarch64_runtime_wheel_runs_under_qemu(runtime_wheel_aarch64: Path, tmp_path: Path) -> None:
    wheel = runtime_wheel_aarch64
    assert glibc_tag(platform_tag(wheel), "aarch64"), wheel.name
    assert wheel.stat().st_size < WHEEL_BUDGET
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "wheel")
    library, ronn_run = (tmp_path / "wheel" / n for n in BINARIES)
    assert elf_machine(library) == elf_machine(ronn_run) == EM_AARCH64
    if shutil.which("readelf"):
        assert "AArch64" in run(["readelf", "-h", str(library)])
    if shutil.which("qemu-aarch64") is None or not SYSROOT.is_dir():
        pytest.skip("running the aarch64 wheel needs qemu-user and the aarch64 sysroot (gcc-aarch64-linux-gnu)")
    artifact = make_fixture.build(tmp_path / "fixture.so", cc="aarch64-linux-gnu-gcc", strip="aarch64-linux-gnu-strip")
    x, x_npy = _input(tmp_path)
    ronn_run.chmod(0o755)  # zipfile drops the mode pip would restore
    run(["qemu-aarch64", "-L", str(SYSROOT), str(ronn_run), str(artifact), "--input", f"x={x_npy}",
         "--output-dir", str(tmp_path / "out")])
    _check_outputs(x, tmp_path / "out")
    # The wheel's shared library too: ronn-run's sources linked against it instead of the static one.
    dynamic = tmp_path / "ronn-run-dynamic"
    run(["aarch64-linux-gnu-gcc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", f"-I{RUNTIME_DIR / 'include'}",
         *map(str, sorted((RUNTIME_DIR / "tools").glob("*.c"))), f"-L{library.parent}", "-lronn_runtime", "-lm",
         "-o", str(dynamic)])
    run(["qemu-aarch64", "-L", str(SYSROOT), "-E", f"LD_LIBRARY_PATH={library.parent}", str(dynamic), str(artifact),
         "--input", f"x={x_npy}", "--output-dir", str(tmp_path / "out_dynamic")])
    _check_outputs(x, tmp_path / "out_dynamic")


def test_make_install_serves_c_users_through_pkg_config(tmp_path: Path) -> None:
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    prefix = tmp_path / "prefix"
    run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={tmp_path / 'build'}", "install", f"PREFIX={prefix}"])
    for path in ("bin/ronn-run", "lib/libronn_runtime.so", "lib/libronn_runtime.a", "include/ronn/runtime.h",
                 "include/ronn/artifact_abi.h", "lib/pkgconfig/ronn-runtime.pc"):
        assert (prefix / path).is_file(), path
    env = {"PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    flags = run(["pkg-config", "--cflags", "--libs", "ronn-runtime"], env=env).split()
    program = tmp_path / "inputs.c"
    program.write_text(textwrap.dedent("""
        #include <stdio.h>
        #include <ronn/runtime.h>
        int main(int argc, char** argv) {
          ronn_model* model = NULL;
          ronn_status* status = ronn_model_load(argv[1], NULL, &model);
          if (status) { ronn_status_free(status); return 1; }
          printf("%zu\\n", ronn_model_num_inputs(model));
          ronn_model_release(model);
          return 0;
        }
    """))
    run(["gcc", "-std=c99", str(program), "-o", str(tmp_path / "inputs"), *flags])
    artifact = make_fixture.build(tmp_path / "fixture.so")
    out = run([str(tmp_path / "inputs"), str(artifact)], env={"LD_LIBRARY_PATH": str(prefix / "lib")})
    assert out.strip() == "1"
