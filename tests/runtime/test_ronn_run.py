"""ronn-run end to end on .npy files, its output format and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import RuntimeBuild, random_input
from make_fixture import COLS, ROWS, reference

OK, USAGE, LOAD, INPUT, RUN = 0, 2, 3, 4, 5


def ronn_run(runtime: RuntimeBuild, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(runtime.ronn_run), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def x_npy(tmp_path: Path) -> tuple[np.ndarray, Path]:
    x = random_input(seed=7)
    np.save(tmp_path / "x.npy", x)
    return x, tmp_path / "x.npy"


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_runs_and_writes_outputs(runtime: RuntimeBuild, fixture_so: Path, x_npy, tmp_path: Path,
                                 threads: int) -> None:
    x, path = x_npy
    out = tmp_path / "out"
    proc = ronn_run(runtime, fixture_so, "--input", f"x={path}", "--output-dir", out, "--threads", threads)
    assert proc.returncode == OK, proc.stderr
    y, z = reference(x)
    np.testing.assert_array_equal(np.load(out / "y.npy"), y)
    np.testing.assert_array_equal(np.load(out / "z_reversed.npy"), z)  # '/' is not a directory
    info = np.load(out / "info.npy")
    assert info.dtype == np.int64 and info[0] == threads
    lines = proc.stdout.splitlines()
    assert lines[0] == "y: shape [4,256] float32"
    assert lines[1].startswith("  [") and lines[1].endswith(", ...] (1024 values)")
    first = [float(v) for v in lines[1].strip(" [").split("]")[0].split(", ")[:8]]
    np.testing.assert_allclose(first, y.reshape(-1)[:8], rtol=1e-5)
    assert lines[2] == "z/reversed: shape [4,256] float32"
    assert lines[4] == "info: shape [8] int64"
    assert lines[5].startswith(f"  [{threads}, {(1 << threads) - 1}, ")


def test_positional_input_and_equals_syntax(runtime: RuntimeBuild, fixture_so: Path, x_npy,
                                            tmp_path: Path) -> None:
    x, path = x_npy
    proc = ronn_run(runtime, fixture_so, f"--input={path}", f"--output-dir={tmp_path / 'o'}")
    assert proc.returncode == OK, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "y.npy"), reference(x)[0])


def test_npy_v2_header(runtime: RuntimeBuild, fixture_so: Path, tmp_path: Path) -> None:
    x = random_input(seed=9)
    path = tmp_path / "x2.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, x, version=(2, 0))
    proc = ronn_run(runtime, fixture_so, "--input", f"x={path}", "--output-dir", tmp_path / "o")
    assert proc.returncode == OK, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "z_reversed.npy"), reference(x)[1])


def test_repeat_prints_latency(runtime: RuntimeBuild, fixture_so: Path, x_npy) -> None:
    proc = ronn_run(runtime, fixture_so, "--input", f"x={x_npy[1]}", "--repeat", 7, "--threads", 2)
    assert proc.returncode == OK, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.startswith("latency over 7 runs: min ") and last.endswith(" ms")
    low, median = (float(part.split()[-2]) for part in last.split(":")[1].split(","))
    assert 0 < low <= median


def test_profile_names_every_step(runtime: RuntimeBuild, fixture_so: Path, x_npy) -> None:
    """RONN_PROFILE=1: at session release the steps' times go to stderr, slowest first, one row
    per plan step, with the kernel's name; without it nothing is printed."""
    env = {**os.environ, "RONN_PROFILE": "1"}
    proc = subprocess.run([str(runtime.ronn_run), str(fixture_so), "--input", f"x={x_npy[1]}",
                           "--repeat", "5"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == OK, proc.stderr
    lines = proc.stderr.splitlines()
    head = lines[0].split()
    assert lines[0].startswith("ronn profile: ") and head[3] == "runs,"
    steps = int(head[-2])
    rows = [ln.split() for ln in lines[2:]]
    assert len(rows) == steps and sorted(int(r[0]) for r in rows) == list(range(steps))
    ms = [float(r[1]) for r in rows]
    assert ms == sorted(ms, reverse=True) and all(r[3] for r in rows)
    assert abs(sum(float(r[2]) for r in rows) - 100.0) < 0.1 * steps
    quiet = ronn_run(runtime, fixture_so, "--input", f"x={x_npy[1]}")
    assert "ronn profile" not in quiet.stderr


def test_info(runtime: RuntimeBuild, fixture_so: Path) -> None:
    proc = ronn_run(runtime, fixture_so, "--info")
    assert proc.returncode == OK, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1:7] == ["inputs:", "  x: [4,256] float32", "outputs:", "  y: [4,256] float32",
                          "  z/reversed: [4,256] float32", "  info: [8] int64"]
    assert lines[7] == f"arena: {4 * ROWS * COLS * 4 + 64} bytes"
    assert json.loads(lines[8].removeprefix("metadata: ")) == {"producer": "tests/runtime fixture",
                                                               "opt_level": 0}


@pytest.mark.parametrize("args, message", [
    ([], "no model given"),
    (["{so}", "--threads", "many"], "--threads needs a count >= 0, got many"),
    (["{so}", "--repeat", "0"], "--repeat needs a count >= 1, got 0"),
    (["{so}", "--bogus"], "unknown option --bogus"),
    (["{so}", "{so}"], "more than one model given"),
    (["{so}", "--input"], "--input needs NAME=FILE.npy"),
])
def test_usage_errors(runtime: RuntimeBuild, fixture_so: Path, args: list[str], message: str) -> None:
    proc = ronn_run(runtime, *(a.format(so=fixture_so) for a in args))
    assert proc.returncode == USAGE
    assert message in proc.stderr and "usage: ronn-run" in proc.stderr


def test_help(runtime: RuntimeBuild) -> None:
    proc = ronn_run(runtime, "--help")
    assert proc.returncode == OK and proc.stdout.startswith("usage: ronn-run")


def test_load_errors(runtime: RuntimeBuild, tmp_path: Path) -> None:
    proc = ronn_run(runtime, tmp_path / "missing.so")
    assert proc.returncode == LOAD
    assert "cannot load model: NOT_FOUND" in proc.stderr
    (tmp_path / "junk.so").write_bytes(b"\0" * 200)
    proc = ronn_run(runtime, tmp_path / "junk.so", "--info")
    assert proc.returncode == LOAD and "CORRUPT_ARTIFACT" in proc.stderr


def test_model_path_without_a_slash_is_a_file_not_a_library_search(
        runtime: RuntimeBuild, fixture_so: Path) -> None:
    proc = subprocess.run([str(runtime.ronn_run), fixture_so.name, "--info"], cwd=fixture_so.parent,
                          capture_output=True, text=True)
    assert proc.returncode == OK, proc.stderr


def save_raw(path: Path, descr: str, shape: tuple[int, ...], fortran: bool = False,
             payload: bytes | None = None) -> Path:
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    header += " " * (-(10 + len(header) + 1) % 64) + "\n"
    body = payload if payload is not None else bytes(int(np.prod(shape)) * int(descr[2:]))
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body)
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: save_raw(d / "f.npy", "<f4", (ROWS, COLS), fortran=True), "Fortran-order"),
    (lambda d: save_raw(d / "b.npy", ">f4", (ROWS, COLS)), "big-endian dtype '>f4' is not supported"),
    (lambda d: save_raw(d / "c.npy", "<c8", (ROWS, COLS)), "unsupported dtype '<c8'"),
    (lambda d: save_raw(d / "t.npy", "<f4", (ROWS, COLS), payload=b"\0" * 100),
     "truncated: the file holds 100 bytes of data, its header says 4096"),
    (lambda d: d / "absent.npy", "cannot open"),
    (lambda d: write(d / "n.npy", b"PK\x03\x04 not npy"), "not a .npy file"),
])
def test_bad_npy_inputs(runtime: RuntimeBuild, fixture_so: Path, tmp_path: Path, make, message: str) -> None:
    proc = ronn_run(runtime, fixture_so, "--input", f"x={make(tmp_path)}")
    assert proc.returncode == INPUT
    assert message in proc.stderr, proc.stderr


