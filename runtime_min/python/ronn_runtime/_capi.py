"""ctypes declarations of runtime_min's C API (include/ronn/runtime.h) and library lookup."""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

from ._errors import RonnRuntimeError

LIBRARY_ENV = "RONN_RUNTIME_LIBRARY"
_LIBRARY_NAME = "libronn_runtime.so"


class Dtype(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", Dtype), ("ndim", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("nbytes", ctypes.c_uint64)]


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p), ("dtype", Dtype),
                ("ndim", ctypes.c_int32), ("shape", ctypes.POINTER(ctypes.c_int64))]


class PublicKey(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_uint8 * 32)]


class ModelOptions(ctypes.Structure):
    _fields_ = [("verify_integrity", ctypes.c_int), ("trusted_keys", ctypes.POINTER(PublicKey)),
                ("num_trusted_keys", ctypes.c_size_t), ("require_signature", ctypes.c_int),
                ("huge_pages", ctypes.c_int)]


SPIN_AUTO, SPIN_NEVER, SPIN_ALWAYS = 0, 1, 2  # ronn_spin_mode


class SessionOptions(ctypes.Structure):
    _fields_ = [("num_threads", ctypes.c_int32), ("spin", ctypes.c_int32),
                ("huge_pages", ctypes.c_int32), ("profile", ctypes.c_int32)]


class RunOptions(ctypes.Structure):
    _fields_ = [("route", ctypes.c_int32)]


class RouteStats(ctypes.Structure):
    _fields_ = [("fast_runs", ctypes.c_uint64), ("full_runs", ctypes.c_uint64),
                ("escalated_runs", ctypes.c_uint64), ("last_route", ctypes.c_int32)]


ROUTES = {"auto": 1, "fast": 2, "full": 3}  # ronn_route (0: the artifact's default)


def bundled(name: str) -> list[Path]:
    """Where a file built by runtime_min's make (the library, ronn-run) is looked for, in order:
    inside this package (wheels), next to it, then the source checkout's build tree
    (runtime_min/build/host, `make -C runtime_min`) for editable installs."""
    package = Path(__file__).resolve().parent
    return [package / name, package.parent / name, package.parents[1] / "build" / "host" / name]


def library_path() -> str:
    """Path of the libronn_runtime.so this package uses: $RONN_RUNTIME_LIBRARY, else the first of
    `bundled(...)` that exists."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        if not Path(env).is_file():
            raise RonnRuntimeError("NOT_FOUND", f"{LIBRARY_ENV}={env} does not name a file")
        return env
    candidates = bundled(_LIBRARY_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise RonnRuntimeError(
        "NOT_FOUND",
        f"{_LIBRARY_NAME} was not found (looked at {', '.join(map(str, candidates))}): install "
        f"the ronn-runtime wheel, build it with `make -C runtime_min` or point {LIBRARY_ENV} at it")


_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL] = {}


def _declare(lib: ctypes.CDLL) -> None:
    status = ctypes.c_void_p
    handle = ctypes.c_void_p
    signatures: dict[str, tuple[object, list[object]]] = {
        "ronn_status_get_code": (ctypes.c_int, [status]),
        "ronn_status_get_message": (ctypes.c_char_p, [status]),
        "ronn_status_free": (None, [status]),
        "ronn_status_code_name": (ctypes.c_char_p, [ctypes.c_int]),
        "ronn_public_key_read": (status, [ctypes.c_char_p, ctypes.POINTER(PublicKey)]),
        "ronn_model_options_initialize": (None, [ctypes.POINTER(ModelOptions)]),
        "ronn_model_load": (status, [ctypes.c_char_p, ctypes.POINTER(ModelOptions),
                                     ctypes.POINTER(handle)]),
        "ronn_model_release": (None, [handle]),
        "ronn_model_num_inputs": (ctypes.c_size_t, [handle]),
        "ronn_model_num_outputs": (ctypes.c_size_t, [handle]),
        "ronn_model_input_info": (status, [handle, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]),
        "ronn_model_output_info": (status, [handle, ctypes.c_size_t, ctypes.POINTER(TensorInfo)]),
        "ronn_model_metadata_json": (ctypes.c_char_p, [handle]),
        "ronn_model_arena_size": (ctypes.c_uint64, [handle]),
        "ronn_session_options_initialize": (None, [ctypes.POINTER(SessionOptions)]),
        "ronn_session_create": (status, [handle, ctypes.POINTER(SessionOptions),
                                         ctypes.POINTER(handle)]),
        "ronn_session_release": (None, [handle]),
        "ronn_session_run": (status, [handle, ctypes.POINTER(Tensor), ctypes.c_size_t,
                                      ctypes.POINTER(Tensor), ctypes.c_size_t]),
        "ronn_run_options_initialize": (None, [ctypes.POINTER(RunOptions)]),
        "ronn_session_run_with_options": (status, [handle, ctypes.POINTER(RunOptions),
                                                   ctypes.POINTER(Tensor), ctypes.c_size_t,
                                                   ctypes.POINTER(Tensor), ctypes.c_size_t]),
        "ronn_model_is_dual": (ctypes.c_int, [handle]),
        "ronn_session_route_stats": (status, [handle, ctypes.POINTER(RouteStats)]),
    }
    for name, (restype, argtypes) in signatures.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise RonnRuntimeError(
                "LOAD_FAILED", f"{lib._name} does not export {name}: it is older than this binding; "
                f"rebuild it (make -C runtime_min) or install a matching ronn-runtime") from None
        fn.restype = restype
        fn.argtypes = argtypes


def library() -> ctypes.CDLL:
    """The loaded runtime library (loaded once per path)."""
    path = library_path()
    with _lock:
        lib = _loaded.get(path)
        if lib is None:
            try:
                lib = ctypes.CDLL(path)
            except OSError as e:
                raise RonnRuntimeError("LOAD_FAILED", f"cannot load {path}: {e}") from None
            _declare(lib)
            _loaded[path] = lib
        return lib


def check(lib: ctypes.CDLL, status: int | None) -> None:
    """Raise RonnRuntimeError for a non-NULL ronn_status*, freeing it."""
    if not status:
        return
    try:
        code = lib.ronn_status_code_name(lib.ronn_status_get_code(status)).decode()
        message = lib.ronn_status_get_message(status).decode(errors="replace")
    finally:
        lib.ronn_status_free(status)
    raise RonnRuntimeError(code, message)
