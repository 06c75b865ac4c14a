"""Properties of the artifact file itself: one self-contained stripped library, honest
`inspect` figures, integrity checked at load, no TVM needed to run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ronn_aot
from ronn_aot.artifact.format import Storage
from ronn_aot.cli import main as cli_main
from ronn_aot.artifact.inspect import inspect_artifact
from graphs import CASES

ALLOWED_NEEDED = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2"}


@pytest.fixture(scope="module")
def residual(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    model, feeds = CASES["residual_block"]()
    out = tmp_path_factory.mktemp("art") / "residual.so"
    ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(out))
    return out, feeds


def readelf(args: list[str], path: Path) -> str:
    return subprocess.run(["readelf", *args, str(path)], capture_output=True, text=True, check=True).stdout


def test_needs_only_libc_libm_libpthread_libdl(residual) -> None:
    needed = {line.split("[")[1].rstrip("]") for line in readelf(["-d"], residual[0]).splitlines()
              if "(NEEDED)" in line}
    assert needed <= ALLOWED_NEEDED, needed


def test_stripped_and_exports_only_the_query_symbol(residual) -> None:
    assert ".symtab" not in readelf(["-S", "-W"], residual[0])
    dyn = readelf(["--dyn-syms", "-W"], residual[0]).splitlines()
    defined = [ln.split()[-1] for ln in dyn if " GLOBAL " in ln and " UND " not in ln]
    assert defined == ["ronn_artifact_query"]


def test_inspect_agrees_with_the_file(residual) -> None:
    path, _ = residual
    info = inspect_artifact(path).to_dict()
    assert info["file_bytes"] == path.stat().st_size
    sections = {m[1]: int(m[2], 16) for m in re.finditer(
        r"\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", readelf(["-S", "-W"], path))}
    assert info["code_bytes"] >= sections[".text"] > 0
    assert info["weights_bytes"] == sections[".ronn_weights"]
    plan = inspect_artifact(path).plan
    weights = [t for t in plan.tensors if t.storage == Storage.WEIGHTS]
    assert info["weights_bytes"] >= sum(t.nbytes for t in weights) > 0
    assert info["inputs"] == [{"name": "x", "dtype": "float32", "shape": [1, 8, 10, 10]}]
    assert info["target"] == "x86_64-avx2" and info["abi_version"] == 1 and info["opt_level"] == 3  # the default level
    assert info["arena_bytes"] == plan.arena_size and info["arena_bytes"] % 64 == 0


def test_inspect_cli(residual, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["inspect", str(residual[0]), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["sha256"] == inspect_artifact(residual[0]).footer.sha256.hex()
    assert cli_main(["inspect", str(residual[0])]) == 0
    assert "arena bytes" in capsys.readouterr().out


def test_flipped_weight_byte_is_refused_at_load(residual, tmp_path: Path) -> None:
    import ronn_runtime

    path, _ = residual
    footer = inspect_artifact(path).footer
    data = bytearray(path.read_bytes())
    data[footer.weights_file_offset + footer.weights_size // 2] ^= 0x01
    bad = tmp_path / "flipped.so"
    bad.write_bytes(bytes(data))
    with pytest.raises(ronn_runtime.RonnRuntimeError, match="(?i)integrity|sha-256|corrupt"):
        ronn_runtime.InferenceSession(str(bad))
    with pytest.raises(ronn_aot.ArtifactError, match="SHA-256"):
        inspect_artifact(bad)


def test_runs_where_tvm_cannot_be_imported(residual, tmp_path: Path) -> None:
    from helpers import onnxruntime_outputs

    path, feeds = residual
    np.save(tmp_path / "x.npy", feeds["x"])
    code = (
        "import sys; sys.modules['tvm'] = None; sys.modules['tvm_ffi'] = None; sys.modules['ronn_aot'] = None\n"
        "import numpy as np, ronn_runtime\n"
        f"s = ronn_runtime.InferenceSession({str(path)!r})\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, s.run(None, {{'x': np.load({str(tmp_path / 'x.npy')!r})}})[0])\n"
        "assert 'tvm' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    model, _ = CASES["residual_block"]()
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), onnxruntime_outputs(model, feeds)[0],
                               rtol=1e-4, atol=1e-5)


def _two_matmuls(weights: str) -> tuple[Any, np.ndarray]:
    """x @ W1 @ W2 with either 3 MiB of weights (W1) or a 4 MiB intermediate in the arena."""
    from onnx import helper

    from graphs import make_model, w

    if weights == "weights":
        x, shapes = w(8, 768, seed=1, scale=1.0), ((768, 1024), (1024, 8))
    else:
        x, shapes = w(1024, 64, seed=1, scale=1.0), ((64, 1024), (1024, 8))
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["y"])]
    inits = {"W1": w(*shapes[0], seed=2), "W2": w(*shapes[1], seed=3, scale=0.05)}
    return make_model(nodes, {"x": x}, ["y"], inits), x


def _huge_pages_gained(path: Path, x: np.ndarray, tmp_path: Path, env: dict[str, str] | None = None) -> int:
    """kB of anonymous huge pages a fresh process gains by opening a session on `path`; the
    session's output on `x` is left in tmp_path/y.npy."""
    import os

    np.save(tmp_path / "x.npy", x)
    code = (
        "import numpy as np, re, ronn_runtime\n"
        "def huge():\n"
        "    return int(re.search(r'AnonHugePages:\\s+(\\d+)', open('/proc/self/smaps_rollup').read()).group(1))\n"
        "before = huge()\n"
        f"s = ronn_runtime.InferenceSession({str(path)!r})\n"
        "print(huge() - before)\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, s.run(None, {{'x': np.load({str(tmp_path / 'x.npy')!r})}})[0])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[0])


def _thp_mode() -> str | None:
    """The kernel's transparent huge page mode ("always", "madvise", "never"), None if unknown."""
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not thp.exists() or not Path("/proc/self/smaps_rollup").exists():
        return None
    found = re.search(r"\[(\w+)\]", thp.read_text())
    return found.group(1) if found else None


@pytest.mark.parametrize("large", ["weights", "arena"])
def test_large_weights_and_arena_are_on_huge_pages(tmp_path: Path, large: str) -> None:
    """Weights of 2 MiB or more are copied onto transparent huge pages at load, and an arena of
    2 MiB or more is allocated on them (runtime_min/src/platform/memory.c): the result still
    matches onnxruntime, and the process gained anonymous huge pages where the kernel hands them
    out (the other part of each model stays under 2 MiB, so the pages are that part's)."""
    from helpers import onnxruntime_outputs

    model, x = _two_matmuls(large)
    path = tmp_path / "big.so"
    ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(path))
    gained = _huge_pages_gained(path, x, tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), onnxruntime_outputs(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)
    if _thp_mode() in ("always", "madvise"):
        assert gained >= 2048  # kB: at least one 2 MiB page