@pytest.mark.parametrize("dtype, name", [
    (np.float16, "float16"), (np.float64, "float64"), (np.int8, "int8"), (np.int16, "int16"),
    (np.int32, "int32"), (np.int64, "int64"), (np.uint8, "uint8"), (np.uint16, "uint16"),
    (np.uint32, "uint32"), (np.uint64, "uint64"), (np.bool_, "bool"),
])
def test_every_npy_dtype_is_read_and_checked(runtime: RuntimeBuild, fixture_so: Path, tmp_path: Path,
                                             dtype: type, name: str) -> None:
    np.save(tmp_path / "x.npy", np.zeros((ROWS, COLS), dtype))
    proc = ronn_run(runtime, fixture_so, "--input", f"x={tmp_path / 'x.npy'}")
    assert proc.returncode == INPUT
    assert f"input 'x': expected shape [4,256] float32, got [4,256] {name}" in proc.stderr


def test_input_errors_from_the_runtime(runtime: RuntimeBuild, fixture_so: Path, x_npy, tmp_path: Path) -> None:
    _, path = x_npy
    proc = ronn_run(runtime, fixture_so, "--input", f"wrong={path}")
    assert proc.returncode == INPUT
    assert "unknown input 'wrong': the model's inputs are 'x'" in proc.stderr
    proc = ronn_run(runtime, fixture_so, "--input", f"x={path}", "--input", f"x={path}")
    assert proc.returncode == INPUT and "expected 1 inputs ('x'), got 2" in proc.stderr
    proc = ronn_run(runtime, fixture_so)
    assert proc.returncode == INPUT and "expected 1 inputs ('x'), got 0" in proc.stderr
    np.save(tmp_path / "s.npy", np.zeros((ROWS, 3), np.float32))
    proc = ronn_run(runtime, fixture_so, "--input", f"x={tmp_path / 's.npy'}")
    assert proc.returncode == INPUT and "expected shape [4,256] float32, got [4,3] float32" in proc.stderr


