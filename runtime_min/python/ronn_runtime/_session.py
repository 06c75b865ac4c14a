"""InferenceSession: an onnxruntime-shaped wrapper around a ronn_model + ronn_session."""

from __future__ import annotations

import ctypes
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _capi
from ._errors import RonnRuntimeError

_ALIGNMENT = 64

# (DLPack code, bits) -> (numpy dtype name, onnxruntime type string)
_DTYPES: dict[tuple[int, int], tuple[str, str]] = {
    (2, 16): ("float16", "tensor(float16)"), (2, 32): ("float32", "tensor(float)"),
    (2, 64): ("float64", "tensor(double)"), (4, 16): ("bfloat16", "tensor(bfloat16)"),
    (0, 8): ("int8", "tensor(int8)"), (0, 16): ("int16", "tensor(int16)"),
    (0, 32): ("int32", "tensor(int32)"), (0, 64): ("int64", "tensor(int64)"),
    (1, 8): ("uint8", "tensor(uint8)"), (1, 16): ("uint16", "tensor(uint16)"),
    (1, 32): ("uint32", "tensor(uint32)"), (1, 64): ("uint64", "tensor(uint64)"),
    (6, 8): ("bool", "tensor(bool)"),
}


def _numpy_dtype(name: str) -> np.dtype[Any] | None:
    if name == "bfloat16":
        try:
            import ml_dtypes  # type: ignore[import-not-found]
        except ImportError:
            return None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


@dataclass(frozen=True)
class NodeArg:
    """A model input or output, like onnxruntime.NodeArg (`dtype` is None when NumPy lacks it)."""

    name: str
    shape: list[int]
    type: str
    dtype: np.dtype[Any] | None
    _dl: tuple[int, int, int] = field(repr=False, compare=False)  # (code, bits, lanes) for C


def _node_arg(info: _capi.TensorInfo) -> NodeArg:
    code, bits, lanes = info.dtype.code, info.dtype.bits, info.dtype.lanes
    name, ort_type = _DTYPES.get((code, bits), (f"dtype(code={code},bits={bits})", "tensor(unknown)"))
    if lanes != 1:
        name, ort_type = f"{name}x{lanes}", "tensor(unknown)"
    # surrogateescape: a name that is not valid UTF-8 still round-trips to the same C bytes.
    return NodeArg(info.name.decode(errors="surrogateescape"), [int(info.shape[d]) for d in range(info.ndim)], ort_type,
                   _numpy_dtype(name) if lanes == 1 and (code, bits) in _DTYPES else None,
                   (code, bits, lanes))


