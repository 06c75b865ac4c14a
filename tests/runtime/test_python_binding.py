"""The Python binding against the fixture artifact: numerics, threads, zero-copy and errors."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import ronn_runtime
from runtime_helpers import aligned_array, random_input
import make_fixture
from make_fixture import COLS, OUTPUT_NAMES, ROWS, reference


def run(path: Path, x: np.ndarray, threads: int = 1) -> list[np.ndarray]:
    with ronn_runtime.InferenceSession(path, num_threads=threads) as sess:
        return sess.run(None, {"x": x})


def test_io_description(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so)
    (x,) = sess.get_inputs()
    assert (x.name, x.shape, x.type, x.dtype) == ("x", [ROWS, COLS], "tensor(float)", np.float32)
    outs = sess.get_outputs()
    assert [o.name for o in outs] == OUTPUT_NAMES
    assert [o.type for o in outs] == ["tensor(float)", "tensor(float)", "tensor(int64)"]
    assert outs[2].shape == [8] and outs[2].dtype == np.int64
    assert sess.get_metadata() == {"producer": "tests/runtime fixture", "opt_level": 0}
    assert sess.arena_size == 4 * ROWS * COLS * 4 + 64


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_matches_numpy_and_uses_the_pool(fixture_so: Path, threads: int) -> None:
    with ronn_runtime.InferenceSession(fixture_so, num_threads=threads) as sess:
        # Many runs: a barrier or completion race shows up as a wrong z sooner or later.
        for seed in range(200):
            x = random_input(seed)
            y, z, info = sess.run(None, {"x": x})
            ref_y, ref_z = reference(x)
            np.testing.assert_array_equal(y, ref_y)
            np.testing.assert_array_equal(z, ref_z)
    assert info[0] == threads, "env.num_task must be the pool size when the kernel asks for 0"
    assert info[1] == (1 << threads) - 1, f"tasks that ran: {int(info[1]):b}"
    assert info[4] == 1, "a launch nested in task 0 must run serially"
    if threads > 1:
        assert info[5] == 1, "a launch from a worker thread must run serially"
    asked = min(3, threads)
    assert info[6] == asked, "a launch asking for 3 tasks gets min(3, pool size)"
    assert info[7] == (1 << asked) - 1


def test_default_threads_is_one_per_usable_cpu(fixture_so: Path) -> None:
    _, _, info = run(fixture_so, random_input(), threads=0)
    assert info[0] == len(os.sched_getaffinity(0))


def test_aligned_input_and_outputs_are_used_in_place(fixture_so: Path) -> None:
    x = random_input(offset=0)
    y, z, info = run(fixture_so, x)
    assert info[2] == x.ctypes.data, "a 64-byte aligned input must reach the kernel without a copy"
    assert info[3] == z.ctypes.data, "outputs must be written in place"
    assert y.ctypes.data % 64 == 0 and z.ctypes.data % 64 == 0


@pytest.mark.parametrize("offset", [4, 16, 32])
def test_misaligned_input_is_staged(fixture_so: Path, offset: int) -> None:
    x = random_input(seed=3, offset=offset)
    assert x.ctypes.data % 64 == offset
    y, z, info = run(fixture_so, x, threads=2)
    assert info[2] != x.ctypes.data and info[2] % 64 == 0
    np.testing.assert_array_equal(y, reference(x)[0])
    np.testing.assert_array_equal(z, reference(x)[1])


@pytest.fixture(scope="module")
def element_aligned_so(tmp_path_factory: pytest.TempPathFactory, fixture_so: Path) -> Path:
    """The fixture with its input marked as read at float32 alignment, as the compiler marks the
    inputs its kernels read at element alignment (ronn_aot/stages/input_alignment.py)."""
    plan = make_fixture.fixture_plan()
    plan.tensors[0] = replace(plan.tensors[0], align=4)
    return make_fixture.build(tmp_path_factory.mktemp("element_aligned") / "fixture.so", plan=plan,
                              defines=("INPUT_ALIGN=4u",))


@pytest.mark.parametrize("offset", [0, 4, 16, 36])
def test_input_read_at_element_alignment_is_used_in_place(element_aligned_so: Path, offset: int) -> None:
    x = random_input(seed=5, offset=offset)
    y, z, info = run(element_aligned_so, x, threads=2)
    assert info[2] == x.ctypes.data, "an element-aligned input must reach the kernel without a copy"
    np.testing.assert_array_equal(y, reference(x)[0])
    np.testing.assert_array_equal(z, reference(x)[1])


def test_input_below_its_element_alignment_is_staged(element_aligned_so: Path) -> None:
    raw = aligned_array((ROWS * COLS * 4 + 2,), np.uint8)
    raw[2:] = random_input(seed=6).reshape(-1).view(np.uint8)
    x = np.frombuffer(raw.data, np.float32, ROWS * COLS, offset=2).reshape(ROWS, COLS)
    assert x.ctypes.data % 4 == 2 and x.flags.c_contiguous
    y, _, info = run(element_aligned_so, x)
    assert info[2] != x.ctypes.data and info[2] % 64 == 0
    np.testing.assert_array_equal(y, reference(x)[0])


def test_aligned_helper_makes_inputs_that_skip_the_staging_copy(fixture_so: Path) -> None:
    x = random_input(seed=4, offset=16)  # where NumPy puts large arrays
    xa = ronn_runtime.aligned(x)
    assert xa.ctypes.data % 64 == 0 and xa.flags.c_contiguous
    np.testing.assert_array_equal(xa, x)
    y, _, info = run(fixture_so, xa)
    assert info[2] == xa.ctypes.data, "an aligned() input must reach the kernel without a copy"
    np.testing.assert_array_equal(y, reference(x)[0])
    assert ronn_runtime.aligned(xa) is xa  # already aligned and contiguous: no copy


def test_non_contiguous_input_is_accepted(fixture_so: Path) -> None:
    wide = np.random.default_rng(1).standard_normal((ROWS, 2 * COLS)).astype(np.float32)
    x = wide[:, ::2]
    assert not x.flags.c_contiguous
    y, _, _ = run(fixture_so, x)
    np.testing.assert_array_equal(y, reference(np.ascontiguousarray(x))[0])


def test_output_selection(fixture_so: Path) -> None:
    x = random_input()
    sess = ronn_runtime.InferenceSession(fixture_so, num_threads=1)
    z, y = sess.run(["z/reversed", "y"], {"x": x})
    np.testing.assert_array_equal(y, reference(x)[0])
    np.testing.assert_array_equal(z, reference(x)[1])
    with pytest.raises(ronn_runtime.RonnRuntimeError, match=r"unknown outputs \['nope'\]"):
        sess.run(["nope"], {"x": x})


def test_wrong_dtype_is_an_error_not_a_cast(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so)
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        sess.run(None, {"x": np.zeros((ROWS, COLS), np.float64)})
    assert err.value.code == "INVALID_ARGUMENT"
    assert "expected dtype float32, got float64" in str(err.value)
    assert "np.float32" in str(err.value)


def test_wrong_shape_message_comes_from_the_runtime(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so)
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        sess.run(None, {"x": np.zeros((ROWS, COLS - 1), np.float32)})
    assert err.value.code == "INVALID_ARGUMENT"
    assert err.value.message == "input 'x': expected shape [4,256] float32, got [4,255] float32"
    with pytest.raises(ronn_runtime.RonnRuntimeError, match=r"got \[1024\] float32"):
        sess.run(None, {"x": np.zeros(ROWS * COLS, np.float32)})


def test_wrong_input_names(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so)
    x = random_input()
    with pytest.raises(ronn_runtime.RonnRuntimeError, match=r"unknown \['X'\], missing \['x'\]"):
        sess.run(None, {"X": x})
    with pytest.raises(ronn_runtime.RonnRuntimeError, match=r"unknown \['extra'\], missing \[\]"):
        sess.run(None, {"x": x, "extra": x})


def test_kernel_error_names_the_step_and_keeps_the_session_usable(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so, num_threads=2)
    x = random_input()
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
        sess.run(None, {"x": bad})
    assert err.value.code == "KERNEL_FAILED"
    assert err.value.message == ("step 0, kernel 'fused_mul_add' failed: ValueError: "
                                 "fused_mul_add: x[0] is NaN")
    y, _, _ = sess.run(None, {"x": x})
    np.testing.assert_array_equal(y, reference(x)[0])


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_error_raised_in_a_parallel_task_reaches_the_caller(fixture_so: Path, threads: int) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so, num_threads=threads)
    x = random_input()
    bad = x.copy()
    bad[0, 0] = -777.0
    for _ in range(20):  # the failing task breaks the barrier the others wait at, every time
        with pytest.raises(ronn_runtime.RonnRuntimeError) as err:
            sess.run(None, {"x": bad})
        assert err.value.code == "KERNEL_FAILED"
        assert err.value.message == (f"step 2, kernel 'par_reverse' failed: RuntimeError: "
                                     f"par_reverse: task {threads - 1} of {threads} refused")
        _, z, info = sess.run(None, {"x": x})
        np.testing.assert_array_equal(z, reference(x)[1])
        assert info[0] == threads


def test_sessions_run_concurrently(fixture_so: Path) -> None:
    import threading

    failures: list[str] = []

    def worker(seed: int) -> None:
        with ronn_runtime.InferenceSession(fixture_so, num_threads=2) as sess:
            for i in range(50):
                x = random_input(seed * 100 + i)
                _, z, _ = sess.run(None, {"x": x})
                if not np.array_equal(z, reference(x)[1]):
                    failures.append(f"session {seed} run {i}")

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_one_session_shared_by_threads(fixture_so: Path) -> None:
    import threading

    sess = ronn_runtime.InferenceSession(fixture_so, num_threads=2)
    failures: list[str] = []

    def worker(seed: int) -> None:
        for i in range(50):
            x = random_input(seed * 100 + i, offset=4 * (i % 2))
            y, z, _ = sess.run(None, {"x": x})
            if not (np.array_equal(y, reference(x)[0]) and np.array_equal(z, reference(x)[1])):
                failures.append(f"thread {seed} run {i}")

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_closed_session_is_an_error(fixture_so: Path) -> None:
    sess = ronn_runtime.InferenceSession(fixture_so)
    sess.close()
    sess.close()
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="closed"):
        sess.run(None, {"x": random_input()})


def test_library_path_honours_the_environment(runtime, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    assert ronn_runtime.library_path() == str(runtime.library)
    monkeypatch.setenv("RONN_RUNTIME_LIBRARY", str(tmp_path / "missing.so"))
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="does not name a file") as err:
        ronn_runtime.library_path()
    assert err.value.code == "NOT_FOUND"


def test_aligned_array_helper_offsets() -> None:
    assert aligned_array((3,), np.float32, 0).ctypes.data % 64 == 0
    assert aligned_array((3,), np.float32, 8).ctypes.data % 64 == 8