def test_kernel_failure_is_a_run_error(runtime: RuntimeBuild, fixture_so: Path, tmp_path: Path) -> None:
    x = np.zeros((ROWS, COLS), np.float32)
    x[0, 0] = -777
    np.save(tmp_path / "x.npy", x)
    proc = ronn_run(runtime, fixture_so, "--input", f"x={tmp_path / 'x.npy'}", "--threads", 3)
    assert proc.returncode == RUN
    assert ("run failed: KERNEL_FAILED: step 2, kernel 'par_reverse' failed: RuntimeError: "
            "par_reverse: task 2 of 3 refused") in proc.stderr


def test_unwritable_output_dir(runtime: RuntimeBuild, fixture_so: Path, x_npy, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = ronn_run(runtime, fixture_so, "--input", f"x={x_npy[1]}", "--output-dir", blocker / "sub")
    assert proc.returncode == RUN and "cannot create output directory" in proc.stderr


def test_output_names_that_collide_after_sanitizing(runtime: RuntimeBuild, tmp_path: Path) -> None:
    import make_fixture

    plan = make_fixture.fixture_plan()
    plan.tensors[4].name = "a/b"
    plan.tensors[5].name = "a_b"
    path = make_fixture.build(tmp_path / "m.so", plan=plan)
    x = random_input()
    np.save(tmp_path / "x.npy", x)
    proc = ronn_run(runtime, path, "--input", f"x={tmp_path / 'x.npy'}", "--output-dir", tmp_path / "o")
    assert proc.returncode == OK, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "a_b.npy"), reference(x)[0])
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "a_b_1.npy"), reference(x)[1])
