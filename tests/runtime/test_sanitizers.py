"""The runtime under sanitizers. The default run builds runtime_min and its load_run driver with
ASan+UBSan and checks 300 load/session/run/release cycles (LeakSanitizer at exit) and 300
mutated, re-sealed artifacts (~20 s). `-m sanitizers` runs the full `make check-asan` (also the
runtime's Python tests on the sanitized library) and `make check-valgrind` (1,000 cycles)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from runtime_helpers import RUNTIME_DIR

from bench.fuzz.cli import SANITIZE_FLAGS, main as fuzz_main

ASAN_ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:exitcode=86", "UBSAN_OPTIONS": "halt_on_error=1"}


@pytest.fixture(scope="module")
def asan_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed")
    build = tmp_path_factory.mktemp("asan")
    proc = subprocess.run(["make", "-s", "-C", str(RUNTIME_DIR), f"BUILD={build}", f"CFLAGS={SANITIZE_FLAGS}",
                           "LDFLAGS=-fsanitize=address,undefined", "STRIP=true", "all", "test-drivers"],
                          capture_output=True, text=True)
    if proc.returncode != 0 and "asan" in proc.stderr.lower():
        pytest.skip(f"this toolchain cannot build with AddressSanitizer: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr
    return build


def test_cycles_leak_nothing(asan_build: Path, fixture_so: Path) -> None:
    proc = subprocess.run([str(asan_build / "tests" / "load_run"), "--cycles", "300", "--expect-ok",
                           str(fixture_so)], capture_output=True, text=True, env=ASAN_ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith(": OK")


def test_mutated_artifacts_under_asan(asan_build: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code = fuzz_main(["artifacts", "--sanitize", "--count", "300", "--seed", "5", "--build", str(asan_build),
                      "--out", str(tmp_path / "findings"), "--batch", "150"])
    out = capsys.readouterr().out
    assert code == 0, out


@pytest.mark.sanitizers
@pytest.mark.parametrize("target", ["check-asan", "check-valgrind"])
def test_make_check(target: str) -> None:
    if target == "check-valgrind" and shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    proc = subprocess.run(["make", "-C", str(RUNTIME_DIR), target], capture_output=True, text=True,
                          timeout=1200)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