def _aligned_empty(shape: Sequence[int], dtype: np.dtype[Any]) -> np.ndarray:
    """An uninitialised C-contiguous array whose data is 64-byte aligned, so that the runtime
    writes outputs into it in place instead of staging them."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + _ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def aligned(array: Any) -> np.ndarray:
    """`array` as a C-contiguous array whose data is 64-byte aligned: itself when it already is,
    else a copy. Artifacts compiled before inputs were read at element alignment (plan tensor
    `align` 0) assume 64 bytes, so `run` copies a misaligned input into the session's memory
    first; an input made once with `aligned` and refilled in place skips that copy on every run
    (NumPy puts large arrays 16 bytes off: a 4 MiB input cost 0.35 ms a run)."""
    a = np.asarray(array)
    if a.flags.c_contiguous and a.ctypes.data % _ALIGNMENT == 0:
        return a
    out = _aligned_empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _env_flag(name: str, default: bool) -> bool:
    """An environment override of a runtime option (the C library reads no environment
    variable): unset or empty keeps `default`, "0" is off, anything else on."""
    value = os.environ.get(name, "")
    return default if value == "" else value != "0"


class InferenceSession:
    """Loads a ronn-aot artifact and runs it, in the manner of onnxruntime.InferenceSession.

    `num_threads` = 0 uses one thread per CPU; 1 runs on the calling thread only. One call to
    run() executes at a time per session (concurrent calls are serialised); use one session per
    thread for parallel inference.

    `spin`: None (default) lets waiting threads spin briefly before they sleep, less once the CPUs
    are found oversubscribed (RONN_SPIN=0 in the environment turns it off); False makes them sleep
    at once, for CPUs shared with other work; True spins whatever RONN_SPIN says.

    `trusted_keys` (paths of Ed25519 public-key files, e.g. the KEY.pub of `ronn-aot keygen`, or
    raw 32-byte keys) and `require_signature` make the load refuse artifacts that are not signed
    by one of those keys, checked before the library is loaded (RonnRuntimeError codes
    UNSIGNED_ARTIFACT, UNTRUSTED_SIGNER, BAD_SIGNATURE). Without them, RONN_TRUSTED_KEYS and
    RONN_REQUIRE_SIGNATURE in the environment apply.

    The environment also sets the options that have no argument here: RONN_PROFILE=1 prints each
    step's time to stderr when the session is closed, RONN_HUGE_PAGES=0 keeps the weights and the
    arena off transparent huge pages.
    """

    def __init__(self, path: str | os.PathLike[str], num_threads: int = 0, *,
                 spin: bool | None = None,
                 verify_integrity: bool = True,
                 trusted_keys: Sequence[str | os.PathLike[str] | bytes] | None = None,
                 require_signature: bool = False) -> None:
        self._lib = _capi.library()
        self._model: int | None = None
        self._session: int | None = None
        self._lock = threading.Lock()
        self.path = os.fspath(path)
        lib = self._lib
        options = _capi.ModelOptions()
        lib.ronn_model_options_initialize(ctypes.byref(options))
        options.verify_integrity = 1 if verify_integrity else 0
        # The device-wide signature policy of the environment, applied here: the library reads
        # no environment variable. RONN_REQUIRE_SIGNATURE only tightens; RONN_TRUSTED_KEYS names
        # the keys when the caller names none.
        options.require_signature = int(require_signature
                                        or _env_flag("RONN_REQUIRE_SIGNATURE", False))
        if not trusted_keys:
            trusted_keys = self._env_keys()
        options.huge_pages = int(_env_flag("RONN_HUGE_PAGES", bool(options.huge_pages)))
        keys = self._read_keys(trusted_keys or [])
        if keys:
            options.trusted_keys = keys
            options.num_trusted_keys = len(keys)
        model = ctypes.c_void_p()
        _capi.check(lib, lib.ronn_model_load(os.fsencode(self.path), ctypes.byref(options),
                                             ctypes.byref(model)))
        self._model = model.value
        self._inputs = [self._info(lib.ronn_model_input_info, i)
                        for i in range(lib.ronn_model_num_inputs(self._model))]
        self._outputs = [self._info(lib.ronn_model_output_info, i)
                         for i in range(lib.ronn_model_num_outputs(self._model))]
        self._metadata_json: str = lib.ronn_model_metadata_json(self._model).decode(errors="replace")
        session_options = _capi.SessionOptions()
        lib.ronn_session_options_initialize(ctypes.byref(session_options))
        session_options.num_threads = int(num_threads)
        session_options.spin = (_capi.SPIN_AUTO if spin is None
                                else _capi.SPIN_ALWAYS if spin else _capi.SPIN_NEVER)
        if spin is None and not _env_flag("RONN_SPIN", True):
            session_options.spin = _capi.SPIN_NEVER
        session_options.huge_pages = int(_env_flag("RONN_HUGE_PAGES", bool(session_options.huge_pages)))
        session_options.profile = int(_env_flag("RONN_PROFILE", bool(session_options.profile)))
        session = ctypes.c_void_p()
        _capi.check(lib, lib.ronn_session_create(self._model, ctypes.byref(session_options),
                                                 ctypes.byref(session)))
        self._session = session.value
        self._run_options = _capi.RunOptions()
        lib.ronn_run_options_initialize(ctypes.byref(self._run_options))
        # Argument arrays are built once; a run only fills in data pointers.
        self._input_index = {arg.name: i for i, arg in enumerate(self._inputs)}
        self._input_names = [arg.name.encode(errors="surrogateescape") for arg in self._inputs]
        self._c_inputs = (_capi.Tensor * max(1, len(self._inputs)))()
        self._c_outputs = (_capi.Tensor * max(1, len(self._outputs)))()
        for tensor, arg in zip(self._c_outputs, self._outputs):
            tensor.dtype.code, tensor.dtype.bits, tensor.dtype.lanes = arg._dl
            tensor.ndim = len(arg.shape)
            tensor.shape = (ctypes.c_int64 * max(1, len(arg.shape)))(*arg.shape)

    def _env_keys(self) -> list[str | os.PathLike[str] | bytes]:
        """The public-key files named in RONN_TRUSTED_KEYS (paths separated by ':'), checked."""
        paths: list[str | os.PathLike[str] | bytes] = [
            p for p in os.environ.get("RONN_TRUSTED_KEYS", "").split(":") if p]
        try:
            self._read_keys(paths)
        except RonnRuntimeError as e:
            raise RonnRuntimeError(e.code, f"RONN_TRUSTED_KEYS: {e.message}") from None
        return paths

    def _read_keys(self, keys: Sequence[str | os.PathLike[str] | bytes]) -> Any:
        if isinstance(keys, (str, bytes, os.PathLike)):
            raise RonnRuntimeError("INVALID_ARGUMENT",
                                   "trusted_keys must be a list of public-key files or keys")
        array = (_capi.PublicKey * max(1, len(keys)))()
        for slot, key in zip(array, keys):
            if isinstance(key, bytes):
                if len(key) != 32:
                    raise RonnRuntimeError("INVALID_ARGUMENT",
                                           f"a raw Ed25519 public key is 32 bytes, got {len(key)}")
                ctypes.memmove(slot.bytes, key, 32)
            else:
                _capi.check(self._lib, self._lib.ronn_public_key_read(os.fsencode(key),
                                                                       ctypes.byref(slot)))
        return array if keys else None

    def _info(self, getter: Any, index: int) -> NodeArg:
        info = _capi.TensorInfo()
        _capi.check(self._lib, getter(self._model, index, ctypes.byref(info)))
        return _node_arg(info)

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_metadata(self) -> dict[str, Any]:
        """The compiler's metadata (target, optimisation level, sizes...) as a dict."""
        try:
            parsed = json.loads(self._metadata_json) if self._metadata_json else {}
        except ValueError as e:
            raise RonnRuntimeError("CORRUPT_ARTIFACT", f"{self.path}: metadata is not JSON: {e}") from None
        return parsed if isinstance(parsed, dict) else {"metadata": parsed}

    @property
    def arena_size(self) -> int:
        """Bytes of the per-session arena holding intermediate tensors."""
        self._require_open()
        return int(self._lib.ronn_model_arena_size(self._model))

    def _require_open(self) -> None:
        if self._session is None:
            raise RonnRuntimeError("INVALID_ARGUMENT", "the session is closed")

    def _input_array(self, name: str, value: Any) -> np.ndarray:
        arg = self._inputs[self._input_index[name]]
        array = value if isinstance(value, np.ndarray) else np.asarray(value)
        if arg.dtype is None:
            raise RonnRuntimeError(
                "INVALID_ARGUMENT",
                f"input '{name}' has type {arg.type}, which NumPy cannot hold here (install "
                f"ml_dtypes for bfloat16)")
        if array.dtype != arg.dtype:
            raise RonnRuntimeError(
                "INVALID_ARGUMENT",
                f"input '{name}': expected dtype {arg.dtype}, got {array.dtype}: pass "
                f"np.asarray(value, dtype=np.{arg.dtype}) (no implicit casts)")
        # Zero-copy for C-contiguous arrays; others are made contiguous once.
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)

    def run(self, output_names: Sequence[str] | None, input_feed: Mapping[str, Any],
            run_options: Any = None, *, route: str | None = None) -> list[np.ndarray]:
        """Run the model. Returns the outputs named in `output_names` (all when None), in order.

        `route` (dual artifacts, `ronn-aot compile --dual`): "auto" (the default there: the
        artifact's calibrated router picks System 1 or System 2 for this input), "fast" (System 1)
        or "full" (System 2); `last_route` then says which answered. Plain artifacts take no route."""
        del run_options  # accepted for onnxruntime compatibility
        self._require_open()
        if route is not None and route not in _capi.ROUTES:
            raise RonnRuntimeError("INVALID_ARGUMENT",
                                   f"route must be one of {', '.join(_capi.ROUTES)}, got {route!r}")
        if not isinstance(input_feed, Mapping):
            raise RonnRuntimeError("INVALID_ARGUMENT",
                                   "input_feed must be a dict {input name: numpy array}")
        expected = [a.name for a in self._inputs]
        unknown = [n for n in input_feed if n not in self._input_index]
        missing = [n for n in expected if n not in input_feed]
        if unknown or missing:
            raise RonnRuntimeError(
                "INVALID_ARGUMENT",
                f"inputs do not match the model: unknown {unknown}, missing {missing}; the "
                f"model's inputs are {expected}")
        output_index = {a.name: i for i, a in enumerate(self._outputs)}
        wanted = list(output_index) if output_names is None else list(output_names)
        bad = [n for n in wanted if n not in output_index]
        if bad:
            raise RonnRuntimeError(
                "INVALID_ARGUMENT",
                f"unknown outputs {bad}; the model's outputs are {list(output_index)}")

        arrays = [self._input_array(name, input_feed[name]) for name in expected]
        results = []
        for arg in self._outputs:
            if arg.dtype is None:
                raise RonnRuntimeError("INVALID_ARGUMENT",
                                       f"output '{arg.name}' has type {arg.type}, which NumPy "
                                       f"cannot hold here (install ml_dtypes for bfloat16)")
            results.append(_aligned_empty(arg.shape, arg.dtype))
        # The argument structs are shared by all runs of this session: fill them under the lock.
        with self._lock:
            self._require_open()
            for i, (arg, array) in enumerate(zip(self._inputs, arrays)):
                tensor = self._c_inputs[i]
                tensor.name = self._input_names[i]
                tensor.data = array.ctypes.data
                tensor.dtype.code, tensor.dtype.bits, tensor.dtype.lanes = arg._dl
                # The caller's own shape: the C runtime checks it against the model's.
                tensor.ndim = array.ndim
                tensor.shape = array.ctypes.shape_as(ctypes.c_int64)
            for tensor, result in zip(self._c_outputs, results):
                tensor.data = result.ctypes.data
            self._run_options.route = 0 if route is None else _capi.ROUTES[route]
            status = self._lib.ronn_session_run_with_options(
                self._session, ctypes.byref(self._run_options), self._c_inputs, len(arrays),
                self._c_outputs, len(results))
        _capi.check(self._lib, status)
        return [results[output_index[n]] for n in wanted]

    @property
    def is_dual(self) -> bool:
        """Whether the artifact holds System 1 and System 2 (`ronn-aot compile --dual`)."""
        self._require_open()
        return bool(self._lib.ronn_model_is_dual(self._model))

    def _route_stats(self) -> _capi.RouteStats:
        self._require_open()
        stats = _capi.RouteStats()
        _capi.check(self._lib, self._lib.ronn_session_route_stats(self._session, ctypes.byref(stats)))
        return stats

    @property
    def last_route(self) -> str | None:
        """Which system answered the last successful run of a dual artifact: "fast" (System 1)
        or "full" (System 2); None before any run and for plain artifacts."""
        return {2: "fast", 3: "full"}.get(self._route_stats().last_route)

    @property
    def route_counts(self) -> dict[str, int]:
        """Runs answered by System 1 ("fast") and System 2 ("full"), and how many of the latter
        were escalated from System 1 ("escalated"), since the session was created."""
        stats = self._route_stats()
        return {"fast": stats.fast_runs, "full": stats.full_runs, "escalated": stats.escalated_runs}

    def close(self) -> None:
        """Release the session and the model now instead of at garbage collection."""
        with self._lock:
            if self._session is not None:
                self._lib.ronn_session_release(self._session)
                self._session = None
            if self._model is not None:
                self._lib.ronn_model_release(self._model)
                self._model = None

    def __enter__(self) -> InferenceSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_lock", None) is not None:
            self.close()
