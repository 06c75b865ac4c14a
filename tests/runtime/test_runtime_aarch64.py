"""runtime_min and the fixture cross-built for aarch64, run under qemu-user."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import make_fixture
import numpy as np
import pytest
from runtime_helpers import SIZE_BUDGET, check_needed, make_runtime, random_input

pytestmark = pytest.mark.cross

CROSS = "aarch64-linux-gnu-"
SYSROOT = Path("/usr/aarch64-linux-gnu")


@pytest.fixture(scope="module")
def cross(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    missing = [tool for tool in (f"{CROSS}gcc", f"{CROSS}ar", f"{CROSS}strip", "qemu-aarch64")
               if shutil.which(tool) is None]
    if missing or not SYSROOT.is_dir():
        pytest.skip(f"aarch64 cross testing needs {', '.join(missing) or SYSROOT}: apt-get install "
                    "gcc-aarch64-linux-gnu qemu-user")
    root = tmp_path_factory.mktemp("aarch64")
    built = make_runtime(root / "build", f"CC={CROSS}gcc", f"AR={CROSS}ar", f"STRIP={CROSS}strip")
    fixture = make_fixture.build(root / "fixture.so", cc=f"{CROSS}gcc", strip=f"{CROSS}strip")
    return built.ronn_run, fixture


def is_aarch64(path: Path) -> bool:
    return path.read_bytes()[18] == 0xB7  # e_machine = EM_AARCH64


def test_cross_build(cross: tuple[Path, Path]) -> None:
    ronn_run, fixture = cross
    library = ronn_run.parent / "libronn_runtime.so"
    for path in (ronn_run, fixture, library):
        assert is_aarch64(path)
        check_needed(path, f"{CROSS}readelf" if shutil.which(f"{CROSS}readelf") else "readelf")
    assert library.stat().st_size <= SIZE_BUDGET


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_ronn_run_under_qemu(cross: tuple[Path, Path], tmp_path: Path, threads: int) -> None:
    ronn_run, fixture = cross
    x = random_input(seed=threads)
    np.save(tmp_path / "x.npy", x)
    proc = subprocess.run(["qemu-aarch64", "-L", str(SYSROOT), str(ronn_run), str(fixture),
                           "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", str(tmp_path / "out"),
                           "--threads", str(threads), "--repeat", "3"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    y, z = make_fixture.reference(x)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "y.npy"), y)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "z_reversed.npy"), z)
    info = np.load(tmp_path / "out" / "info.npy")
    assert info[0] == threads and info[1] == (1 << threads) - 1


def test_errors_under_qemu(cross: tuple[Path, Path], tmp_path: Path) -> None:
    ronn_run, fixture = cross
    bad = np.zeros((make_fixture.ROWS, make_fixture.COLS), np.float32)
    bad[0, 0] = -777
    np.save(tmp_path / "bad.npy", bad)
    proc = subprocess.run(["qemu-aarch64", "-L", str(SYSROOT), str(ronn_run), str(fixture),
                           "--input", f"x={tmp_path / 'bad.npy'}", "--threads", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 5
    assert "par_reverse: task 1 of 2 refused" in proc.stderr
    truncated = tmp_path / "cut.so"
    truncated.write_bytes(fixture.read_bytes()[:5000])
    proc = subprocess.run(["qemu-aarch64", "-L", str(SYSROOT), str(ronn_run), str(truncated)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3 and "CORRUPT_ARTIFACT" in proc.stderr


def test_signed_fixture_and_rfc8032_vectors_under_qemu(cross: tuple[Path, Path], tmp_path: Path) -> None:
    """The Ed25519 verifier cross-built: RFC 8032's vectors, and a signed aarch64 fixture loads
    under its key and is refused under another."""
    from ronn_aot.artifact import signing

    ronn_run, fixture = cross
    build = ronn_run.parent
    make_runtime(build, f"CC={CROSS}gcc", f"AR={CROSS}ar", f"STRIP={CROSS}strip", "test-drivers")
    vectors = Path(__file__).resolve().parent / "fixtures" / "rfc8032_ed25519.txt"
    requests = "".join(f"verify {f[2]} {f[4]} {f[3]}\n" for f in
                       (line.split() for line in vectors.read_text().splitlines() if not line.startswith("#")))
    proc = subprocess.run(["qemu-aarch64", "-L", str(SYSROOT), str(build / "tests" / "ed25519_check")],
                          input=requests, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.split() == ["1"] * 5, proc.stderr
    private, public = signing.keygen(tmp_path / "key")
    _, other = signing.keygen(tmp_path / "other")
    signed = tmp_path / "signed.so"
    shutil.copyfile(fixture, signed)
    signing.sign(signed, private)
    run = ["qemu-aarch64", "-L", str(SYSROOT), str(ronn_run), str(signed), "--info", "--trusted-key"]
    assert subprocess.run([*run, str(public)], capture_output=True, timeout=120).returncode == 0
    refused = subprocess.run([*run, str(other)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 3 and "UNTRUSTED_SIGNER" in refused.stderr
