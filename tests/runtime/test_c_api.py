"""The C API's argument checks, called through ctypes exactly as a C caller would."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from runtime_helpers import aligned_array, random_input
from make_fixture import COLS, INFO, ROWS, reference
from ronn_runtime import _capi
from ronn_runtime._errors import RonnRuntimeError

F32 = (2, 32, 1)
I64 = (0, 64, 1)


class Api:
    def __init__(self, path: Path, threads: int = 1, profile: bool = False) -> None:
        self.lib = _capi.library()
        model, session = ctypes.c_void_p(), ctypes.c_void_p()
        _capi.check(self.lib, self.lib.ronn_model_load(str(path).encode(), None, ctypes.byref(model)))
        self.model = model.value
        options = _capi.SessionOptions()
        self.lib.ronn_session_options_initialize(ctypes.byref(options))
        options.num_threads = threads
        options.profile = int(profile)
        _capi.check(self.lib, self.lib.ronn_session_create(self.model, ctypes.byref(options),
                                                           ctypes.byref(session)))
        self.session = session.value
        self.keep: list[object] = []

    def tensor(self, name: str | None, array: np.ndarray | None, dtype: tuple[int, int, int],
               shape: tuple[int, ...]) -> _capi.Tensor:
        dims = (ctypes.c_int64 * max(1, len(shape)))(*shape)
        self.keep += [dims, array]
        t = _capi.Tensor(name.encode() if name is not None else None,
                         array.ctypes.data if array is not None else None,
                         _capi.Dtype(*dtype), len(shape), dims)
        return t

    def outputs(self, z_offset: int = 0) -> tuple[list[np.ndarray], list[_capi.Tensor]]:
        arrays = [aligned_array((ROWS, COLS), np.float32), aligned_array((ROWS, COLS), np.float32, z_offset),
                  aligned_array((INFO,), np.int64)]
        tensors = [self.tensor(None, arrays[0], F32, (ROWS, COLS)),
                   self.tensor("z/reversed", arrays[1], F32, (ROWS, COLS)),
                   self.tensor(None, arrays[2], I64, (INFO,))]
        return arrays, tensors

    def run(self, inputs: list[_capi.Tensor], outputs: list[_capi.Tensor]) -> None:
        ins = (_capi.Tensor * max(1, len(inputs)))(*inputs)
        outs = (_capi.Tensor * max(1, len(outputs)))(*outputs)
        _capi.check(self.lib, self.lib.ronn_session_run(self.session, ins, len(inputs), outs,
                                                        len(outputs)))

    def close(self) -> None:
        self.lib.ronn_session_release(self.session)
        self.lib.ronn_model_release(self.model)


@pytest.fixture
def api(fixture_so: Path) -> Iterator[Api]:
    a = Api(fixture_so, threads=2)
    yield a
    a.close()


def expect_error(api: Api, inputs: list[_capi.Tensor], outputs: list[_capi.Tensor], message: str) -> None:
    with pytest.raises(RonnRuntimeError) as err:
        api.run(inputs, outputs)
    assert err.value.code == "INVALID_ARGUMENT"
    assert err.value.message == message


def test_inputs_by_position(api: Api) -> None:
    x = random_input()
    arrays, outs = api.outputs()
    api.run([api.tensor(None, x, F32, (ROWS, COLS))], outs)
    np.testing.assert_array_equal(arrays[0], reference(x)[0])
    np.testing.assert_array_equal(arrays[1], reference(x)[1])


def test_misaligned_output_is_staged_and_copied_out(api: Api) -> None:
    x = random_input()
    arrays, outs = api.outputs(z_offset=8)
    api.run([api.tensor("x", x, F32, (ROWS, COLS))], outs)
    np.testing.assert_array_equal(arrays[1], reference(x)[1])
    assert arrays[2][3] != arrays[1].ctypes.data, "the kernel must have written a staging area"
    assert arrays[2][3] % 64 == 0


def test_input_count(api: Api) -> None:
    x = random_input()
    _, outs = api.outputs()
    xt = api.tensor("x", x, F32, (ROWS, COLS))
    expect_error(api, [xt, xt], outs, "expected 1 inputs ('x'), got 2")
    expect_error(api, [], outs, "expected 1 inputs ('x'), got 0")


def test_unknown_input(api: Api) -> None:
    x = random_input()
    _, outs = api.outputs()
    expect_error(api, [api.tensor("X", x, F32, (ROWS, COLS))], outs,
                 "unknown input 'X': the model's inputs are 'x'")


def test_input_dtype_rank_and_data(api: Api) -> None:
    x = random_input()
    _, outs = api.outputs()
    expect_error(api, [api.tensor("x", x, (2, 16, 1), (ROWS, COLS))], outs,
                 "input 'x': expected shape [4,256] float32, got [4,256] float16")
    expect_error(api, [api.tensor("x", x, F32, (ROWS, COLS, 1))], outs,
                 "input 'x': expected shape [4,256] float32, got [4,256,1] float32")
    expect_error(api, [api.tensor("x", x, (2, 32, 4), (ROWS, COLS))], outs,
                 "input 'x': expected shape [4,256] float32, got [4,256] float32x4")
    expect_error(api, [api.tensor("x", None, F32, (ROWS, COLS))], outs, "input 'x': data is NULL")


def test_output_checks(api: Api) -> None:
    x = random_input()
    xt = api.tensor("x", x, F32, (ROWS, COLS))
    arrays, outs = api.outputs()
    expect_error(api, [xt], outs[:2], "expected 3 output buffers in model order, got 2")
    named_info = api.tensor("info", arrays[2], I64, (INFO,))
    expect_error(api, [xt], [outs[0], named_info, outs[1]],
                 "output 1 is 'z/reversed', got a buffer named 'info': pass outputs in model order")
    bad = api.tensor(None, arrays[2], F32, (INFO,))
    expect_error(api, [xt], [outs[0], outs[1], bad],
                 "output 'info': expected shape [8] int64, got [8] float32")


def test_null_arguments_are_errors_not_crashes(fixture_so: Path) -> None:
    lib = _capi.library()
    model = ctypes.c_void_p()
    status = lib.ronn_model_load(None, None, ctypes.byref(model))
    with pytest.raises(RonnRuntimeError, match="path is NULL"):
        _capi.check(lib, status)
    with pytest.raises(RonnRuntimeError, match="session is NULL"):
        _capi.check(lib, lib.ronn_session_run(None, None, 0, None, 0))
    with pytest.raises(RonnRuntimeError, match="model or out_session is NULL"):
        _capi.check(lib, lib.ronn_session_create(None, None, None))
    _capi.check(lib, lib.ronn_model_load(str(fixture_so).encode(), None, ctypes.byref(model)))
    info = _capi.TensorInfo()
    with pytest.raises(RonnRuntimeError, match="output index 3 is out of range: the model has 3"):
        _capi.check(lib, lib.ronn_model_output_info(model, 3, ctypes.byref(info)))
    options = _capi.SessionOptions(-1)
    session = ctypes.c_void_p()
    with pytest.raises(RonnRuntimeError, match="num_threads is -1"):
        _capi.check(lib, lib.ronn_session_create(model, ctypes.byref(options), ctypes.byref(session)))
    assert session.value is None
    lib.ronn_model_release(model)
    lib.ronn_status_free(None)
    assert lib.ronn_status_code_name(7) == b"KERNEL_FAILED"


def test_session_keeps_the_model_alive(fixture_so: Path) -> None:
    lib = _capi.library()
    model, session = ctypes.c_void_p(), ctypes.c_void_p()
    _capi.check(lib, lib.ronn_model_load(str(fixture_so).encode(), None, ctypes.byref(model)))
    _capi.check(lib, lib.ronn_session_create(model, None, ctypes.byref(session)))
    lib.ronn_model_release(model)  # the session still holds a reference: the library stays mapped
    api = Api.__new__(Api)
    api.lib, api.model, api.session, api.keep = lib, None, session.value, []
    x = random_input()
    arrays, outs = api.outputs()
    api.run([api.tensor("x", x, F32, (ROWS, COLS))], outs)
    np.testing.assert_array_equal(arrays[1], reference(x)[1])
    lib.ronn_session_release(session)


@pytest.mark.parametrize("profile", [False, True])
def test_profiling_is_an_option_and_the_library_reads_no_environment(
        fixture_so: Path, profile: bool, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    """ronn_session_options.profile prints the per-step table at release; RONN_PROFILE is the
    tools' override (ronn-run, the Python binding), not read by the C library."""
    monkeypatch.setenv("RONN_PROFILE", "0" if profile else "1")
    a = Api(fixture_so, threads=2, profile=profile)
    x = random_input()
    _, outs = a.outputs()
    a.run([a.tensor("x", x, F32, (ROWS, COLS))], outs)
    a.close()
    assert ("ronn profile: 1 runs" in capfd.readouterr().err) == profile