def test_huge_pages_can_be_turned_off(tmp_path: Path) -> None:
    """RONN_HUGE_PAGES=0: neither the weights nor the arena go to huge pages (a device short of
    memory keeps one copy of the weights); the result is the same. (Checked where huge pages
    come only when asked for: with THP "always" any large block may get them.)"""
    from helpers import onnxruntime_outputs

    asked_only = _thp_mode() == "madvise"

    model, x = _two_matmuls("weights")
    big_weights = tmp_path / "w.so"
    ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(big_weights))
    gained = _huge_pages_gained(big_weights, x, tmp_path, {"RONN_HUGE_PAGES": "0"})
    assert gained < 2048 or not asked_only
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), onnxruntime_outputs(model, {"x": x})[0],
                               rtol=1e-4, atol=1e-4)
    model, x = _two_matmuls("arena")
    big_arena = tmp_path / "a.so"
    ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(big_arena))
    gained = _huge_pages_gained(big_arena, x, tmp_path, {"RONN_HUGE_PAGES": "0"})
    assert gained < 2048 or not asked_only


def test_large_misaligned_input_is_staged_in_parallel(tmp_path: Path) -> None:
    """A misaligned input of 1 MiB or more is copied into the arena by the session's threads
    (runtime_min/src/session.c: copy_bytes); every part of it must arrive."""
    import ronn_runtime
    from onnx import helper

    from graphs import make_model, w

    x = w(513, 1031, seed=3, scale=1.0)  # 2.02 MiB: the parts do not divide evenly
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": x}, ["y"])
    path = tmp_path / "relu.so"
    ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(path))
    raw = np.empty(x.size + 32, np.float32)
    start = next(o for o in range(16) if (raw.ctypes.data + 4 * o) % 64 == 16)
    misaligned = raw[start:start + x.size].reshape(x.shape)
    misaligned[...] = x
    for threads in (1, 2):
        (y,) = ronn_runtime.InferenceSession(str(path), num_threads=threads).run(None, {"x": misaligned})
        np.testing.assert_array_equal(y, np.maximum(x, 0))


def _parallel_kernel(barrier: bool) -> Any:
    """A parallel TIR kernel, with TVM's barrier after its loop or without."""
    from tvm.script import tirx as T

    if barrier:
        @T.prim_func
        def kernel(a: T.Buffer((64,), "float32"), b: T.Buffer((64,), "float32")):
            with T.attr(0, "pragma_parallel_launch_point", 1):
                with T.attr(0, "pragma_parallel_barrier_when_finish", 1):
                    for i in T.parallel(64):
                        b[i] = a[i] * T.float32(2)
    else:
        @T.prim_func
        def kernel(a: T.Buffer((64,), "float32"), b: T.Buffer((64,), "float32")):
            for i in T.parallel(64):
                b[i] = a[i] * T.float32(2)
    return kernel


@pytest.mark.parametrize("barrier", [False, True])
def test_an_artifact_declares_kernels_that_use_the_parallel_barrier(tmp_path: Path, barrier: bool) -> None:
    # The runtime splits parallel regions of undeclared artifacts into more tasks than threads,
    # which a barrier would deadlock: the declaration must follow the kernels, not a guess.
    import tvm

    from ronn_aot.backends.llvm_cpu import compile_kernels
    from ronn_aot.stages.pack import glue_source, uses_parallel_barrier
    from ronn_aot.targets import get_target

    obj = tmp_path / "k.o"
    mod = tvm.IRModule({"k": _parallel_kernel(barrier).with_attr("global_symbol", "k")})
    assert compile_kernels(mod, ["k"], get_target("x86_64-avx2").tvm_target(), obj)
    assert uses_parallel_barrier([obj]) is barrier
    glue = glue_source(["k"], 8, 0, parallel_barrier=uses_parallel_barrier([obj]))
    assert ("RONN_ARTIFACT_FLAG_PARALLEL_BARRIER" in glue) is barrier


def test_compiled_models_use_no_parallel_barrier(tmp_path: Path) -> None:
    # Every region of the project's own kernels may be split under contention.
    import ronn_aot.stages.pack as pack_stage

    seen: list[bool] = []
    real = pack_stage.uses_parallel_barrier

    def spy(objs: list[Path]) -> bool:
        seen.append(real(objs))
        return seen[-1]

    model, _ = CASES["residual_block"]()
    try:
        pack_stage.uses_parallel_barrier = spy
        ronn_aot.compile(model, ronn_aot.CompileOptions().with_output(tmp_path / "r.so"))
    finally:
        pack_stage.uses_parallel_barrier = real
    assert seen == [False]
